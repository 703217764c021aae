"""The per-launch fast path: re-use a launch plan the full wrapper wrote.

This module imports only built-in modules (os, sys, marshal, time, zlib):
Python's start is ~10 ms and the wrapper's whole budget is 20 ms, so the
common case (an image this user or root already verified on this node) must
not pay for tomllib, json, dataclasses or PyNaCl.

A plan is believed only if *everything* it was computed from is unchanged:
the request, the site config file, the trusted key files, the CPU flags and
overrides, the channel's newest record, and the stat of every verified file
and folder (size, mtime, ctime, inode, device, mode; ctime cannot be set by
users).  Any doubt -> return None, and the full wrapper verifies from
scratch.  A plan lives in the user's own 0700 folder (or root's) and is
ignored if anyone else could have written it.
"""

import marshal
import os
import sys
import time
import zlib

PLAN_VERSION = 3
DEFAULT_CONFIG = "/etc/depotdelivery/site.toml"
DEFAULT_CACHE_DIR = "/var/cache/depotdelivery"


def config_cache_dir(config_path):
    """The top-level `cache_dir = "..."` of the site config, found without a
    TOML parser; None when the file is unusual (the full wrapper decides)."""
    try:
        with open(config_path, "rb") as f:
            data = f.read(1 << 16)
    except OSError:
        return DEFAULT_CACHE_DIR if not os.path.exists(config_path) else None
    for raw in data.split(b"\n"):
        line = raw.strip()
        if line.startswith(b"["):
            break
        if line.startswith(b"cache_dir"):
            key, eq, value = line.partition(b"=")
            value = value.strip()
            if (key.strip() != b"cache_dir" or not eq or len(value) < 2 or value[:1] != b'"'
                    or value.count(b'"') != 2 or b"\\" in value or not value.endswith(b'"')):
                return None
            return value[1:-1].decode("utf-8", "replace")
    return DEFAULT_CACHE_DIR


def request_key(config_path, store, channel, image, cpuinfo, command_is_julia):
    env = os.environ
    return (config_path, store or "", channel or "", image or "", cpuinfo or "",
            env.get("DEPOTDELIVERY_CPUINFO", ""), env.get("DEPOTDELIVERY_LEVEL", ""),
            bool(command_is_julia))


def plan_path(base, key):
    return os.path.join(base, "plans", "%08x.plan" % (zlib.crc32(repr(key).encode()) & 0xFFFFFFFF))


def stat_key(path):
    st = os.lstat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_mode)


def load_owned(path, owners, version):
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


def safe_dir(path, owner):
    """A real folder owned by `owner` that no one else can write into."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (st.st_mode & 0o170000) == 0o040000 and st.st_uid == owner and not st.st_mode & 0o022


def cpu_flags_line(cpuinfo):
    path = cpuinfo or os.environ.get("DEPOTDELIVERY_CPUINFO") or "/proc/cpuinfo"
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 20)
    except OSError:
        return None
    i = data.find(b"\nflags")
    if i < 0:
        return None
    j = data.find(b"\n", i + 1)
    return data[i + 1: j if j > 0 else len(data)]


def find_plan(key, cpuinfo):
    """-> (argv, env) to exec, or None."""
    config_path = key[0]
    cache_dir = config_cache_dir(config_path)
    if cache_dir is None:
        return None
    uid = os.getuid()
    candidates = [(os.path.join(cache_dir, "u%d" % uid), uid)]
    if uid != 0:
        candidates.append((os.path.join(cache_dir, "u0"), 0))
    for base, owner in candidates:
        if not safe_dir(base, owner):
            continue
        plan = load_owned(plan_path(base, key), (owner,), PLAN_VERSION)
        if plan is not None and plan_holds(plan, key, cpuinfo):
            return plan["argv"], plan["env"]
    return None


def plan_holds(plan, key, cpuinfo):
    try:
        if plan["request"] != key:
            return False
        for path, sk in plan["watch"]:
            if stat_key(path) != sk:
                return False
        if plan["cpu_flags"] != cpu_flags_line(cpuinfo):
            return False
        if time.time() >= plan["expires"]:
            return False
        ch = plan.get("channel")
        if ch:
            chdir, newest = ch
            names = [n for n in os.listdir(chdir) if n.endswith(".json") and len(n) == 15]
            if not names or max(names) != newest:
                return False
        if not os.path.isdir(plan["depot"]):
            return False
    except (OSError, KeyError, TypeError, ValueError):
        return False
    return True


def job_ref(channel, image, environ=os.environ):
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


def condor_job_wants_image(environ=os.environ):
    """Under HTCondor's USER_JOB_WRAPPER every job comes through here, Julia or
    not: does this job's ad ask for an image (JuliaImage or JuliaImageId)?
    None when this is not an HTCondor job (or its ad cannot be read)."""
    path = environ.get("_CONDOR_JOB_AD")
    ad = _read_condor_ad(path) if path else None
    return None if ad is None else ad[0]


def condor_ad_pin(path):
    """JuliaImageId from a job ad file: only a plain 64-hex-digit string counts."""
    ad = _read_condor_ad(path)
    return "" if ad is None else ad[1]


def _read_condor_ad(path):
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


def request(store, channel, image, cpuinfo, command):
    """A launch as the fast path sees it: (plan key, cpuinfo, command)."""
    channel, image = job_ref(channel, image)
    config_path = os.environ.get("DEPOTDELIVERY_CONFIG") or DEFAULT_CONFIG
    is_julia = bool(command) and os.path.basename(command[0]) == "julia"
    return request_key(config_path, store, channel, image, cpuinfo, is_julia), cpuinfo, command


def wait_for_peer(req):
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
    base = os.path.join(cache_dir, "u%d" % uid)
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


def try_exec(req):
    """Exec the job if a valid plan exists; return only when there is none."""
    key, cpuinfo, command = req
    is_julia = key[-1]
    found = find_plan(key, cpuinfo)
    if found is None:
        return
    prefix, env_add = found
    argv = list(prefix) + list(command[1:]) if is_julia else list(command)
    env = dict(os.environ)
    for k, v in env_add.items():
        if k == "PATH" and not is_julia:
            v = v + os.pathsep + env.get("PATH", "/usr/bin:/bin")
        env[k] = v
    sys.stdout.flush()
    try:
        os.execve(argv[0], argv, env) if is_julia else os.execvpe(argv[0], argv, env)
    except OSError:
        return  # let the full wrapper report it properly
