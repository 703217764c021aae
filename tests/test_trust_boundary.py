"""The trust boundary on a synthetic image (no Julia): the closed world
refuses whatever a store writer plants where Julia looks, verification
hashes what it reads even while a writer races it, rollback state protects
every user of a node, and both launch paths build the same job."""

from __future__ import annotations

import json
import os
import pathlib
import pwd
import shutil
import stat
import subprocess
import tempfile
import threading

import pytest

import synthetic
from conftest import DD_RUN, checkout, run
from depotdelivery.closedworld import closed_world
from depotdelivery.errors import ImageInvalid
from depotdelivery.signing import generate
from depotdelivery.trust import TrustAnchors
from depotdelivery.wrapper import seennames, verify

USERS = ("ddjob", "ddjob2")


@pytest.fixture(scope="module")
def users():
    for u in USERS:
        try:
            pwd.getpwnam(u)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", u], check=True)
    return USERS


@pytest.fixture
def site():
    """A store with the synthetic image on channel `stable`, a site config
    and a root-owned sticky node cache; `julia` is a stand-in that prints its
    arguments and environment.  World-readable, as on a cluster (pytest's
    own temporary folders are private to root)."""
    top = pathlib.Path(tempfile.mkdtemp(prefix="dd-site-", dir="/tmp"))
    os.chmod(top, 0o755)
    key = generate()
    build = top / "build"
    synthetic.write_build(str(build))
    pub = synthetic.publish(str(build), str(top / "store"), key)
    julia = top / "julia"
    julia.write_text('#!/bin/sh\necho "ARGV $0 $*"\nenv | sort\n')
    julia.chmod(0o755)
    pubkey = top / "ci.pub"
    pubkey.write_text(key.public().line())
    cache = top / "cache"
    cache.mkdir()
    os.chmod(cache, 0o1777)
    config = top / "site.toml"
    checkout.write_site_config(str(config), stores=[pub.store], trusted_keys=[str(pubkey)], cache_dir=str(cache),
                               julia=str(julia))
    for p in (top, *top.rglob("*")):
        if p.is_dir() and p != cache:
            os.chmod(p, 0o755)
    ns = type("Site", (), {})()
    ns.top, ns.key, ns.store, ns.image_id, ns.manifest = top, key, pub.store, pub.image_id, pub.manifest
    ns.config, ns.cache, ns.anchors = str(config), str(cache), TrustAnchors.from_keys([key.public()])
    ns.image_dir = os.path.join(pub.store, "images", pub.image_id)
    yield ns
    shutil.rmtree(top, ignore_errors=True)


def launch(site, user="ddjob", *command, env=None):
    e = {"DEPOTDELIVERY_CONFIG": site.config, "DEPOTDELIVERY_LEVEL": "x86-64-v3", **(env or {})}
    return run([DD_RUN, "--channel", "stable", "--", *(command or ("julia", "job.jl"))], user=user, env=e)


def verify_now(site, level="x86-64-v3"):
    img = verify.read_manifest(site.store, site.image_id, site.anchors)
    return verify.verify_world(img, img.world(level))


