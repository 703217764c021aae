"""The per-launch fast path: re-use a launch plan the full wrapper wrote.

This module imports only built-in modules (os, sys, marshal, time, zlib),
depotdelivery/defaults.py (constants, no imports), depotdelivery/cpuinfo.py,
seennames.py and plan.py, which builds and execs the job exactly as the full
path does:
Python's start is ~10 ms and the wrapper's whole budget is 20 ms, so the
common case (an image this user or root already verified on this node) must
not pay for tomllib, json, dataclasses or PyNaCl.

A plan is believed only if *everything* it was computed from is unchanged:
the request, the site config file, the trusted key files, the CPU flags and
overrides, the channel's newest record, no newer record seen on this node
by anyone, the stat of every verified file and folder (size, mtime, ctime,
inode, device, mode; ctime cannot be set by users) as taken through the
descriptor that was hashed, every path of the closed world still absent,
and on a CVMFS store the repository's root hash.  Any doubt -> return None,
and the full wrapper verifies from scratch (DEPOTDELIVERY_DEBUG=1 says why).
A plan lives in the user's own 0700 folder (or root's) and is
ignored if anyone else could have written it.
"""

from __future__ import annotations

import marshal
import os
import sys
import time
import zlib

from depotdelivery.cpuinfo import read_first_cpu
from depotdelivery.defaults import DEFAULT_CACHE_DIR, DEFAULT_CONFIG

from . import plan as launch_plan
from . import seennames, timing

TYPE_CHECKING = False  # the typing module costs milliseconds; mypy sets this itself
if TYPE_CHECKING:  # annotations only: nothing is imported at run time
    from collections.abc import Iterable, Mapping
    from typing import Any

    RequestKey = tuple[str, str, str, str, str, str, str, bool]
    Request = tuple[RequestKey, str, list[str]]
    StatKey = tuple[int, int, int, int, int, int]

PLAN_VERSION = 4


def config_cache_dir(config_path: str) -> str | None:
    """The top-level `cache_dir = "..."` of the site config, found without a
    TOML parser; None when the file is unusual (the full wrapper decides)."""
    try:
        with open(config_path, "rb") as f:
            data = f.read(1 << 16)
    except OSError:
        return DEFAULT_CACHE_DIR if not os.path.exists(config_path) else None
    # Multi-line strings could hide or fake a line; a quoted key is the same
    # key to TOML.  Such a file is left to the full wrapper's TOML parser.
    if b'"""' in data or b"'''" in data or len(data) >= 1 << 16:
        return None
    for raw in data.split(b"\n"):
        line = raw.strip()
        if line.startswith(b"["):
            break
        if line.startswith((b'"cache_dir"', b"'cache_dir'")):
            return None
        if line.startswith(b"cache_dir"):
            key, eq, value = line.partition(b"=")
            value = value.strip()
            if (key.strip() != b"cache_dir" or not eq or len(value) < 2 or value[:1] != b'"'
                    or value.count(b'"') != 2 or b"\\" in value or not value.endswith(b'"')):
                return None
            return value[1:-1].decode("utf-8", "replace")
    return DEFAULT_CACHE_DIR


def request_key(config_path: str, store: str, channel: str, image: str, cpuinfo: str,
                command_is_julia: bool) -> RequestKey:
    env = os.environ
    return (config_path, store or "", channel or "", image or "", cpuinfo or "",
            env.get("DEPOTDELIVERY_CPUINFO", ""), env.get("DEPOTDELIVERY_LEVEL", ""),
            bool(command_is_julia))


def plan_path(base: str, key: RequestKey) -> str:
    return os.path.join(base, "plans", "%08x.plan" % (zlib.crc32(repr(key).encode()) & 0xFFFFFFFF))


def stat_key(path: str) -> StatKey:
    st = os.lstat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_mode)


def load_owned(path: str, owners: tuple[int, ...], version: int) -> dict[str, Any] | None:
    """Unmarshal a node-local record if one of `owners` owns it and no one
    else can write it; None otherwise (missing, foreign, corrupt, old)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid not in owners or st.st_mode & 0o022:
            return None
        data = os.read(fd, 16 << 20)
    finally:
        os.close(fd)
    try:
        obj = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return None
    return obj if isinstance(obj, dict) and obj.get("v") == version else None


def safe_dir(path: str, owner: int) -> bool:
    """A real folder owned by `owner` that no one else can write into."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (st.st_mode & 0o170000) == 0o040000 and st.st_uid == owner and not st.st_mode & 0o022


