"""The node-local writable depot stacked over the read-only image.

``JULIA_DEPOT_PATH=<node-local>:<image depot>:<store pool>``: Julia writes
only to the first entry (logs, caches of anything the job compiles), reads
the image's caches and the pool's sources, and never writes to the store.

One depot per user and image, made on first use in a temporary folder and
renamed into place under a lock, so a hundred jobs starting at once on one
node make it once and never see it half-made.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time

SHIM = """#!/bin/sh
# Written by depotdelivery: `julia` inside a job runs the verified image.
exec {julia} -J {sysimage} --project={project} "$@"
"""


def _shquote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def hydrate(base: str, image_id: str, *, julia: str, sysimage: str, project: str) -> str:
    """Return the depot folder for `image_id` under `base`, making it if needed."""
    depot = os.path.join(base, "depots", image_id)
    if os.path.isdir(depot):
        try:
            os.utime(depot)  # last use, for cleaning by age
        except OSError:
            pass
        return depot
    os.makedirs(os.path.join(base, "depots"), mode=0o700, exist_ok=True)
    lock_path = os.path.join(base, "depots", f".{image_id}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.path.isdir(depot):  # another job made it while we waited
            return depot
        tmp = os.path.join(base, "depots", f".tmp-{image_id[:16]}-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        for sub in ("logs", "compiled", "bin"):
            os.makedirs(os.path.join(tmp, sub), mode=0o700)
        shim = os.path.join(tmp, "bin", "julia")
        with open(shim, "w") as f:
            f.write(SHIM.format(julia=_shquote(julia), sysimage=_shquote(sysimage),
                                project=_shquote(project)))
        os.chmod(shim, 0o755)
        os.rename(tmp, depot)
    finally:
        os.close(fd)
    return depot


def _size(path: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for n in files:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_size
            except OSError:
                pass
    return total


def clean(base: str, *, max_age_days: int, max_bytes: int, keep: str = "",
          now: float | None = None) -> list[str]:
    """Remove hydrated depots unused for `max_age_days`, then the least
    recently used ones until the total is under `max_bytes`.  Depots in use
    by a running job are safe to remove: Julia only appends logs and caches,
    which it recreates."""
    root = os.path.join(base, "depots")
    now = now or time.time()
    try:
        names = [n for n in os.listdir(root) if not n.startswith(".")]
    except OSError:
        return []
    entries = []
    for n in names:
        p = os.path.join(root, n)
        try:
            entries.append((os.stat(p).st_mtime, p, _size(p)))
        except OSError:
            continue
    removed = []
    entries.sort()
    total = sum(e[2] for e in entries)
    for mtime, p, size in entries:
        if os.path.basename(p) == keep:
            continue
        if now - mtime > max_age_days * 86400 or total > max_bytes:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
            total -= size
    return removed
