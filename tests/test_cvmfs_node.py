"""The node side on a CVMFS client mount (the FUSE stand-in of a CernVM-FS
2.11.5 client, tests/fakes/cvmfs_client.py): what the wrapper caches is
keyed on the repository root hash, because there a file's stat proves
nothing -- a same-size, same-mtime replacement in a new revision keeps
size, mtime, ctime, inode, device and mode."""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import tempfile

import pytest

import synthetic
from conftest import DD, DD_RUN, checkout, run
from depotdelivery.signing import generate

FAKES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakes")
sys.path.insert(0, FAKES)
import cvmfs_client  # noqa: E402

UNAVAILABLE = cvmfs_client.fuse_unavailable()
pytestmark = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"no CVMFS client stand-in: {UNAVAILABLE}")
SYSIMAGE = "variants/x86-64-v3/sys.so"


@pytest.fixture
def repo(job_user):
    """Revision 1 of a repository holding the synthetic image, mounted by
    the client stand-in where the site config says the store is."""
    top = pathlib.Path(tempfile.mkdtemp(prefix="dd-cvmfs-node-", dir="/tmp"))
    os.chmod(top, 0o755)
    key = generate()
    synthetic.write_build(str(top / "build"))
    pub = synthetic.publish(str(top / "build"), str(top / "rev1"), key)
    (top / "ci.pub").write_text(key.public().line())
    julia = top / "julia"
    julia.write_text('#!/bin/sh\necho "ARGV $*"\n')
    julia.chmod(0o755)
    cache = top / "cache"
    cache.mkdir()
    os.chmod(cache, 0o1777)
    mnt = top / "cvmfs" / "julia.test.org"
    mnt.mkdir(parents=True)
    os.chmod(top / "cvmfs", 0o755)
    config = top / "site.toml"
    checkout.write_site_config(str(config), stores=[str(mnt)], trusted_keys=[str(top / "ci.pub")],
                               cache_dir=str(cache), julia=str(julia))
    with cvmfs_client.mounted(str(top / "rev1"), str(mnt)) as m:
        ns = type("Repo", (), {})()
        ns.top, ns.mount, ns.mnt, ns.config, ns.image_id, ns.key = top, m, str(mnt), str(config), pub.image_id, key
        ns.next = 2
        yield ns
    shutil.rmtree(top, ignore_errors=True)


def new_revision(repo, change=None):
    """Publish a new revision: a copy of the current tree, with `change`
    (relative path -> bytes) written over it, same size and same mtime."""
    cur = repo.top / f"rev{repo.next - 1}"
    new = repo.top / f"rev{repo.next}"
    shutil.copytree(cur, new, symlinks=True)
    for rel, data in (change or {}).items():
        p = new / rel
        st = p.stat()
        os.chmod(p.parent, 0o755)
        p.unlink()
        p.write_bytes(data)
        os.chmod(p, st.st_mode & 0o777)
        os.utime(p, ns=(st.st_mtime_ns, st.st_mtime_ns))
    repo.mount.switch_revision(str(new))
    repo.next += 1


def launch(repo, user="ddjob", debug=True):
    env = {"DEPOTDELIVERY_CONFIG": repo.config, "DEPOTDELIVERY_LEVEL": "x86-64-v3",
           **({"DEPOTDELIVERY_DEBUG": "1"} if debug else {})}
    return run([DD_RUN, "--channel", "stable", "--", "julia", "job.jl"], user=user, env=env)


def tampered(repo):
    """The system image with other bytes of the same size, same mtime."""
    path = os.path.join(repo.mnt, "images", repo.image_id, SYSIMAGE)
    return {f"images/{repo.image_id}/{SYSIMAGE}": open(path, "rb").read().upper()}


def test_first_and_cached_launch_on_a_cvmfs_mount(repo):
    first = launch(repo)
    assert first.returncode == 0 and "ARGV" in first.stdout, first.stderr
    cached = launch(repo)
    assert cached.returncode == 0 and "debug" not in cached.stderr, cached.stderr  # the plan was used


def test_a_same_size_same_mtime_replacement_is_never_run_from_a_plan(repo):
    assert launch(repo).returncode == 0
    path = os.path.join(repo.mnt, "images", repo.image_id, SYSIMAGE)
    before = os.stat(path)
    new_revision(repo, tampered(repo))
    after = os.stat(path)
    # What a stat-keyed cache would see: nothing changed.
    assert (before.st_size, before.st_mtime_ns, before.st_ctime_ns, before.st_ino, before.st_dev) == \
           (after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino, after.st_dev)
    p = launch(repo)
    assert "new revision" in p.stderr  # the plan was refused for the right reason
    assert p.returncode == 65 and "sys.so" in p.stderr.splitlines()[-1], p.stderr


def test_roots_record_is_used_then_refused_after_a_new_revision(repo):
    env = {"DEPOTDELIVERY_CONFIG": repo.config, "DEPOTDELIVERY_LEVEL": "x86-64-v3"}
    assert run([DD, "verify", "--channel", "stable"], env=env).returncode == 0  # root, like the Prolog
    first = launch(repo, debug=False)
    assert first.returncode == 0, first.stderr
    new_revision(repo, tampered(repo))
    assert run([DD, "verify", "--channel", "stable"], env=env).returncode == 65
    p = launch(repo, user="ddjob2" if _has("ddjob2") else "ddjob")
    assert p.returncode == 65 and "sys.so" in p.stderr, p.stderr


def test_an_unchanged_new_revision_is_verified_again_and_runs(repo):
    assert launch(repo).returncode == 0
    new_revision(repo)  # any publish moves the root hash
    p = launch(repo)
    assert "new revision" in p.stderr and p.returncode == 0, p.stderr
    assert "debug" not in launch(repo).stderr


def test_a_revision_switch_during_verification_is_not_cached(repo, monkeypatch):
    """A TTL refresh can fall between two reads: the root hash read before
    verification differs from the one after, so nothing is stored from that
    verification, and it is done again on the new revision."""
    from depotdelivery.config import load_config
    from depotdelivery.trust import TrustAnchors
    from depotdelivery.wrapper import launch as full, verify
    monkeypatch.setenv("DEPOTDELIVERY_CONFIG", repo.config)
    cfg = load_config()
    img = verify.read_manifest(repo.mnt, repo.image_id, TrustAnchors.from_keys([repo.key.public()]))
    real = verify.verify_world
    calls = []

    def switch_once(img, world):
        calls.append(repo.mount.root_hash)
        watch = real(img, world)
        if len(calls) == 1:
            new_revision(repo)
        return watch
    monkeypatch.setattr(full, "verify_world", switch_once)
    watch, token, from_scratch = full._verify_image(cfg, os.getuid(), img, img.world("x86-64-v3"))
    assert from_scratch and len(calls) == 2
    assert token[2].decode() == repo.mount.root_hash  # the token of the revision actually hashed


def _has(user):
    import pwd
    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False
