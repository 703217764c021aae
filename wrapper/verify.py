"""Verify an image in a store before anything of it runs (fail closed).

The order is fixed, TUF-style: trusted keys -> channel record (signature,
not rolled back, not expired) -> manifest (hash = image id, signed by a
trusted key) -> the variant's files (sha256 and size of every file a job on
that level may read; no unlisted files where Julia looks).  Each step either
returns verified data or raises one of depotdelivery.errors, whose exit
codes the batch systems act on.

Everything here reads the store; nothing writes to it.
"""

from __future__ import annotations

import concurrent.futures
import errno
import os
import stat
from dataclasses import dataclass
from datetime import datetime

from depotdelivery import channels
from depotdelivery.errors import ImageInvalid, RunElsewhere, StoreUnavailable, UsageError
from depotdelivery.fsutil import hash_file
from depotdelivery.levels import Level
from depotdelivery.model import ChannelRecord, FileEntry, ImageManifest, is_image_id, parse_manifest
from depotdelivery.signing import PublicKey, check_signatures


@dataclass(frozen=True)
class VerifiedImage:
    store_root: str
    image_id: str
    manifest: ImageManifest
    signer: str

    @property
    def image_dir(self) -> str:
        return os.path.join(self.store_root, "images", self.image_id)

    def path_of(self, f: FileEntry) -> str:
        base = self.image_dir if f.root == "image" else os.path.join(self.store_root, "pool")
        return os.path.join(base, f.path)


def trusted_keys(paths: tuple[str, ...], revoked: frozenset[str]) -> dict[str, PublicKey]:
    from depotdelivery.signing import load_public
    keys = {}
    for p in paths:
        k = load_public(p)
        if k.keyid not in revoked:
            keys[k.keyid] = k
    return keys


def resolve_image_ref(store_root: str, ref: str) -> str:
    """A full image id, or a unique prefix of at least 8 hex digits."""
    ref = ref.strip().lower()
    if is_image_id(ref):
        return ref
    if len(ref) < 8 or any(c not in "0123456789abcdef" for c in ref):
        raise UsageError(f"image {ref!r} is not an image id (64 hex digits, or a unique prefix "
                         "of at least 8)")
    try:
        hits = [n for n in os.listdir(os.path.join(store_root, "images")) if n.startswith(ref)]
    except OSError:
        hits = []
    if len(hits) != 1:
        raise UsageError(f"image {ref} {'is ambiguous' if hits else 'is not in store ' + store_root}; "
                         "`depotdelivery ls --store ...` lists images")
    return hits[0]


def verify_channel(store_root: str, name: str, keys: dict[str, PublicKey], *, now: datetime,
                   highest_seen: int) -> tuple[ChannelRecord, str]:
    """-> (record, path of the record file read)."""
    rec, _ = channels.latest(store_root, name, keys)
    channels.check_freshness(rec, now=now, highest_seen=highest_seen)
    return rec, channels.record_path(store_root, name, rec.version)


def read_manifest(store_root: str, image_id: str, keys: dict[str, PublicKey]) -> VerifiedImage:
    image_dir = os.path.join(store_root, "images", image_id)
    try:
        with open(os.path.join(image_dir, "manifest.json"), "rb") as f:
            data = f.read(64 << 20)
        with open(os.path.join(image_dir, "manifest.sig"), "rb") as f:
            sig = f.read(1 << 20)
    except FileNotFoundError:
        if not os.path.isdir(store_root):
            raise StoreUnavailable(f"store {store_root} vanished; check the mount") from None
        if not os.path.isdir(image_dir):
            raise UsageError(f"image {image_id} is not in store {store_root}; "
                             "check the id (`depotdelivery ls`)") from None
        raise ImageInvalid(f"image {image_id[:12]}: manifest or signature missing "
                           "(truncated image); republish it") from None
    except OSError as e:
        raise StoreUnavailable(f"cannot read image {image_id[:12]} in {store_root}: {e.strerror}") from None
    # Hash and signature are checked on the received bytes, before parsing.
    manifest = parse_manifest(data, expected_id=image_id)
    signer = check_signatures(data, sig, keys, what=f"image {image_id[:12]}")
    return VerifiedImage(store_root, image_id, manifest, signer)


