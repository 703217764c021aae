"""The execute-side job wrapper: detect, select, verify, hydrate, exec.

    depotdelivery run [--store S] (--channel C | --image ID) -- julia args...

The fast path (fastpath.py) re-uses a launch plan when nothing changed; this
module is the full path that verifies from scratch and writes that plan.
Nothing here ever writes to the store, and nothing unverified is exec'd:
every failure raises a depotdelivery error whose exit code the batch system
acts on (README.md, "Exit codes").
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from depotdelivery.closedworld import World
from depotdelivery.config import SiteConfig, config_path, load_config
from depotdelivery.detect import Detection, detect
from depotdelivery.errors import ConfigError, StoreUnavailable, UsageError
from depotdelivery.model import parse_utc
from depotdelivery.stores import readable_root

from . import fastpath, nodecache, plan, seen, seennames, timing, verified
from .cvmfs_node import StoreToken, store_token
from .hydrate import clean, hydrate
from .verify import (VerifiedImage, Watch, read_manifest, resolve_image_ref, select_variant, trusted_keys,
                     verify_channel, verify_world)

PLAN_MAX_AGE_S = 24 * 3600  # even an unchanged image is re-verified daily
# Where the job's Julia looks, fixed (README "Verification"): the active
# project (the image's) and the standard library; no `@v#.#`, so Julia never
# probes `environments/` inside any depot of the store.
JULIA_LOAD_PATH = "@:@stdlib"


@dataclass(frozen=True)
class LaunchRequest:
    command: tuple[str, ...]
    store: str = ""
    channel: str = ""
    image: str = ""
    cpuinfo: str = ""


@dataclass(frozen=True)
class Launch:
    """What will be exec'd, and why (for logs, `--dry-run` and tests).
    `plan` is what the fast path stores and re-uses; argv and env are
    plan.compose(plan, command, environment) -- for both paths."""

    plan: dict
    argv: tuple[str, ...]
    env: dict
    image_id: str
    level: str
    detection: Detection
    verified_from_scratch: bool
    depot: str


def _verify_image(cfg: SiteConfig, uid: int, img: VerifiedImage, world: World) -> tuple[Watch, StoreToken | None, bool]:
    """The closed world's watch list: from a trusted record, else verified
    now.  On a CVMFS store the repository's root hash must be the same
    before and after (a new revision in between proves nothing)."""
    for _attempt in range(2):
        token = store_token(img.store_root)
        watch = verified.load_trusted(cfg.cache_dir, uid, img, world, token)
        if watch is not None:
            return watch, token, False
        watch = verify_world(img, world)
        if store_token(img.store_root) == token:
            return watch, token, True
    raise StoreUnavailable(f"store {img.store_root} changed revision twice while it was verified; retry")


def prepare(req: LaunchRequest, *, cfg: SiteConfig | None = None, now: datetime | None = None,
            write_plan: bool = True) -> Launch:
    """Verify everything and hydrate; return what to exec (does not exec)."""
    if not req.command:
        raise UsageError("no command to run: depotdelivery run ... -- julia script.jl")
    cfg = cfg or load_config()
    now = now or datetime.now(timezone.utc)
    det = detect(cpuinfo=req.cpuinfo or None, cap=cfg.max_level)
    store_root = os.path.realpath(readable_root(req.store or cfg.default_store()))
    anchors = trusted_keys(cfg.trusted_keys, cfg.revoked_keys, where=cfg.path)
    uid = os.getuid()
    own = nodecache.user_dir(cfg.cache_dir, uid, create=True)
    node_wide = seen.node_wide_dir(cfg.cache_dir)
    seen_dirs = [d for d in (node_wide, own) if d]
    channel_watch = seen_watch = None
    expires = time.time() + PLAN_MAX_AGE_S
    channel = req.channel or ("" if req.image else cfg.default_channel)
    if channel:
        highest = seen.highest_seen(seen_dirs, store_root, channel, anchors)
        rec, data, rec_path = verify_channel(store_root, channel, anchors, now=now, highest_seen=highest)
        seen.remember(node_wide or own, store_root, channel, rec.version, data)
        image_id = rec.image
        channel_watch = (os.path.dirname(rec_path), os.path.basename(rec_path))
        if node_wide:
            seen_watch = (node_wide, seennames.prefix(store_root, channel), rec.version)
        expires = min(expires, parse_utc(rec.expires).timestamp())
        img = read_manifest(store_root, image_id, anchors, named_by_store=True)
    elif req.image:
        image_id = resolve_image_ref(store_root, req.image)
        img = read_manifest(store_root, image_id, anchors, named_by_store=False)
    else:
        raise UsageError("no image given: pass --channel NAME or --image ID "
                         "(or set default_channel in the site config)")
    level = select_variant(img.manifest, det.level, why=det.reason)
    variant = img.manifest.variant(level.name)
    world = img.world(level.name)
    watch, token, from_scratch = _verify_image(cfg, uid, img, world)
    timing.mark("verify")
    if from_scratch and own:
        verified.store(own, img, world, watch, token, public=(uid == 0))
    sysimage = os.path.join(img.image_dir, variant.sysimage)
    project = os.path.join(img.image_dir, "project")
    julia = shutil.which(cfg.julia)
    if not julia:
        raise ConfigError(f"Julia not found at {cfg.julia!r} on this node; "
                          "set [julia] executable in the site config")
    depot = _hydrate_somewhere(own, uid, image_id, julia=julia, sysimage=sysimage, project=project)
    timing.mark("hydrate")
    if depot != os.path.join(own or "", "depots", image_id):
        own = None  # the cache is unusable: no plan either, verify again next time
    if own:
        clean(own, max_age_days=cfg.cache_max_age_days, max_bytes=cfg.cache_max_bytes, keep=image_id)
    env_add = dict(cfg.julia_env)
    env_add.setdefault("JULIA_PKG_SERVER", "")
    env_add.update({
        "JULIA_DEPOT_PATH": os.pathsep.join([depot, os.path.join(img.image_dir, "depot"),
                                             os.path.join(store_root, "pool")]),
        "JULIA_LOAD_PATH": JULIA_LOAD_PATH, "JULIA_PROJECT": project,
        # Nothing is ever fetched on a node: Pkg stays offline.
        "JULIA_PKG_OFFLINE": "true",
        "DEPOTDELIVERY_IMAGE_ID": image_id, "DEPOTDELIVERY_VARIANT": level.name,
        "DEPOTDELIVERY_SYSIMAGE": sysimage, "DEPOTDELIVERY_CPU_TARGET": variant.cpu_target,
        "DEPOTDELIVERY_NODE_LEVEL": det.level.name})
    env_add.pop("PATH", None)
    the_plan = {"argv": (julia, "-J", sysimage, f"--project={project}"), "env": env_add,
                "path": os.path.join(depot, "bin")}
    if own and write_plan:
        key = fastpath.request_key(config_path(), req.store, req.channel, req.image, req.cpuinfo,
                                   plan.is_julia(req.command))
        site_files = [(p, fastpath.stat_key(p)) for p in (cfg.path, *cfg.trusted_keys) if os.path.exists(p)]
        stored = {"v": fastpath.PLAN_VERSION, "request": key, "watch": list(watch) + site_files,
                  "store_token": token, "cpu_flags": fastpath.cpu_flags_line(req.cpuinfo or None),
                  "expires": expires, "channel": channel_watch, "seen": seen_watch, "depot": depot,
                  "launch": the_plan}
        nodecache.store(fastpath.plan_path(own, key), stored, version=fastpath.PLAN_VERSION)
    argv, env = plan.compose(the_plan, req.command, os.environ)
    return Launch(plan=the_plan, argv=tuple(argv), env=env, image_id=image_id, level=level.name,
                  detection=det, verified_from_scratch=from_scratch, depot=depot)


def _hydrate_somewhere(own: str | None, uid: int, image_id: str, **kw) -> str:
    """The user's cache folder, else the job's scratch space (a full or
    unwritable cache costs speed, never correctness)."""
    if own:
        try:
            return hydrate(own, image_id, **kw)
        except OSError:
            pass
    try:
        return hydrate(_scratch_base(uid), image_id, **kw)
    except OSError as e:
        from depotdelivery.errors import StoreUnavailable
        raise StoreUnavailable(f"cannot make a writable depot on this node (cache and scratch: {e.strerror}); "
                               "free space in the node cache or TMPDIR") from None


def _scratch_base(uid: int) -> str:
    """No usable cache folder: hydrate into the job's scratch space instead."""
    parent = (os.environ.get("_CONDOR_SCRATCH_DIR") or os.environ.get("TMPDIR") or tempfile.gettempdir())
    return tempfile.mkdtemp(prefix=f"depotdelivery-{uid}-", dir=parent)


def execute(launch: Launch) -> None:
    try:
        plan.execute(list(launch.argv), launch.env, "full")
    except OSError as e:
        raise UsageError(f"cannot exec {launch.argv[0]}: {e.strerror}") from None
