"""Node-wide rollback state: the highest channel version any launch on this
node has seen protects every user, not only the one who saw it.

State that protects everyone must be shared, and no user may lower it.  So
the state is the signed records themselves: every launch that accepts a
channel record leaves a copy of its exact bytes in the node cache folder
(``<cache_dir>/seen-<store>-<channel>-<version>-<digest>``).  That folder is
root's, mode 1777 (sticky, like /tmp): any user can add a file, nobody but
its owner can remove it.  A reader believes a copy only if its signature
verifies through the trust core for exactly the channel and version its
name claims, so a planted file can raise nothing (it costs the planter one
failed signature check of ours), and a user can remove only their own
copies, never another user's or root's.

Where the cache folder is not root's (a site that skipped the set-up), the
state falls back to the user's own folder and protects that user only; the
README's site set-up says how to make it node-wide.
"""

from __future__ import annotations

import hashlib
import os

from depotdelivery.errors import DepotDeliveryError
from depotdelivery.trust import TrustAnchors, open_channel_record

from . import seennames
from .fastpath import shared_cache


def node_wide_dir(cache_dir: str) -> str | None:
    """The cache folder if it can hold node-wide state: the same rule as for
    holding every user's folder (root's; sticky if others may write)."""
    return cache_dir if shared_cache(cache_dir) else None


def _candidates(folder: str, pre: str) -> list[tuple[int, str]]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [(v, os.path.join(folder, n)) for n in names if (v := seennames.version_in(n, pre)) >= 0]


def highest_seen(folders: list[str], store_root: str, channel: str, anchors: TrustAnchors) -> int:
    """The highest version whose signed record a launch on this node kept."""
    pre = seennames.prefix(store_root, channel)
    cands = sorted((c for f in folders for c in _candidates(f, pre)), reverse=True)
    for version, path in cands:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                data = os.read(fd, 1 << 20)
            finally:
                os.close(fd)
            open_channel_record(data, anchors, name=channel, version=version)
        except (OSError, DepotDeliveryError):
            continue  # planted, truncated, or signed by a key no longer trusted
        return version
    return 0


def remember(folder: str | None, store_root: str, channel: str, version: int, data: bytes) -> None:
    """Keep the accepted record's bytes (never replacing a file)."""
    if folder is None:
        return
    digest = hashlib.sha256(data).hexdigest()[:16]
    path = os.path.join(folder, seennames.name(seennames.prefix(store_root, channel), version, digest))
    if os.path.exists(path):
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.link(tmp, path)
    except OSError:
        pass  # a full or read-only cache costs this node's memory of it, nothing else
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