def shared_cache(cache_dir: str) -> bool:
    """The site's cache folder can hold every user's folder only if root owns
    it and, when others may write into it, it is sticky (like /tmp): then no
    user can take another's u<uid> name or remove root's records."""
    try:
        st = os.lstat(cache_dir)
    except OSError:
        return False
    return ((st.st_mode & 0o170000) == 0o040000 and st.st_uid == 0
            and (not st.st_mode & 0o022 or bool(st.st_mode & 0o1000)))


def fallback_base(uid: int) -> str:
    """Where a user's cache lives when the site's cache folder is missing or
    not root's: one private folder per user on local disk, re-used by every
    launch (never a folder per job)."""
    top = os.environ.get("DEPOTDELIVERY_FALLBACK_CACHE") or "/var/tmp"
    return os.path.join(top, "depotdelivery-u%d" % uid)


def user_base(cache_dir: str, uid: int) -> str:
    """This user's cache folder (it may not exist yet): in the site's cache
    folder when that is root's and the user has or can make a folder there,
    else the user's fallback folder."""
    own = os.path.join(cache_dir, "u%d" % uid)
    if shared_cache(cache_dir) and (os.path.isdir(own) or os.access(cache_dir, os.W_OK)):
        return own
    return fallback_base(uid)


def cpu_flags_line(cpuinfo: str | None) -> bytes | None:
    path = cpuinfo or os.environ.get("DEPOTDELIVERY_CPUINFO") or "/proc/cpuinfo"
    try:
        data = read_first_cpu(path)
    except OSError:
        return None
    i = data.find(b"\nflags")
    if i < 0:
        return None
    j = data.find(b"\n", i + 1)
    return data[i + 1: j if j > 0 else len(data)]


def debug(reason: str) -> None:
    """One line on stderr with DEPOTDELIVERY_DEBUG=1; free when off."""
    if os.environ.get("DEPOTDELIVERY_DEBUG") == "1":
        sys.stderr.write("depotdelivery: debug: %s\n" % reason)


def find_plan(key: RequestKey, cpuinfo: str) -> dict[str, Any] | None:
    """-> the stored launch plan to execute, or None."""
    config_path = key[0]
    cache_dir = config_cache_dir(config_path)
    if cache_dir is None:
        debug("no plan: the site config's cache_dir is not a plain quoted string")
        return None
    uid = os.getuid()
    candidates = [(user_base(cache_dir, uid), uid)]
    if uid != 0 and shared_cache(cache_dir):
        candidates.append((os.path.join(cache_dir, "u0"), 0))
    for base, owner in candidates:
        if not safe_dir(base, owner):
            continue
        plan = load_owned(plan_path(base, key), (owner,), PLAN_VERSION)
        if plan is None:
            continue
        why = plan_fails(plan, key, cpuinfo)
        if why is None:
            launch: dict[str, Any] = plan["launch"]
            return launch
        debug("plan in %s not used: %s" % (base, why))
    debug("no usable launch plan for this request: verifying")
    return None


def watch_fails(watch: Iterable[tuple[str, tuple[int, ...] | None]]) -> str | None:
    """None if every (path, key) still holds, else the first path that does not.
    key None: must be absent; 3 items: same folder (inode, device, type);
    6 items: the full stat."""
    for path, sk in watch:
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            if sk is None:
                continue
            return path
        if sk is None:
            return path
        if len(sk) == 3:
            if (st.st_ino, st.st_dev, st.st_mode) != sk:
                return path
        elif (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_mode) != sk:
            return path
    return None


def cvmfs_root_hash(root: str) -> bytes | None:
    """The repository's root hash (CVMFS clients serve it as an extended
    attribute of any directory); None if unreadable."""
    try:
        return os.getxattr(root, "user.root_hash")
    except OSError:
        return None


def plan_fails(plan: dict[str, Any], key: RequestKey, cpuinfo: str) -> str | None:
    """None if the plan holds, else the reason it does not."""
    try:
        if plan["request"] != key:
            return "another request"
        token = plan.get("store_token")
        if token:
            root, dev, root_hash = token
            if os.stat(root).st_dev != dev or cvmfs_root_hash(root) != root_hash:
                return "the CVMFS repository has a new revision"
        bad = watch_fails(plan["watch"])
        if bad is not None:
            return "%s changed" % bad
        if plan["cpu_flags"] != cpu_flags_line(cpuinfo):
            return "CPU flags changed"
        if time.time() >= plan["expires"]:
            return "expired"
        ch = plan.get("channel")
        if ch:
            chdir, newest = ch
            names = [n for n in os.listdir(chdir) if n.endswith(".json") and len(n) == 15]
            if not names or max(names) != newest:
                return "the channel has another newest record"
        seen = plan.get("seen")
        if seen:
            folder, pre, version = seen
            for n in os.listdir(folder):
                if seennames.version_in(n, pre) > version:
                    return "a newer channel record was seen on this node"
        if not os.path.isdir(plan["depot"]):
            return "the writable depot is gone"
    except (OSError, KeyError, TypeError, ValueError) as e:
        return "unreadable (%s)" % e
    return None


