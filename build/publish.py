"""Sign a build and publish it to a store, atomically and without rewriting.

Order matters for crash safety (a kill at any moment leaves every earlier
image and channel intact, and a re-run completes):

1. pool files (package sources), each written to a temporary name and
   renamed; a file already present with the same bytes is skipped, with
   different bytes it is an error (never overwritten);
2. the image directory, assembled under ``images/.tmp-*`` and renamed to
   ``images/<id>`` in one step;
3. the channel record, a new version file created with link() so it can never
   replace one another publisher wrote.
"""

from __future__ import annotations

import os
import shutil
import secrets
from dataclasses import dataclass
from datetime import timedelta

from depotdelivery import channels
from depotdelivery.errors import ImageInvalid, PublishError, UsageError
from depotdelivery.fsutil import hash_file
from depotdelivery.model import ChannelRecord, FileEntry, ImageManifest, parse_manifest, sha256_hex
from depotdelivery.progress import Reporter
from depotdelivery.signing import SecretKey, signature_document
from depotdelivery.stores import Store, oserror_text


@dataclass(frozen=True)
class PublishResult:
    image_id: str
    bytes_written: int
    files_written: int
    files_reused: int
    already_published: bool
    channel: ChannelRecord | None


def load_build(build_dir: str) -> tuple[ImageManifest, bytes]:
    path = os.path.join(build_dir, "manifest.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        raise UsageError(f"{build_dir} is not a finished build (no manifest.json); "
                         "run `depotdelivery build` first") from None
    # The image id is the sha256 of exactly these bytes -- the bytes that are
    # written and signed -- so they must already be the canonical form.
    try:
        return parse_manifest(data, expected_id=sha256_hex(data)), data
    except ImageInvalid as e:
        raise UsageError(f"{path} is not a canonical image manifest ({e.message}); "
                         "rebuild with `depotdelivery build`") from None


def _source(build_dir: str, f: FileEntry) -> str:
    return os.path.join(build_dir, "image" if f.root == "image" else "pool", f.path)


def _check_build_file(build_dir: str, f: FileEntry) -> str:
    src = _source(build_dir, f)
    try:
        digest, size = hash_file(src)
    except OSError as e:
        raise PublishError(f"build file {f.path} unreadable ({e.strerror}); rebuild") from None
    if digest != f.sha256 or size != f.size:
        raise PublishError(f"build file {f.path} changed since the build; rebuild")
    return src


def _copy_into(src: str, dest: str, f: FileEntry) -> int:
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = os.path.join(os.path.dirname(dest), f".tmp-{secrets.token_hex(6)}")
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, f.mode)
        os.utime(tmp, ns=(f.mtime_ns, f.mtime_ns))  # .ji caches check mtimes
        os.rename(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return f.size


def _existing_matches(dest: str, f: FileEntry) -> bool | None:
    """None: absent.  True: same bytes.  False: different bytes (refuse)."""
    if not os.path.lexists(dest):
        return None
    if os.path.islink(dest) or not os.path.isfile(dest):
        return False
    st = os.stat(dest)
    if st.st_size != f.size:
        return False
    return hash_file(dest)[0] == f.sha256


def publish(build_dir: str, store: Store, key: SecretKey, *, channel: str = "",
            expires_in: timedelta = timedelta(days=30), reporter: Reporter) -> PublishResult:
    manifest, manifest_bytes = load_build(build_dir)
    image_id = sha256_hex(manifest_bytes)
    with reporter.step("check build files"):
        sources = {(f.root, f.path): _check_build_file(build_dir, f) for f in manifest.files}
    sig = signature_document(manifest_bytes, [key])
    written = reused = nbytes = 0
    already = False
    rec = None
    # CVMFS tags name image ids (`cvmfs_server tag -l`); a re-publish of an
    # image already there gets no second tag.
    tag = "" if os.path.isdir(os.path.join(store.root, "images", image_id)) else f"img-{image_id[:16]}"
    try:
        with store.transaction(tag=tag, message=f"depotdelivery: image {image_id} ({manifest.name})") as root:
            image_dir = os.path.join(root, "images", image_id)
            with reporter.step(f"publish image {image_id[:12]} to {store.url}"):
                for f in manifest.files:
                    if f.root != "pool":
                        continue
                    dest = os.path.join(root, "pool", f.path)
                    state = _existing_matches(dest, f)
                    if state is True:
                        reused += 1
                        continue
                    if state is False:
                        raise PublishError(f"store already holds different bytes at pool/{f.path}; "
                                           "the store is inconsistent: inspect it, do not overwrite")
                    nbytes += _copy_into(sources[(f.root, f.path)], dest, f)
                    written += 1
                if os.path.isdir(image_dir):
                    already = True
                    reused += sum(1 for f in manifest.files if f.root == "image")
                else:
                    tmp = os.path.join(root, "images", f".tmp-{secrets.token_hex(8)}")
                    os.makedirs(tmp)
                    try:
                        for f in manifest.files:
                            if f.root == "image":
                                nbytes += _copy_into(sources[(f.root, f.path)], os.path.join(tmp, f.path), f)
                                written += 1
                        for name, data in (("manifest.json", manifest_bytes), ("manifest.sig", sig)):
                            with open(os.path.join(tmp, name), "wb") as out:
                                out.write(data)
                            nbytes += len(data)
                        # CVMFS: one nested catalog per image directory.
                        open(os.path.join(tmp, ".cvmfscatalog"), "wb").close()
                        _make_read_only(tmp)
                        os.rename(tmp, image_dir)
                    except BaseException:
                        _make_writable(tmp)
                        shutil.rmtree(tmp, ignore_errors=True)
                        raise
            if channel:
                rec = channels.new_record(root, channel, image_id,
                                          tuple(v.level for v in manifest.variants), expires_in=expires_in)
                channels.write_record(root, rec, key)
    except OSError as e:
        raise PublishError(oserror_text(f"publishing to {store.url}", e) +
                           " (earlier images and channels are intact)") from None
    return PublishResult(image_id, nbytes, written, reused, already, rec)


def set_channel(store: Store, name: str, image_id: str, key: SecretKey, *,
                expires_in: timedelta) -> ChannelRecord:
    """Point a channel at an already published image (also: rollback)."""
    try:
        from datetime import datetime, timezone
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        with store.transaction(tag=f"channel-{name}-{stamp}",
                               message=f"depotdelivery: channel {name} -> {image_id}") as root:
            mpath = os.path.join(root, "images", image_id, "manifest.json")
            try:
                with open(mpath, "rb") as f:
                    manifest = parse_manifest(f.read(), expected_id=image_id)
            except FileNotFoundError:
                raise UsageError(f"image {image_id} is not in store {store.url}; publish it first") from None
            rec = channels.new_record(root, name, image_id, tuple(v.level for v in manifest.variants),
                                      expires_in=expires_in)
            channels.write_record(root, rec, key)
            return rec
    except OSError as e:
        raise PublishError(oserror_text(f"channel {name} in {store.url}", e)) from None


def _make_read_only(top: str) -> None:
    for dirpath, _, _ in os.walk(top, topdown=False):
        os.chmod(dirpath, 0o755)


def _make_writable(top: str) -> None:
    for dirpath, _, _ in os.walk(top):
        try:
            os.chmod(dirpath, 0o755)
        except OSError:
            pass
