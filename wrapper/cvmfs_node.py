"""What the node side may key its caches on when the store is a CVMFS
client mount.

On a CVMFS client a file's stat proves nothing: a publisher who replaces a
file with other bytes of the same size and the same mtime leaves size,
mtime, ctime, inode, device and mode unchanged on every node that stays
mounted (observed on CernVM-FS 2.11.5: the client reuses the inode of a
path it knows, and ctime = mtime as published).  What CVMFS does guarantee
is its repository root hash (`user.root_hash` on any directory of the
mount): it changes with every publish.  So on a CVMFS store, launch plans
and verification records also carry the root hash read before and after
verification (both reads must agree), and are believed only while it is
unchanged -- sound, at the price that any publish makes nodes verify again
(root's Prolog record then saves the job the hashing).

Whether a store is a CVMFS mount is decided by the kernel's mount table
(a FUSE mount whose source is `cvmfs2`), never by anything inside the store:
a writer of a plain directory store could set any extended attribute it
likes on its own folders.
"""

from __future__ import annotations

import os

from .fastpath import cvmfs_root_hash


def _unescape(field: str) -> str:
    # /proc/self/mountinfo escapes space, tab, newline and backslash as \\ooo.
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit() and len(field[i + 1:i + 4]) == 3:
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_of(path: str, mountinfo: str) -> tuple[str, str, str] | None:
    """(mount point, fs type, source) of the mount holding `path` (pure)."""
    best = None
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5:
            continue
        point = _unescape(fields[4])
        rest = right.split()
        if len(rest) < 2:
            continue
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, rest[0], _unescape(rest[1]))
    return best


def is_cvmfs(fstype: str, source: str) -> bool:
    return fstype in ("fuse", "fuse.cvmfs2") and source == "cvmfs2"


StoreToken = tuple[str, int, bytes]  # (store root, device, root hash)


def store_token(store_root: str) -> StoreToken | None:
    """(store root, device, root hash) on a CVMFS mount; None elsewhere.
    A CVMFS mount whose root hash cannot be read gives a token that never
    matches a later one, so nothing is cached."""
    try:
        with open("/proc/self/mountinfo") as f:
            info = f.read()
    except OSError:
        return None
    m = mount_of(store_root, info)
    if m is None or not is_cvmfs(m[1], m[2]):
        return None
    root_hash = cvmfs_root_hash(store_root)
    try:
        dev = os.stat(store_root).st_dev
    except OSError:
        dev = -1
    if root_hash is None or dev == -1:
        return (store_root, -1, os.urandom(16))
    return (store_root, dev, root_hash)
