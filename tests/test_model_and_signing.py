"""The shared data model and signatures: invalid objects cannot be built,
the image id is the hash of the canonical bytes, signatures bind exactly
those bytes, and only trusted keys count."""

import json
from datetime import datetime, timedelta, timezone

import os

import pytest

from depotdelivery import channels, signing, trust
from depotdelivery.errors import ConfigError, ImageInvalid, PublishError, UsageError
from depotdelivery.trust import TrustAnchors
from depotdelivery.model import (ChannelRecord, FileEntry, ImageManifest, PackagePin, Variant,
                                 canonical_bytes, parse_manifest, sha256_hex)

H = "a" * 64


def manifest(**over):
    fields = dict(name="demo", created="2026-11-25T00:00:00Z", julia_version="1.5.3",
                  store_path="/cvmfs/x/depots", project_sha256=H, manifest_sha256=H, workload_sha256="",
                  packages=(PackagePin("A", "u", "0.1.0", "t"),),
                  variants=(Variant("x86-64", "x86-64", "variants/x86-64/sys.so"),),
                  files=(FileEntry("image", "variants/x86-64/sys.so", H, 10, 0o755, 0, "x86-64"),
                         FileEntry("pool", "packages/A/abc/src/A.jl", H, 3, 0o644, 5)))
    fields.update(over)
    return ImageManifest(**fields)


def test_image_id_is_sha256_of_canonical_bytes_and_round_trips():
    m = manifest()
    data = m.canonical()
    assert m.image_id == sha256_hex(data)
    assert parse_manifest(data, expected_id=m.image_id) == m
    assert data == canonical_bytes(json.loads(data))


def test_canonical_json_refuses_floats():
    with pytest.raises(TypeError):
        canonical_bytes({"x": 1.5})


@pytest.mark.parametrize("path", ["/etc/passwd", "../x", "a/../../b", "a//b", "", "a/./b"])
def test_paths_cannot_escape_their_root(path):
    with pytest.raises(ValueError):
        FileEntry("pool", path, H, 1, 0o644, 0)


def test_a_variant_must_name_a_listed_system_image():
    with pytest.raises(ValueError):
        manifest(variants=(Variant("x86-64-v3", "haswell", "variants/x86-64-v3/sys.so"),))


def test_manifest_bytes_that_do_not_hash_to_the_id_are_refused():
    m = manifest()
    with pytest.raises(ImageInvalid):
        parse_manifest(m.canonical() + b" ", expected_id=m.image_id)


def test_files_for_a_level_exclude_other_variants():
    m = manifest(variants=(Variant("x86-64", "x86-64", "variants/x86-64/sys.so"),
                           Variant("x86-64-v3", "haswell", "variants/x86-64-v3/sys.so")),
                 files=manifest().files + (FileEntry("image", "variants/x86-64-v3/sys.so", H, 1, 0o755, 0, "x86-64-v3"),))
    assert {f.path for f in m.files_for("x86-64")} == {"variants/x86-64/sys.so", "packages/A/abc/src/A.jl"}


@pytest.fixture
def keypair(tmp_path):
    secret, public = signing.write_keypair(str(tmp_path / "ci"))
    return signing.load_secret(secret), signing.load_public(public)


def test_keygen_writes_a_private_secret_and_refuses_to_overwrite(tmp_path, keypair):
    import os
    assert os.stat(tmp_path / "ci.key").st_mode & 0o777 == 0o600
    with pytest.raises(UsageError, match="already exists"):
        signing.write_keypair(str(tmp_path / "ci"))


def test_signature_binds_the_bytes_and_the_key(keypair, tmp_path):
    sk, pk = keypair
    msg = manifest().canonical()
    sig = signing.signature_document(msg, [sk])
    assert signing.check_signatures(msg, sig, {pk.keyid: pk}, what="m") == pk.keyid
    with pytest.raises(ImageInvalid, match="tampered"):
        signing.check_signatures(msg + b"x", sig, {pk.keyid: pk}, what="m")
    other = signing.generate()
    with pytest.raises(ImageInvalid, match="not signed by a key this site trusts"):
        signing.check_signatures(msg, signing.signature_document(msg, [other]), {pk.keyid: pk}, what="m")
    with pytest.raises(ImageInvalid):
        signing.check_signatures(msg, b"{not json", {pk.keyid: pk}, what="m")


def test_channel_records_refuse_rollback_freeze_and_replay(keypair, tmp_path):
    sk, pk = keypair
    root = str(tmp_path)
    now = datetime(2026, 11, 25, tzinfo=timezone.utc)
    rec1 = channels.new_record(root, "stable", H, ("x86-64",), expires_in=timedelta(days=1), now=now)
    channels.write_record(root, rec1, sk)
    rec2 = channels.new_record(root, "stable", "b" * 64, ("x86-64",), expires_in=timedelta(days=1), now=now)
    channels.write_record(root, rec2, sk)
    assert channels.versions(root, "stable") == [1, 2]
    anchors = TrustAnchors.from_keys([pk])
    latest, _ = channels.latest(root, "stable", anchors, now=now)
    assert latest.version == 2 and latest.image == "b" * 64
    with pytest.raises(ImageInvalid, match="rollback"):
        channels.latest(root, "stable", anchors, now=now, highest_seen=3)
    with pytest.raises(ImageInvalid, match="expired"):
        channels.latest(root, "stable", anchors, now=now + timedelta(days=2), highest_seen=2)
    # A validly signed old record copied to the newest version's name: replay.
    old = channels.read_record(root, "stable", 1)
    with pytest.raises(ImageInvalid, match="replayed"):
        trust.open_channel_record(old, anchors, name="stable", version=3)
    # A revoked key verifies nothing, wherever the record is read.
    with pytest.raises(ConfigError, match="revoked"):
        TrustAnchors.from_keys([pk], revoked=[pk.keyid])


def test_channel_versions_have_one_width_and_range(keypair, tmp_path):
    """A file planted outside the range is no version: readers and
    `channel set` ignore it alike, and the highest version is refused."""
    sk, pk = keypair
    root = str(tmp_path)
    d = os.path.join(root, "channels", "stable")
    os.makedirs(d)
    for planted in ("99999999999.json", "0000000000.json", "000000001.json", "abcdefghij.json"):
        open(os.path.join(d, planted), "w").close()
    assert channels.versions(root, "stable") == []
    rec = channels.new_record(root, "stable", H, ("x86-64",), expires_in=timedelta(days=1))
    assert rec.version == 1
    open(os.path.join(d, "9999999999.json"), "w").close()
    with pytest.raises(PublishError, match="highest version"):
        channels.new_record(root, "stable", H, ("x86-64",), expires_in=timedelta(days=1))


def test_channel_record_versions_are_never_replaced(keypair, tmp_path):
    sk, _ = keypair
    rec = ChannelRecord("stable", H, 1, "2026-12-01T00:00:00Z", "2026-11-25T00:00:00Z")
    channels.write_record(str(tmp_path), rec, sk)
    with pytest.raises(PublishError, match="already exists"):
        channels.write_record(str(tmp_path), rec, sk)


def test_a_multi_target_variant_names_the_highest_level_it_holds_code_for():
    vt = Variant("x86-64", "x86-64;haswell,clone_all", "variants/x86-64/sys.so", up_to="x86-64-v3")
    assert Variant.from_json(vt.to_json()) == vt
    assert "up_to" not in Variant("x86-64", "x86-64", "variants/x86-64/sys.so").to_json()
    with pytest.raises(ValueError, match="below its level"):
        Variant("x86-64-v3", "haswell", "variants/x86-64-v3/sys.so", up_to="x86-64")
