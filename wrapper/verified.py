"""Verification records: "this closed world of image X, variant L, as it
stands now, matched the manifest".  Whoever verified leaves one (the job's
user, or root in the Slurm Prolog before the job starts), so that the next
launch on this node does not hash hundreds of megabytes again.

A record is a trust boundary (if user A could write the record user B
trusts, A would decide what B runs), so it is read only from the user's own
cache folder or root's (nodecache.trusted_dirs) and believed only for
exactly what it claims: the same store, image and variant; a watch list
covering exactly this variant's closed world (every file, folder and absent
path); every stat in it unchanged -- the stats taken through the very
descriptors that were hashed and listed, never later; on a CVMFS store the
same repository root hash; and not expired.  The manifest itself (hash =
image id, signature) is still checked by the reader on every full launch:
a record only stands in for hashing the files and listing the folders.
Root's records are world-readable (they hold no secrets); a user's are private.
"""

from __future__ import annotations

import os
import time
import zlib

from depotdelivery.closedworld import World

from . import nodecache
from .fastpath import watch_fails
from .cvmfs_node import StoreToken
from .verify import VerifiedImage, Watch

MAX_AGE_S = 24 * 3600  # even an unchanged image is re-hashed daily


def record_path(base: str, store_root: str, image_id: str, level: str) -> str:
    tag = zlib.crc32(store_root.encode()) & 0xFFFFFFFF
    return os.path.join(base, "verified", f"{image_id}.{level}.{tag:08x}")


def world_paths(img: VerifiedImage, world: World) -> set[str]:
    """Every path a watch list for this world must cover."""
    root = img.store_root
    paths = {img.path_of(f) for f in world.files}
    paths |= {os.path.join(root, d) if d else root for d in world.dirs()}
    paths |= {os.path.join(root, a) for a in world.absent}
    paths |= {os.path.join(root, d, m) for d, names in world.markers.items() for m in names}
    return paths


def load_trusted(cache_dir: str, uid: int, img: VerifiedImage, world: World,
                 token: StoreToken | None) -> Watch | None:
    """-> the watch list of a valid record, or None when no trusted record
    vouches for exactly this world."""
    want = world_paths(img, world)
    for base, owner in nodecache.trusted_dirs(cache_dir, uid):
        rec = nodecache.load(record_path(base, img.store_root, img.image_id, world.level), (owner,))
        if not rec:
            continue
        try:
            if (rec["store"], rec["image"], rec["level"]) != (img.store_root, img.image_id, world.level):
                continue
            if time.time() >= rec["expires"] or rec["token"] != token:
                continue
            watch = [(p, None if k is None else tuple(k)) for p, k in rec["watch"]]
            if {p for p, _ in watch} != want:
                continue
            if watch_fails(watch) is None:
                return watch
        except (KeyError, TypeError, ValueError):
            continue
    return None


def store(base: str, img: VerifiedImage, world: World, watch: Watch, token: StoreToken | None, *,
          public: bool) -> bool:
    """Record a verification just done, with the stats verification took."""
    rec = {"store": img.store_root, "image": img.image_id, "level": world.level,
           "watch": list(watch), "token": token, "expires": time.time() + MAX_AGE_S}
    return nodecache.store(record_path(base, img.store_root, img.image_id, world.level), rec, public=public)
