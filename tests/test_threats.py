"""The TUF threat model replayed against a real store and the real wrapper,
plus faults.  Every case: the documented exit code, a one-line message, and
zero execs of unverified code (the probe job never prints)."""

import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import DD, run, write_site_config

pytestmark = pytest.mark.julia
CPUINFO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cpuinfo", "amd-zen2-epyc-7702.x86-64-v3.txt")
PROBE = ["--cpuinfo", CPUINFO, "--", "julia", "-e", 'println("RAN ", unsafe_string(Base.JLOptions().image_file))']


def launch(node, *args, **kw):
    return node.run(["--channel", "stable", *args, *PROBE], **kw)


def refused(p, code=65, words=""):
    assert p.returncode == code, (p.returncode, p.stderr)
    assert "RAN" not in p.stdout
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert words in p.stderr, p.stderr


def set_channel(node, key, image, expires="30d"):
    p = run([DD, "channel", "set", "stable", image, "--store", node.store_src, "--key", key, "--expires", expires])
    assert p.returncode == 0, p.stderr


def test_mix_and_match_a_file_from_another_image(node, tiny_v3_build, ci_keys):
    p = run([DD, "publish", tiny_v3_build, "--store", node.store_src, "--key", ci_keys[0], "--json"], check=True)
    other = json.loads(p.stdout)["image_id"]
    foreign = node.read(f"images/{other}/variants/x86-64-v3/sys.so")
    node.replace_file(f"images/{node.image_id}/variants/x86-64-v3/sys.so", foreign)
    refused(launch(node), 65, "sys.so")


def test_rollback_to_an_older_channel_record(node, ci_keys):
    set_channel(node, ci_keys[0], node.image_id)  # version 2
    assert launch(node).returncode == 0  # the node has now seen version 2
    os.unlink(os.path.join(node.store_src, "channels", "stable", "0000000002.json"))
    refused(launch(node), 65, "rollback")


def test_replayed_old_record_under_a_new_version(node):
    src = os.path.join(node.store_src, "channels", "stable")
    shutil.copy(os.path.join(src, "0000000001.json"), os.path.join(src, "0000000002.json"))
    refused(launch(node), 65, "replayed")


def test_freeze_an_expired_channel_record(node, ci_keys):
    """A validly signed newest record whose expiry has passed (a frozen
    mirror keeps serving it): made with a reference time in the past."""
    from datetime import datetime, timedelta, timezone

    from depotdelivery import channels
    from depotdelivery.signing import load_secret
    past = datetime.now(timezone.utc) - timedelta(days=10)
    rec = channels.new_record(node.store_src, "stable", node.image_id, ("x86-64", "x86-64-v3"),
                              expires_in=timedelta(days=1), now=past)
    channels.write_record(node.store_src, rec, load_secret(ci_keys[0]))
    refused(launch(node), 65, "expired")


def test_signature_over_a_different_manifest(node, tiny_v3_build, ci_keys):
    p = run([DD, "publish", tiny_v3_build, "--store", node.store_src, "--key", ci_keys[0], "--json"], check=True)
    other = json.loads(p.stdout)["image_id"]
    node.replace_file(f"images/{node.image_id}/manifest.sig", node.read(f"images/{other}/manifest.sig"))
    refused(launch(node), 65, "tampered")


def test_extra_and_truncated_files(node):
    node.replace_file(f"images/{node.image_id}/project/Manifest.toml", b"")
    refused(launch(node), 65, "Manifest.toml")


def test_swapping_the_store_under_a_launch_never_runs_the_swapped_files(node, workdir):
    """The site's store path is a symlink an attacker (or a CVMFS revision
    switch) moves: launches exec through the resolved image-id paths they
    verified, or verify again; never through the moved path unverified."""
    link = os.path.join(workdir, f"storelink-{time.time_ns()}")
    os.symlink(node.store, link)
    write_site_config(node.config, store=link, pubkeys=[node.pubkey], cache_dir=node.cache_dir)
    first = launch(node)
    assert first.returncode == 0 and node.store in first.stdout
    evil = os.path.join(workdir, f"evil-{time.time_ns()}")
    subprocess.run(["cp", "-a", node.store_src, evil], check=True)
    with open(os.path.join(evil, "images", node.image_id, "variants", "x86-64-v3", "sys.so"), "r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 64)
    tmp = link + ".new"
    os.symlink(evil, tmp)
    os.rename(tmp, link)
    # The plan holds (nothing it verified changed): the job runs the image it
    # verified, through the resolved id paths, never the swapped store's.
    after = launch(node)
    assert after.returncode == 0, after.stderr
    assert evil not in after.stdout and os.path.realpath(node.store) in after.stdout
    shutil.rmtree(evil, ignore_errors=True)


def test_unwritable_cache_falls_back_to_the_users_own_folder(node, workdir):
    locked = os.path.join(workdir, f"locked-cache-{time.time_ns()}")
    os.makedirs(locked, mode=0o755)  # root-owned: the job user cannot create u<uid>
    write_site_config(node.config, store=node.store, pubkeys=[node.pubkey], cache_dir=locked)
    p = launch(node)
    assert p.returncode == 0, p.stderr
    again = launch(node, env={"DEPOTDELIVERY_DEBUG": "1"})
    assert again.returncode == 0 and "debug" not in again.stderr, again.stderr  # the plan was used
    assert len(os.listdir(node.env["DEPOTDELIVERY_FALLBACK_CACHE"])) == 1  # one folder, re-used


def test_full_cache_falls_back_to_scratch(node, workdir):
    full = os.path.join(workdir, f"full-cache-{time.time_ns()}")
    os.makedirs(full)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=1777", "tmpfs", full], check=True)
    try:
        with open(os.path.join(full, "filler"), "wb") as f:
            try:
                f.write(b"x" * (1 << 20))
            except OSError:
                pass
        write_site_config(node.config, store=node.store, pubkeys=[node.pubkey], cache_dir=full)
        p = launch(node)
        assert p.returncode == 0, p.stderr
    finally:
        subprocess.run(["umount", "-l", full])


def test_store_vanishing_mid_verification_is_unavailable_not_invalid(node, monkeypatch):
    from depotdelivery.errors import StoreUnavailable
    from depotdelivery.signing import load_public
    from depotdelivery.trust import TrustAnchors
    from depotdelivery.wrapper import verify
    img = verify.read_manifest(node.store_src, node.image_id, TrustAnchors.from_keys([load_public(node.pubkey)]))
    real = verify.hash_one
    moved = node.store_src + ".gone"

    def vanish_then_hash(img, f):
        if os.path.isdir(node.store_src):
            os.rename(node.store_src, moved)
        return real(img, f)
    monkeypatch.setattr(verify, "hash_one", vanish_then_hash)
    try:
        with pytest.raises(StoreUnavailable, match="vanished"):
            verify.verify_world(img, img.world("x86-64-v3"), threads=1)
    finally:
        os.rename(moved, node.store_src)


def test_concurrent_publishers_one_store(tiny_v3_build, hep_build, ci_keys, tmp_path):
    store = str(tmp_path / "store")
    procs = [subprocess.Popen([DD, "publish", b, "--store", store, "--key", ci_keys[0], "--channel", "stable",
                               "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for b in (tiny_v3_build, hep_build, tiny_v3_build)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1] for o in outs]
    versions = sorted(json.loads(o[0])["channel"]["version"] for o in outs)
    assert versions == [1, 2, 3]
    listing = json.loads(run([DD, "ls", "--store", store, "--json"], check=True).stdout)
    assert len(listing["images"]) == 2 and all("error" not in i for i in listing["images"])
