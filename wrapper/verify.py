"""Verify an image in a store before anything of it runs (fail closed): the
thin I/O shell around the pure trust core (depotdelivery.trust) and the
closed world (depotdelivery.closedworld).

Order, fixed: trusted keys -> channel record -> manifest (hash = image id,
signature) -> the variant's closed world: every folder's listing, every path
that must be absent, every file's sha256 and size.  Each step returns
verified data or raises a depotdelivery error (exit codes: README).

Hash what you read: each file is hashed through one open descriptor; its
fstat before and after hashing and the lstat of its path must agree, and
that stat is what a launch plan or a verification record keeps -- never
one taken later.  Folders the same: listed through one descriptor.

Everything here reads the store; nothing writes to it.
"""

from __future__ import annotations

import concurrent.futures
import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from datetime import datetime

from depotdelivery import channels
from depotdelivery.closedworld import World, closed_world
from depotdelivery.errors import ImageInvalid, RunElsewhere, StoreUnavailable, UsageError
from depotdelivery.levels import Level
from depotdelivery.model import ChannelRecord, FileEntry, ImageManifest, is_image_id
from depotdelivery.trust import TrustAnchors, verify_manifest

# (size, mtime, ctime, inode, device, mode): what a plan re-checks per file
# and per closed folder; (inode, device, mode) for shared folders, whose
# listing other images change; None for a path that must stay absent.
StatKey = tuple[int, ...]
Watch = list[tuple[str, "StatKey | None"]]


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_mode)


def identity_key(st: os.stat_result) -> StatKey:
    return (st.st_ino, st.st_dev, st.st_mode)


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

    def world(self, level: str) -> World:
        return closed_world(self.manifest, self.image_id, level)


def trusted_keys(paths: tuple[str, ...], revoked: frozenset[str], *, where: str = "the site config"
                 ) -> TrustAnchors:
    """Load the key files (I/O) into trust anchors (revoked keys removed)."""
    from depotdelivery.signing import load_public
    return TrustAnchors.from_keys([load_public(p) for p in paths], revoked, where=where)


def resolve_image_ref(store_root: str, ref: str) -> str:
    """A full image id, or a unique prefix of at least 8 hex digits (the
    user's command line: every failure here is exit 64)."""
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


def verify_channel(store_root: str, name: str, anchors: TrustAnchors, *, now: datetime,
                   highest_seen: int) -> tuple[ChannelRecord, bytes, str]:
    """-> (record, its bytes, path of the record file read)."""
    rec, data = channels.latest(store_root, name, anchors, now=now, highest_seen=highest_seen)
    return rec, data, channels.record_path(store_root, name, rec.version)


def read_manifest(store_root: str, image_id: str, anchors: TrustAnchors, *,
                  named_by_store: bool = True) -> VerifiedImage:
    """`named_by_store`: the id came from a signed channel record (a missing
    image is then bad store data, 65), not from the user (64)."""
    image_dir = os.path.join(store_root, "images", image_id)
    try:
        with open(os.path.join(image_dir, "manifest.json"), "rb") as f:
            data = f.read(64 << 20 | 1)
        with open(os.path.join(image_dir, "manifest.sig"), "rb") as f:
            sig = f.read(1 << 20 | 1)
    except FileNotFoundError:
        if not os.path.isdir(store_root):
            raise StoreUnavailable(f"store {store_root} vanished; check the mount") from None
        if not os.path.isdir(image_dir):
            if named_by_store:
                raise ImageInvalid(f"image {image_id[:12]} named by a signed channel record is not in "
                                   f"store {store_root} (incomplete or tampered store); republish it") from None
            raise UsageError(f"image {image_id} is not in store {store_root}; "
                             "check the id (`depotdelivery ls`)") from None
        raise ImageInvalid(f"image {image_id[:12]}: manifest or signature missing "
                           "(truncated image); republish it") from None
    except OSError as e:
        raise StoreUnavailable(f"cannot read image {image_id[:12]} in {store_root}: {e.strerror}") from None
    manifest, signer = verify_manifest(data, sig, anchors, image_id=image_id)
    return VerifiedImage(store_root, image_id, manifest, signer)


def select_variant(manifest: ImageManifest, node_level: Level, *, why: str = "") -> Level:
    """The highest variant the node can run (within the site cap)."""
    runnable = [lvl for lvl in manifest.levels() if lvl <= node_level]
    if not runnable:
        raise RunElsewhere(f"image {manifest.name} has variants {', '.join(map(str, manifest.levels()))}, "
                           f"this node runs up to {node_level}{' (' + why + ')' if why else ''}; run it elsewhere")
    return runnable[-1]


def _io_error(img: VerifiedImage, rel: str, e: OSError) -> Exception:
    if isinstance(e, FileNotFoundError):
        if not os.path.isdir(img.store_root):
            return StoreUnavailable(f"store {img.store_root} vanished during verification; retry")
        return ImageInvalid(f"image {img.image_id[:12]}: {rel} is missing (truncated image); republish it")
    if e.errno == errno.ELOOP:
        return ImageInvalid(f"image {img.image_id[:12]}: {rel} is a symbolic link where the manifest has "
                            "a file or folder (swapped?); do not run it, republish")
    if e.errno in (errno.EIO, errno.ENOTCONN, errno.ESTALE, errno.ENODEV) or not os.path.isdir(img.store_root):
        return StoreUnavailable(f"store {img.store_root} failed during verification ({e.strerror}); retry")
    return ImageInvalid(f"image {img.image_id[:12]}: cannot read {rel} ({e.strerror})")