def job_ref(channel: str, image: str, environ: Mapping[str, str] = os.environ) -> tuple[str, str]:
    """Which image the job asked for: the command line, else the id pinned at
    submit time (DEPOTDELIVERY_PIN from the Slurm TaskProlog, JuliaImageId in
    HTCondor's job ad), else DEPOTDELIVERY_CHANNEL.  A pin always wins over a
    channel: a job runs what was resolved when it was submitted.
    -> (channel, image)"""
    if channel or image:
        return channel, image
    pin = environ.get("DEPOTDELIVERY_PIN", "")
    if pin:
        return "", pin
    ad = environ.get("_CONDOR_JOB_AD")
    if ad:
        pin = condor_ad_pin(ad)
        if pin:
            return "", pin
    return environ.get("DEPOTDELIVERY_CHANNEL", ""), ""


def condor_job_wants_image(environ: Mapping[str, str] = os.environ) -> bool | None:
    """Under HTCondor's USER_JOB_WRAPPER every job comes through here, Julia or
    not: does this job's ad ask for an image (JuliaImage or JuliaImageId)?
    None when this is not an HTCondor job (or its ad cannot be read)."""
    path = environ.get("_CONDOR_JOB_AD")
    ad = _read_condor_ad(path) if path else None
    return None if ad is None else ad[0]


def condor_ad_pin(path: str) -> str:
    """JuliaImageId from a job ad file: only a plain 64-hex-digit string counts."""
    ad = _read_condor_ad(path)
    return "" if ad is None else ad[1]


def _read_condor_ad(path: str) -> tuple[bool, str] | None:
    """One scan of a job ad file -> (names an image?, pinned id or ""), or
    None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 20)
    except OSError:
        return None
    wants, pin, pin_seen = False, "", False
    for line in data.split(b"\n"):
        name, eq, value = line.partition(b"=")
        name = name.strip().lower()
        if name == b"juliaimage":
            wants = True
        elif name == b"juliaimageid":
            wants = True
            if eq and not pin_seen:  # the first JuliaImageId decides
                pin_seen = True
                v = value.strip()
                if (len(v) == 66 and v[:1] == b'"' and v[-1:] == b'"'
                        and all(c in b"0123456789abcdef" for c in v[1:-1])):
                    pin = v[1:-1].decode()
    return wants, pin


def request(store: str, channel: str, image: str, cpuinfo: str, command: list[str]) -> Request:
    """A launch as the fast path sees it: (plan key, cpuinfo, command)."""
    channel, image = job_ref(channel, image)
    config_path = os.environ.get("DEPOTDELIVERY_CONFIG") or DEFAULT_CONFIG
    return (request_key(config_path, store, channel, image, cpuinfo, launch_plan.is_julia(command)),
            cpuinfo, command)


def wait_for_peer(req: Request) -> int | None:
    """Serialize first launches of the same request by one user: take a lock
    next to the plan, so when a hundred jobs start at once one verifies and
    the others re-use its plan.  Returns the held lock's fd (closed at exec
    or exit), or None when there is no usable cache folder."""
    import fcntl
    key = req[0]
    cache_dir = config_cache_dir(key[0])
    if cache_dir is None:
        return None
    uid = os.getuid()
    base = user_base(cache_dir, uid)
    try:
        if not os.path.isdir(base):
            os.mkdir(base, 0o700)
        if not safe_dir(base, uid):
            return None
        os.makedirs(os.path.join(base, "plans"), mode=0o700, exist_ok=True)
        fd = os.open(plan_path(base, key) + ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        return None
    return fd


def try_exec(req: Request, way: str = "fast") -> None:
    """Exec the job if a valid plan exists; return only when there is none.
    `way`: how this launch got here, for DEPOTDELIVERY_TIMING."""
    key, cpuinfo, command = req
    found = find_plan(key, cpuinfo)
    if found is None:
        return
    timing.mark("plan")
    argv, env = launch_plan.compose(found, command, os.environ)
    try:
        launch_plan.execute(argv, env, way)
    except OSError:
        return  # let the full wrapper report it properly
