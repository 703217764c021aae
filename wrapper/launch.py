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
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from depotdelivery import channels
from depotdelivery.config import SiteConfig, config_path, load_config
from depotdelivery.detect import Detection, detect
from depotdelivery.errors import ConfigError, UsageError
from depotdelivery.model import parse_utc
from depotdelivery.stores import readable_root

from . import fastpath, nodecache, verified
from .hydrate import clean, hydrate
from .verify import (check_no_extra_files, read_manifest, resolve_image_ref, select_variant,
                     trusted_keys, verify_channel, verify_files)

PLAN_MAX_AGE_S = 24 * 3600  # even an unchanged image is re-verified daily


@dataclass(frozen=True)
class LaunchRequest:
    command: tuple[str, ...]
    store: str = ""
    channel: str = ""
    image: str = ""
    cpuinfo: str = ""


@dataclass(frozen=True)
class Launch:
    """What will be exec'd, and why (for logs, `--dry-run` and tests)."""

    argv: tuple[str, ...]
    env: dict
    image_id: str
    level: str
    detection: Detection
    verified_from_scratch: bool
    depot: str


def _seen_path(base: str) -> str:
    return os.path.join(base, "channels-seen")


def _highest_seen(cfg: SiteConfig, uid: int, store_root: str, name: str) -> int:
    best = 0
    for base in nodecache.trusted_dirs(cfg.cache_dir, uid):
        owner = uid if base.endswith(f"u{uid}") else 0
        rec = nodecache.load(_seen_path(base), (owner,))
        if rec:
            best = max(best, int(rec.get("seen", {}).get(f"{store_root}\0{name}", 0)))
    return best


def _remember_seen(base: str | None, store_root: str, name: str, version: int, uid: int) -> None:
    if base is None:
        return
    rec = nodecache.load(_seen_path(base), (uid,)) or {}
    seen = dict(rec.get("seen", {}))
    key = f"{store_root}\0{name}"
    if seen.get(key, 0) < version:
        seen[key] = version
        nodecache.store(_seen_path(base), {"seen": seen})


def prepare(req: LaunchRequest, *, cfg: SiteConfig | None = None, now: datetime | None = None,
            write_plan: bool = True) -> Launch:
    """Verify everything and hydrate; return what to exec (does not exec)."""
    if not req.command:
        raise UsageError("no command to run: depotdelivery run ... -- julia script.jl")
    cfg = cfg or load_config()
    now = now or datetime.now(timezone.utc)
    det = detect(cpuinfo=req.cpuinfo or None, cap=cfg.max_level)
    store_root = os.path.realpath(readable_root(req.store or cfg.default_store()))
    keys = trusted_keys(cfg.trusted_keys, cfg.revoked_keys)
    if not keys:
        raise ConfigError(f"{cfg.path}: no trusted_keys (or all revoked): nothing can be verified; "
                          "list the publisher's .pub files in trusted_keys")
    uid = os.getuid()
    own = nodecache.user_dir(cfg.cache_dir, uid, create=True)
    channel_watch = None
    expires = time.time() + PLAN_MAX_AGE_S
    channel = req.channel or ("" if req.image else cfg.default_channel)
    if channel:
        rec, rec_path = verify_channel(store_root, channel, keys, now=now,
                                       highest_seen=_highest_seen(cfg, uid, store_root, channel))
        _remember_seen(own, store_root, channel, rec.version, uid)
        image_id = rec.image
        channel_watch = (os.path.dirname(rec_path), os.path.basename(rec_path))
        expires = min(expires, parse_utc(rec.expires).timestamp())
    elif req.image:
        image_id = resolve_image_ref(store_root, req.image)
    else:
        raise UsageError("no image given: pass --channel NAME or --image ID "
                         "(or set default_channel in the site config)")
    img = read_manifest(store_root, image_id, keys)
    level = select_variant(img.manifest, det.level, why=det.reason)
    variant = img.manifest.variant(level.name)
    files = img.manifest.files_for(level.name)
    # Root's Prolog (or this user) may have hashed exactly these files already.
    walked = verified.load_trusted(cfg.cache_dir, uid, img, level.name, files)
    from_scratch = walked is None
    if walked is None:
        files = verify_files(img, level.name)
        walked = check_no_extra_files(img, files)
        if own:
            verified.store(own, img, level.name, files, walked, public=(uid == 0))
    sysimage = os.path.join(img.image_dir, variant.sysimage)
    project = os.path.join(img.image_dir, "project")
    julia = shutil.which(cfg.julia)
    if not julia:
        raise ConfigError(f"Julia not found at {cfg.julia!r} on this node; "
                          "set [julia] executable in the site config")
    depot = _hydrate_somewhere(own, uid, image_id, julia=julia, sysimage=sysimage, project=project)
    if depot != os.path.join(own or "", "depots", image_id):
        own = None  # the cache is unusable: no plan either, verify again next time
    if own:
        clean(own, max_age_days=cfg.cache_max_age_days, max_bytes=cfg.cache_max_bytes, keep=image_id)
    depot_path = os.pathsep.join([depot, os.path.join(img.image_dir, "depot"),
                                  os.path.join(store_root, "pool")])
    env_add = dict(cfg.julia_env)
    env_add.setdefault("JULIA_PKG_SERVER", "")
    env_add.update({"JULIA_DEPOT_PATH": depot_path, "JULIA_PROJECT": project,
                    "DEPOTDELIVERY_IMAGE_ID": image_id, "DEPOTDELIVERY_VARIANT": level.name,
                    "DEPOTDELIVERY_SYSIMAGE": sysimage, "DEPOTDELIVERY_CPU_TARGET": variant.cpu_target,
                    "DEPOTDELIVERY_NODE_LEVEL": det.level.name, "PATH": os.path.join(depot, "bin")})
    is_julia = os.path.basename(req.command[0]) == "julia"
    prefix = (julia, "-J", sysimage, f"--project={project}")
    argv = prefix + tuple(req.command[1:]) if is_julia else tuple(req.command)
    if own and write_plan:
        key = fastpath.request_key(config_path(), req.store, req.channel, req.image, req.cpuinfo, is_julia)
        watch = [(p, nodecache.stat_key(p)) for p in
                 [img.path_of(f) for f in files] + walked +
                 [os.path.join(img.image_dir, "manifest.json"), os.path.join(img.image_dir, "manifest.sig"),
                  cfg.path, *cfg.trusted_keys] + ([os.path.join(*channel_watch)] if channel_watch else [])
                 if os.path.exists(p)]
        plan = {"v": fastpath.PLAN_VERSION, "request": key, "watch": watch,
                "cpu_flags": fastpath.cpu_flags_line(req.cpuinfo or None), "expires": expires,
                "channel": channel_watch, "depot": depot, "argv": prefix, "env": env_add}
        nodecache.store(fastpath.plan_path(own, key), plan, version=fastpath.PLAN_VERSION)
    env = dict(os.environ)
    env.update({k: v for k, v in env_add.items() if k != "PATH"})
    env["PATH"] = env_add["PATH"] + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")
    return Launch(argv=argv, env=env, image_id=image_id, level=level.name, detection=det,
                  verified_from_scratch=from_scratch, depot=depot)


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
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if launch.argv and os.path.isabs(launch.argv[0]):
            os.execve(launch.argv[0], list(launch.argv), launch.env)
        os.execvpe(launch.argv[0], list(launch.argv), launch.env)
    except OSError as e:
        raise UsageError(f"cannot exec {launch.argv[0]}: {e.strerror}") from None