def plant(path, what="file"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if what == "dir":
        os.makedirs(path)
    else:
        with open(path, "wb") as f:
            f.write(b"module Evil; run(`touch /tmp/pwned`); end\n")


# -- the closed world, as a pure rule ----------------------------------------------------------

def test_the_world_explains_every_probe_julia_makes(site):
    w = closed_world(site.manifest, site.image_id, "x86-64-v3")
    img = f"images/{site.image_id}"
    assert w.explain(f"{img}/variants/x86-64-v3/sys.so") == "verified file"
    assert w.explain(f"{img}/project") == "verified folder"
    assert "closed" in w.explain(f"{img}/project/JuliaProject.toml")
    assert "closed" in w.explain(f"{img}/depot/environments/v1.5")
    assert "closed" in w.explain(f"{img}/depot/compiled/v1.5/Statistics")
    assert "allows only" in w.explain("pool/compiled/v1.5/Statistics/x.ji")
    assert "allows only" in w.explain("pool/environments/v1.5")
    assert w.explain("pool/packages/A/QnyP") == "proven absent (named in the closed world)"
    assert w.explain("pool/artifacts/Overrides.toml") == "proven absent (named in the closed world)"
    # Another image's package: Julia never probes it for this image.
    assert w.explain("pool/packages/B/zzzzz/src/B.jl") is None


# -- a store writer plants things ---------------------------------------------------------------

PLANTED = [
    "images/{id}/project/JuliaProject.toml",
    "images/{id}/project/JuliaManifest.toml",
    "images/{id}/depot/compiled/v1.5/A/evil_E2Cxe.ji",
    "images/{id}/depot/compiled/v1.5/Statistics/evil.ji",
    "images/{id}/depot/environments/v1.5/Project.toml",
    "images/{id}/depot/artifacts/Overrides.toml",
    "images/{id}/variants/x86-64-v3/sys.ji",
    "pool/compiled/v1.5/Statistics/evil.ji",
    "pool/environments/v1.5/Project.toml",
    "pool/registries/General/Registry.toml",
    "pool/config/startup.jl",
    "pool/artifacts/Overrides.toml",
    "pool/packages/A/QnyP/src/A.jl",
    "pool/packages/A/QnyPs/src/evil.jl",
    "pool/packages/A/QnyPs/JuliaProject.toml",
]


@pytest.mark.parametrize("where", PLANTED)
def test_a_file_planted_where_julia_looks_is_refused_by_name(site, where):
    rel = where.format(id=site.image_id)
    plant(os.path.join(site.store, rel))
    with pytest.raises(ImageInvalid) as e:
        verify_now(site)
    # The message names the planted path (or the closest folder of it).
    assert any(rel.startswith(part) or part in rel for part in e.value.message.split() if "/" in part), \
        e.value.message


@pytest.mark.parametrize("where", ["pool/packages/B/zzzzz/src/B.jl", "images/{other}/project/Project.toml",
                                   "pool/packages/A/Xyz12/src/A.jl", "channels/other/0000000001.json"])
def test_other_images_entries_where_julia_never_looks_are_fine(site, where):
    plant(os.path.join(site.store, where.format(other="f" * 64)))
    assert verify_now(site)


def test_a_symlink_swapped_for_a_file_or_a_folder_is_refused(site):
    sysimage = os.path.join(site.image_dir, "variants/x86-64-v3/sys.so")
    copy = os.path.join(site.top, "sys.so.copy")
    shutil.copy(sysimage, copy)
    os.chmod(os.path.dirname(sysimage), 0o755)
    os.unlink(sysimage)
    os.symlink(copy, sysimage)
    with pytest.raises(ImageInvalid, match="symbolic link"):
        verify_now(site)


def test_a_folder_swapped_for_a_symlink_is_refused(site):
    src = os.path.join(site.store, "pool/packages/A/QnyPs/src")
    shutil.copytree(src, src + ".copy")
    shutil.rmtree(src)
    os.symlink(src + ".copy", src)
    with pytest.raises(ImageInvalid):
        verify_now(site)


def test_a_marker_cvmfscatalog_is_allowed_only_empty(site):
    marker = os.path.join(site.image_dir, ".cvmfscatalog")
    assert os.path.exists(marker) and verify_now(site)
    os.chmod(site.image_dir, 0o755)
    with open(marker, "wb") as f:
        f.write(b"not empty")
    with pytest.raises(ImageInvalid, match="cvmfscatalog"):
        verify_now(site)


# -- hash what you read ---------------------------------------------------------------------------

def test_verification_never_vouches_for_bytes_it_did_not_hash(site):
    """A writer swaps the system image between good and bad bytes (rename
    over, and rewrite in place) as fast as it can while verification runs
    again and again: whatever stat a successful verification keeps must
    still name good bytes whenever that stat is seen again."""
    path = os.path.join(site.image_dir, "variants/x86-64-v3/sys.so")
    os.chmod(os.path.dirname(path), 0o755)
    good = synthetic.FILES[("image", "variants/x86-64-v3/sys.so")]
    bad = good.upper()
    stop = threading.Event()
    vouched = []

    def writer():
        i = 0
        while not stop.is_set():
            data = bad if i % 2 else good
            if i % 3:
                with open(path + ".new", "wb") as f:
                    f.write(data)
                os.rename(path + ".new", path)
            else:
                with open(path, "r+b") as f:
                    f.write(data)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(400):
            try:
                watch = dict(verify_now(site))
            except ImageInvalid:
                continue
            vouched.append(watch[path])
    finally:
        stop.set()
        t.join()
    # Replay: for every stat ever vouched for, whenever the file shows that
    # stat, its bytes are the good ones (stat keys include ctime, which
    # only moves forward, so a vouched stat cannot come back with bad bytes).
    with open(path, "wb") as f:
        f.write(good)
    st = os.lstat(path)
    now = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_mode)
    assert now not in vouched or open(path, "rb").read() == good
    for key in vouched:
        assert key[0] == len(good)
    assert vouched, "no verification succeeded: the race test did not race"


