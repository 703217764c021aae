"""Verification records (wrapper/verified.py): root's Prolog hashes an image
once, and a job's wrapper skips hashing only when the record is root's (or
its own) and vouches for exactly the files it would hash, unchanged."""

import os
import time

import pytest

from depotdelivery.model import FileEntry, ImageManifest, PackagePin, Variant
from depotdelivery.wrapper import verified
from depotdelivery.wrapper.verify import VerifiedImage, check_no_extra_files

H = "a" * 64
USER = 54321  # a uid with no folder of its own: it reads root's records


@pytest.fixture
def image(tmp_path):
    store = tmp_path / "store"
    files = {("image", "variants/x86-64/sys.so"): b"sysimage", ("image", "depot/compiled/v1.5/A/x.ji"): b"ji",
             ("pool", "packages/A/abc/src/A.jl"): b"module A end"}
    for (root, rel), data in files.items():
        p = store / ("images/" + H if root == "image" else "pool") / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    m = ImageManifest(name="demo", created="2026-11-25T00:00:00Z", julia_version="1.5.3",
                      store_path=str(store), project_sha256=H, manifest_sha256=H, workload_sha256="",
                      packages=(PackagePin("A", "u", "0.1.0", "t"),),
                      variants=(Variant("x86-64", "x86-64", "variants/x86-64/sys.so"),),
                      files=tuple(FileEntry(r, p, H, len(d), 0o644, 0) for (r, p), d in files.items()))
    cache = tmp_path / "cache"
    cache.mkdir()
    os.chmod(cache, 0o1777)
    return VerifiedImage(str(store), H, m, "key"), str(cache)


def _root_record(img, cache):
    base = os.path.join(cache, "u0")
    os.makedirs(base, mode=0o700, exist_ok=True)
    files = img.manifest.files_for("x86-64")
    assert verified.store(base, img, "x86-64", files, check_no_extra_files(img, files), public=True)
    return verified.record_path(base, img.store_root, img.image_id, "x86-64")


def test_roots_record_is_world_readable_and_trusted_by_a_user(image):
    img, cache = image
    path = _root_record(img, cache)
    assert os.stat(path).st_mode & 0o777 == 0o644 and os.stat(os.path.join(cache, "u0")).st_mode & 0o777 == 0o755
    walked = verified.load_trusted(cache, USER, img, "x86-64", img.manifest.files_for("x86-64"))
    assert walked and os.path.join(img.image_dir, "depot") in walked


def test_a_changed_file_voids_the_record(image):
    img, cache = image
    _root_record(img, cache)
    sysimage = os.path.join(img.image_dir, "variants/x86-64/sys.so")
    with open(sysimage + ".new", "wb") as f:
        f.write(b"SYSIMAGE")  # same size, other bytes, a new inode
    os.rename(sysimage + ".new", sysimage)
    assert verified.load_trusted(cache, USER, img, "x86-64", img.manifest.files_for("x86-64")) is None


def test_an_extra_file_where_julia_reads_voids_the_record(image):
    img, cache = image
    _root_record(img, cache)
    with open(os.path.join(img.image_dir, "depot/compiled/v1.5/A/evil.ji"), "wb") as f:
        f.write(b"x")
    assert verified.load_trusted(cache, USER, img, "x86-64", img.manifest.files_for("x86-64")) is None


def test_a_record_vouches_only_for_exactly_its_files(image):
    img, cache = image
    _root_record(img, cache)
    fewer = img.manifest.files_for("x86-64")[:-1]
    assert verified.load_trusted(cache, USER, img, "x86-64", fewer) is None


def test_a_record_someone_else_could_write_is_not_believed(image):
    img, cache = image
    path = _root_record(img, cache)
    files = img.manifest.files_for("x86-64")
    os.chown(path, USER, -1)  # root's folder, another user's file
    assert verified.load_trusted(cache, USER, img, "x86-64", files) is None
    os.chown(path, 0, -1)
    os.chmod(os.path.join(cache, "u0"), 0o777)  # anyone could have put it there
    assert verified.load_trusted(cache, USER, img, "x86-64", files) is None


def test_an_expired_record_is_not_believed(image, monkeypatch):
    img, cache = image
    _root_record(img, cache)
    monkeypatch.setattr(time, "time", lambda: 2 ** 40)
    assert verified.load_trusted(cache, USER, img, "x86-64", img.manifest.files_for("x86-64")) is None