def select_variant(manifest: ImageManifest, node_level: Level, *, why: str = "") -> Level:
    """The highest variant the node can run (within the site cap)."""
    runnable = [lvl for lvl in manifest.levels() if lvl <= node_level]
    if not runnable:
        raise RunElsewhere(f"image {manifest.name} has variants {', '.join(map(str, manifest.levels()))}, "
                           f"this node runs up to {node_level}{' (' + why + ')' if why else ''}; run it elsewhere")
    return runnable[-1]


def _check_one(img: VerifiedImage, f: FileEntry) -> None:
    path = img.path_of(f)
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ImageInvalid(f"image {img.image_id[:12]}: {f.path} is not a regular file (swapped?); "
                               "do not run it, republish")
        if st.st_size != f.size:
            raise ImageInvalid(f"image {img.image_id[:12]}: {f.path} has {st.st_size} bytes, manifest says "
                               f"{f.size} (truncated or tampered); republish the image")
        digest, size = hash_file(path)
    except FileNotFoundError:
        if not os.path.isdir(img.store_root):
            raise StoreUnavailable(f"store {img.store_root} vanished during verification; retry") from None
        raise ImageInvalid(f"image {img.image_id[:12]}: {f.path} is missing (truncated image); "
                           "republish it") from None
    except OSError as e:
        if e.errno in (errno.EIO, errno.ENOTCONN, errno.ESTALE, errno.ENODEV) or not os.path.isdir(img.store_root):
            raise StoreUnavailable(f"store {img.store_root} failed during verification ({e.strerror}); retry") from None
        raise ImageInvalid(f"image {img.image_id[:12]}: cannot read {f.path} ({e.strerror})") from None
    if digest != f.sha256 or size != f.size:
        raise ImageInvalid(f"image {img.image_id[:12]}: {f.path} does not match its sha256 in the "
                           "manifest (tampered or from another image); do not run it, republish")


def watched_dirs(img: VerifiedImage, files: tuple[FileEntry, ...]) -> list[str]:
    """Folders where Julia lists files (so an unlisted file there could be
    read): the image's depot, and each package folder of the pool."""
    dirs = set()
    for f in files:
        parts = f.path.split("/")
        if f.root == "pool" and len(parts) >= 3:
            top = os.path.join(img.store_root, "pool", *parts[:3])
        elif f.root == "image" and parts[0] == "depot":
            top = os.path.join(img.image_dir, "depot")
        else:
            continue
        dirs.add(top)
    return sorted(dirs)


def check_no_extra_files(img: VerifiedImage, files: tuple[FileEntry, ...]) -> list[str]:
    """Raise on any unlisted entry under the watched folders; return every
    folder walked (their stats go into the verification record)."""
    listed = {img.path_of(f) for f in files}
    walked = []
    for top in watched_dirs(img, files):
        for dirpath, dirnames, filenames in os.walk(top):
            walked.append(dirpath)
            for n in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                p = os.path.join(dirpath, n)
                if p not in listed:
                    rel = os.path.relpath(p, img.store_root)
                    raise ImageInvalid(f"image {img.image_id[:12]}: unlisted file {rel} where Julia "
                                       "reads (extra file); do not run it, remove it or republish")
    return walked


def verify_files(img: VerifiedImage, level: str, *, threads: int = 0) -> tuple[FileEntry, ...]:
    """Stream-hash every file a job on `level` may read (large files first,
    in parallel: hashlib releases the GIL, so this runs at disk speed)."""
    files = img.manifest.files_for(level)
    order = sorted(files, key=lambda f: -f.size)
    threads = threads or min(4, os.cpu_count() or 1)
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        for fut in [pool.submit(_check_one, img, f) for f in order]:
            fut.result()
    return files