def test_a_file_rewritten_while_it_is_hashed_is_refused(site, monkeypatch):
    path = os.path.join(site.image_dir, "variants/x86-64-v3/sys.so")
    real_readv = os.readv

    def readv_then_rewrite(fd, bufs):
        n = real_readv(fd, bufs)
        if n and os.fstat(fd).st_ino == os.lstat(path).st_ino:
            with open(path, "r+b") as f:  # same size, other bytes, same inode
                f.write(bytes(bufs[0][:n]).upper())
        return n
    monkeypatch.setattr(os, "readv", readv_then_rewrite)
    with pytest.raises(ImageInvalid, match="changed while it was verified|does not match"):
        verify_now(site)


# -- node-wide rollback state ---------------------------------------------------------------------

def test_a_rollback_seen_by_one_user_protects_another(site, users):
    from depotdelivery import channels
    from depotdelivery.builder.publish import set_channel
    from depotdelivery.stores import open_store
    from datetime import timedelta
    set_channel(open_store(site.store), "stable", site.image_id, site.key, expires_in=timedelta(days=1))
    assert channels.versions(site.store, "stable") == [1, 2]
    first = launch(site, users[0])
    assert first.returncode == 0, first.stderr
    # The attacker removes version 2: version 1 (validly signed) is newest again.
    os.unlink(channels.record_path(site.store, "stable", 2))
    other = launch(site, users[1])  # never launched on this node before
    assert other.returncode == 65 and "rollback" in other.stderr, other.stderr
    again = launch(site, users[0])  # the fast path must not run on its old plan either
    assert again.returncode == 65 and "rollback" in again.stderr, again.stderr


def test_no_user_can_lower_the_node_wide_state(site, users):
    assert launch(site, users[0]).returncode == 0
    seen = [n for n in os.listdir(site.cache) if n.startswith("seen-")]
    assert seen and os.stat(os.path.join(site.cache, seen[0])).st_uid == pwd.getpwnam(users[0]).pw_uid
    p = run(["rm", "-f", os.path.join(site.cache, seen[0])], user=users[1])
    assert p.returncode != 0 and os.path.exists(os.path.join(site.cache, seen[0]))


def test_a_planted_seen_file_cannot_raise_the_state(site, users):
    from depotdelivery import channels
    from depotdelivery.wrapper import seen
    data = channels.read_record(site.store, "stable", 1)
    pre = seennames.prefix(site.store, "stable")
    with open(os.path.join(site.cache, seennames.name(pre, 9, "0" * 16)), "wb") as f:
        f.write(data)  # a genuine record of version 1, claiming to be version 9
    assert seen.highest_seen([site.cache], site.store, "stable", site.anchors) == 0
    p = launch(site, users[1])
    assert p.returncode == 0, p.stderr
    assert seen.highest_seen([site.cache], site.store, "stable", site.anchors) == 1


def test_records_seen_for_a_longer_channel_name_leave_the_plan_in_use(site, users):
    assert launch(site, users[0]).returncode == 0
    # Channel `stable-next` shares the prefix `seen-...-stable-`: a record of it,
    # whatever its version, says nothing about `stable`.
    nxt = seennames.prefix(site.store, "stable-next")
    with open(os.path.join(site.cache, seennames.name(nxt, 7, "0" * 16)), "wb") as f:
        f.write(b"not read")
    p = launch(site, users[0], env={"DEPOTDELIVERY_DEBUG": "1"})
    assert p.returncode == 0 and "not used" not in p.stderr, p.stderr


@pytest.mark.parametrize("name, version", [
    ("seen-0000abcd-x-0000000003-0123456789abcdef", 3),
    ("seen-0000abcd-x-y-0000000003-0123456789abcdef", -1),   # channel x-y
    ("seen-0000abcd-x-000000003-0123456789abcdef", -1),      # nine digits
    ("seen-0000abcd-x-00000000３3-0123456789abcdef", -1),    # a non-ASCII digit
    ("seen-0000abcd-x-0000000003-0123456789abcdef.tmp-12", -1),
    ("seen-0000abcd-xy-0000000003-0123456789abcdef", -1),
])
def test_which_names_are_records_of_a_channel(name, version):
    assert seennames.version_in(name, "seen-0000abcd-x-") == version


# -- one launch plan ----------------------------------------------------------------------------

