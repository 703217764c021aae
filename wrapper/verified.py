"""Verification records: "these files of image X, variant L, as they stand
now, matched the manifest".  Whoever hashed the files leaves one (the job's
user, or root in the Slurm Prolog before the job starts), so that the next
launch on this node does not hash hundreds of megabytes again.

A record is a trust boundary (traps.md #3), so it is read only from the
user's own cache folder or root's (nodecache.trusted_dirs) and believed only
for exactly what it claims: the same store, image and variant, the very file
list this manifest gives for that variant, every one of those files and of
the folders walked for unlisted files unchanged (size, mtime, ctime, inode,
device, mode; ctime cannot be set by users), and not expired.  The manifest
itself (hash = image id, signature) is still checked by the reader on every
full launch: a record only stands in for hashing the files it lists.
Root's records are world-readable (they hold no secrets); a user's are private.
"""

from __future__ import annotations

import os
import time
import zlib

from . import nodecache
from .verify import VerifiedImage, watched_dirs

MAX_AGE_S = 24 * 3600  # even an unchanged image is re-hashed daily


def record_path(base: str, store_root: str, image_id: str, level: str) -> str:
    tag = zlib.crc32(store_root.encode()) & 0xFFFFFFFF
    return os.path.join(base, "verified", f"{image_id}.{level}.{tag:08x}")


def load_trusted(cache_dir: str, uid: int, img: VerifiedImage, level: str, files) -> list[str] | None:
    """-> the folders a valid record walked (the caller watches them), or
    None when no trusted record vouches for exactly these files."""
    want = sorted(img.path_of(f) for f in files)
    tops = set(watched_dirs(img, files))
    for base in nodecache.trusted_dirs(cache_dir, uid):
        owner = uid if os.path.basename(base) == f"u{uid}" else 0
        rec = nodecache.load(record_path(base, img.store_root, img.image_id, level), (owner,))
        if not rec:
            continue
        try:
            if (rec["store"], rec["image"], rec["level"]) != (img.store_root, img.image_id, level):
                continue
            if time.time() >= rec["expires"] or sorted(p for p, _ in rec["files"]) != want:
                continue
            dirs = [p for p, _ in rec["dirs"]]
            if not tops <= set(dirs):
                continue
            if nodecache.stats_match(list(rec["files"]) + list(rec["dirs"])):
                return dirs
        except (KeyError, TypeError, ValueError):
            continue
    return None


def store(base: str, img: VerifiedImage, level: str, files, walked: list[str], *, public: bool) -> bool:
    """Record a verification just done.  Stats are taken right after
    hashing, as for launch plans: the store is read-only on nodes."""
    try:
        rec = {"store": img.store_root, "image": img.image_id, "level": level,
               "files": [(p, nodecache.stat_key(p)) for p in (img.path_of(f) for f in files)],
               "dirs": [(d, nodecache.stat_key(d)) for d in walked],
               "expires": time.time() + MAX_AGE_S}
    except OSError:
        return False
    return nodecache.store(record_path(base, img.store_root, img.image_id, level), rec, public=public)