def _unchanged_since(img: VerifiedImage, rel: str, fd: int, before: os.stat_result, path: str) -> StatKey:
    """The descriptor's stat now, and the path's, must still be `before`:
    else what was read is not what a later stat check would vouch for."""
    key = stat_key(before)
    if stat_key(os.fstat(fd)) != key or stat_key(os.lstat(path)) != key:
        raise ImageInvalid(f"image {img.image_id[:12]}: {rel} changed while it was verified (replaced or "
                           "rewritten in the store); do not run it, republish")
    return key


def hash_one(img: VerifiedImage, f: FileEntry) -> StatKey:
    """sha256 and size of one file through one descriptor -> its stat key."""
    path = img.path_of(f)
    rel = os.path.relpath(path, img.store_root)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        raise _io_error(img, rel, e) from None
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise ImageInvalid(f"image {img.image_id[:12]}: {rel} is not a regular file (swapped?); "
                               "do not run it, republish")
        if before.st_size != f.size:
            raise ImageInvalid(f"image {img.image_id[:12]}: {rel} has {before.st_size} bytes, manifest says "
                               f"{f.size} (truncated or tampered); republish the image")
        h = hashlib.sha256()
        size = 0
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        while True:
            n = os.readv(fd, [buf])
            if not n:
                break
            h.update(view[:n])
            size += n
        key = _unchanged_since(img, rel, fd, before, path)
    except ImageInvalid:
        raise
    except OSError as e:
        raise _io_error(img, rel, e) from None
    finally:
        os.close(fd)
    if size != f.size or h.hexdigest() != f.sha256:
        raise ImageInvalid(f"image {img.image_id[:12]}: {rel} does not match its sha256 in the "
                           "manifest (tampered or from another image); do not run it, republish")
    return key


def list_one(img: VerifiedImage, rel: str) -> tuple[StatKey, list[str]]:
    """A folder's listing through one descriptor -> (stat key, names)."""
    path = os.path.join(img.store_root, rel)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except NotADirectoryError:
        raise ImageInvalid(f"image {img.image_id[:12]}: {rel} is not a folder (swapped?); "
                           "do not run it, republish") from None
    except OSError as e:
        raise _io_error(img, rel, e) from None
    try:
        before = os.fstat(fd)
        names = os.listdir(fd)
        key = _unchanged_since(img, rel, fd, before, path)
    except OSError as e:
        raise _io_error(img, rel, e) from None
    finally:
        os.close(fd)
    return key, names


def _extra(img: VerifiedImage, rel: str) -> ImageInvalid:
    return ImageInvalid(f"image {img.image_id[:12]}: unlisted {rel} where Julia looks (planted or "
                        "from another build); do not run it, remove it or republish")


def verify_world(img: VerifiedImage, world: World, *, threads: int = 0) -> Watch:
    """Check every rule of the closed world; -> what a plan or record may
    re-check later: [(absolute path, stat key, or None = must stay absent)]."""
    watch: Watch = []
    for rel in world.dirs():
        path = os.path.join(img.store_root, rel) if rel else img.store_root
        if rel in world.shared:
            try:
                st = os.lstat(path)
            except OSError as e:
                raise _io_error(img, rel, e) from None
            if not stat.S_ISDIR(st.st_mode):
                raise ImageInvalid(f"image {img.image_id[:12]}: {rel} is not a folder (swapped for a "
                                   "link?); do not run it, republish")
            watch.append((path, identity_key(st)))
            continue
        key, names = list_one(img, rel)
        if rel in world.closed:
            allowed = world.closed[rel]
            for n in sorted(set(names) - allowed):
                if n in world.markers.get(rel, ()):
                    continue
                raise _extra(img, f"{rel}/{n}")
            for n in sorted(allowed - set(names)):
                raise _io_error(img, f"{rel}/{n}", FileNotFoundError(errno.ENOENT, "missing"))
        else:
            for n in sorted(set(names) - world.subset[rel]):
                raise _extra(img, f"{rel}/{n}")
        watch.append((path, key))
    for rel in world.absent:
        path = os.path.join(img.store_root, rel)
        try:
            os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            watch.append((path, None))
            continue
        except OSError as e:
            raise _io_error(img, rel, e) from None
        raise _extra(img, rel)
    for rel in sorted(world.markers.get(f"images/{img.image_id}", ())):
        _check_marker(img, f"images/{img.image_id}/{rel}", watch)
    order = sorted(world.files, key=lambda f: -f.size)
    threads = threads or min(4, os.cpu_count() or 1)
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        futs = [(f, pool.submit(hash_one, img, f)) for f in order]
        for f, fut in futs:
            watch.append((img.path_of(f), fut.result()))
    return watch


def _check_marker(img: VerifiedImage, rel: str, watch: Watch) -> None:
    """A publisher's marker file (`.cvmfscatalog`) may exist, empty."""
    path = os.path.join(img.store_root, rel)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        watch.append((path, None))
        return
    except OSError as e:
        raise _io_error(img, rel, e) from None
    if not stat.S_ISREG(st.st_mode) or st.st_size != 0:
        raise _extra(img, rel)
    watch.append((path, stat_key(st)))