@pytest.mark.parametrize("command", [("julia", "job.jl", "--flag"), ("/usr/bin/env",)])
def test_full_and_fast_path_give_the_same_argv_and_environment(site, users, command):
    env = {"DEPOTDELIVERY_DEBUG": "1", "PATH": "/opt/site/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    full = launch(site, users[0], *command, env=env)
    fast = launch(site, users[0], *command, env=env)
    assert full.returncode == 0 and fast.returncode == 0, (full.stderr, fast.stderr)
    assert "not used" not in fast.stderr  # the second launch used the plan
    assert full.stdout == fast.stdout
    path = next(l for l in full.stdout.splitlines() if l.startswith("PATH="))
    assert path.endswith(":/opt/site/bin:/usr/sbin:/usr/bin:/sbin:/bin")  # extended, never replaced
    assert "JULIA_LOAD_PATH=@:@stdlib" in full.stdout.splitlines()


def test_the_fast_path_says_why_it_does_not_use_a_plan(site, users):
    assert launch(site, users[0]).returncode == 0
    plant(os.path.join(site.store, "pool/packages/A/QnyPs/src/evil.jl"))
    p = launch(site, users[0], env={"DEPOTDELIVERY_DEBUG": "1"})
    assert "not used" in p.stderr and "changed" in p.stderr
    assert p.returncode == 65 and "evil.jl" in p.stderr.splitlines()[-1]


# -- the node cache -----------------------------------------------------------------------------

def test_a_cache_folder_pre_created_by_another_user_keeps_launches_fast(site, users):
    shutil.rmtree(site.cache)
    os.makedirs(site.cache, mode=0o755)
    os.chown(site.cache, pwd.getpwnam(users[0]).pw_uid, -1)  # users[0] made it: others cannot write
    env = {"DEPOTDELIVERY_DEBUG": "1", "DEPOTDELIVERY_FALLBACK_CACHE": str(site.top / "tmp")}
    os.makedirs(env["DEPOTDELIVERY_FALLBACK_CACHE"], mode=0o1777)
    os.chmod(env["DEPOTDELIVERY_FALLBACK_CACHE"], 0o1777)
    first = launch(site, users[1], env=env)
    second = launch(site, users[1], env=env)
    assert first.returncode == 0 and second.returncode == 0, (first.stderr, second.stderr)
    assert "not used" not in second.stderr and "no usable" not in second.stderr
    # One private folder for that user, re-used: nothing leaks per launch.
    assert len(os.listdir(env["DEPOTDELIVERY_FALLBACK_CACHE"])) == 1
    st = os.stat(os.path.join(env["DEPOTDELIVERY_FALLBACK_CACHE"], os.listdir(env["DEPOTDELIVERY_FALLBACK_CACHE"])[0]))
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == pwd.getpwnam(users[1]).pw_uid


def test_the_level_override_never_raises_above_the_site_cap(site, users):
    checkout.write_site_config(site.config, stores=[site.store], trusted_keys=[str(site.top / "ci.pub")],
                               cache_dir=site.cache, julia=str(site.top / "julia"), max_level="x86-64")
    p = launch(site, users[0], "julia", env={"DEPOTDELIVERY_LEVEL": "x86-64-v3"})
    assert p.returncode == 0, p.stderr
    assert "variants/x86-64/sys.so" in p.stdout and "x86-64-v3/sys.so" not in p.stdout


# -- run --dry-run ------------------------------------------------------------------------------

def test_dry_run_prints_the_command_and_the_whole_environment(site, users):
    env = {"DEPOTDELIVERY_CONFIG": site.config, "DEPOTDELIVERY_LEVEL": "x86-64-v3", "MY_JOB_VAR": "kept"}
    p = run([DD_RUN, "--channel", "stable", "--dry-run", "--json", "--", "julia", "job.jl"], user=users[0], env=env)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["argv"][-1] == "job.jl" and out["argv"][1] == "-J" and out["variant"] == "x86-64-v3"
    assert out["env"]["MY_JOB_VAR"] == "kept" and out["env"]["JULIA_LOAD_PATH"] == "@:@stdlib"
    assert "JULIA_DEPOT_PATH" in out["set_by_depotdelivery"] and "MY_JOB_VAR" not in out["set_by_depotdelivery"]
    # What it prints is what a real launch gets.
    real = launch(site, users[0], "julia", "job.jl", env={"MY_JOB_VAR": "kept"})
    got = dict(l.split("=", 1) for l in real.stdout.splitlines()[1:] if "=" in l)
    for name in [*out["set_by_depotdelivery"], "MY_JOB_VAR"]:
        assert got[name] == out["env"][name], name
    assert real.stdout.splitlines()[0] == "ARGV " + " ".join(out["argv"])
    text = run([DD_RUN, "--channel", "stable", "--dry-run", "--", "julia", "job.jl"], user=users[0], env=env)
    assert text.stdout.splitlines()[1].startswith("exec ") and "* JULIA_LOAD_PATH=@:@stdlib" in text.stdout


def test_json_without_dry_run_is_a_usage_error(site, users):
    p = run([DD_RUN, "--channel", "stable", "--json", "--", "julia"], user=users[0],
            env={"DEPOTDELIVERY_CONFIG": site.config})
    assert p.returncode == 64 and len(p.stderr.strip().splitlines()) == 1 and "--dry-run" in p.stderr
