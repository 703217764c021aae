"""Verification records (wrapper/verified.py): root's Prolog verifies an
image once, and a job's wrapper skips verifying only when the record is
root's (or its own) and covers exactly this variant's closed world,
unchanged, with the stats verification itself took."""

import os
import time

import pytest

import synthetic
from depotdelivery.signing import generate
from depotdelivery.trust import TrustAnchors
from depotdelivery.wrapper import verified, verify

USER = 54321  # a uid with no folder of its own: it reads root's records
LEVEL = "x86-64"


@pytest.fixture
def image(tmp_path):
    key = generate()
    synthetic.write_build(str(tmp_path / "build"))
    pub = synthetic.publish(str(tmp_path / "build"), str(tmp_path / "store"), key)
    img = verify.read_manifest(pub.store, pub.image_id, TrustAnchors.from_keys([key.public()]))
    cache = tmp_path / "cache"
    cache.mkdir()
    os.chmod(cache, 0o1777)
    return img, str(cache)


def _root_record(img, cache):
    base = os.path.join(cache, "u0")
    os.makedirs(base, mode=0o700, exist_ok=True)
    world = img.world(LEVEL)
    assert verified.store(base, img, world, verify.verify_world(img, world), None, public=True)
    return verified.record_path(base, img.store_root, img.image_id, LEVEL)


def _load(img, cache, token=None):
    return verified.load_trusted(cache, USER, img, img.world(LEVEL), token)


def test_roots_record_is_world_readable_and_trusted_by_a_user(image):
    img, cache = image
    path = _root_record(img, cache)
    assert os.stat(path).st_mode & 0o777 == 0o644 and os.stat(os.path.join(cache, "u0")).st_mode & 0o777 == 0o755
    watch = _load(img, cache)
    assert watch and os.path.join(img.image_dir, "depot") in dict(watch)


def test_a_changed_file_voids_the_record(image):
    img, cache = image
    _root_record(img, cache)
    sysimage = os.path.join(img.image_dir, "variants/x86-64/sys.so")
    os.chmod(os.path.dirname(sysimage), 0o755)
    with open(sysimage + ".new", "wb") as f:
        f.write(open(sysimage, "rb").read().upper())  # same size, other bytes, a new inode
    os.rename(sysimage + ".new", sysimage)
    assert _load(img, cache) is None


def test_an_extra_file_where_julia_reads_voids_the_record(image):
    img, cache = image
    _root_record(img, cache)
    with open(os.path.join(img.image_dir, "depot/compiled/v1.5/A/evil.ji"), "wb") as f:
        f.write(b"x")
    assert _load(img, cache) is None


def test_a_path_proven_absent_that_appears_voids_the_record(image):
    img, cache = image
    _root_record(img, cache)
    os.makedirs(os.path.join(img.store_root, "pool/packages/A/QnyP"))
    assert _load(img, cache) is None


def test_a_record_vouches_only_for_exactly_its_world(image):
    img, cache = image
    path = _root_record(img, cache)
    rec = verified.nodecache.load(path, (0,))
    rec["watch"] = rec["watch"][:-1]
    assert verified.nodecache.store(path, rec, public=True)
    assert _load(img, cache) is None


def test_a_record_of_another_cvmfs_revision_is_not_believed(image):
    img, cache = image
    _root_record(img, cache)
    assert _load(img, cache, token=(img.store_root, 1, b"roothash")) is None


def test_a_record_someone_else_could_write_is_not_believed(image):
    img, cache = image
    path = _root_record(img, cache)
    os.chown(path, USER, -1)  # root's folder, another user's file
    assert _load(img, cache) is None
    os.chown(path, 0, -1)
    os.chmod(os.path.join(cache, "u0"), 0o777)  # anyone could have put it there
    assert _load(img, cache) is None


def test_an_expired_record_is_not_believed(image, monkeypatch):
    img, cache = image
    _root_record(img, cache)
    monkeypatch.setattr(time, "time", lambda: 2 ** 40)
    assert _load(img, cache) is None
