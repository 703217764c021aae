"""Building and publishing: bad inputs fail early with one line and leave
nothing behind; publishing is atomic, deduplicated and refuses to overwrite."""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import DD, EXAMPLE, NODE_STORE, TINY, run
from depotdelivery.model import is_image_id

pytestmark = pytest.mark.julia


def one_line_error(p, code=None):
    assert p.returncode != 0
    if code is not None:
        assert p.returncode == code, p.stderr
    lines = [l for l in p.stderr.strip().splitlines() if l.startswith("depotdelivery: ") and ": error" in l
             or l.startswith("depotdelivery: usage") or l.startswith("depotdelivery: build")
             or l.startswith("depotdelivery: config") or l.startswith("depotdelivery: publish")]
    assert lines, p.stderr
    assert "Traceback" not in p.stderr
    return lines[-1]


@pytest.fixture
def project(tmp_path):
    """A writable copy of the tiny project to break in different ways."""
    d = tmp_path / "proj"
    shutil.copytree(TINY, d)
    return d


def build(project, out, *extra, levels="x86-64"):
    return run([DD, "build", str(project), "--levels", levels, "--out", str(out), *extra], timeout=900)


def test_malformed_project_toml(project, tmp_path):
    (project / "Project.toml").write_text("[deps\nTiny = 1")
    line = one_line_error(build(project, tmp_path / "out"), 64)
    assert "Project.toml" in line and "malformed TOML" in line
    assert not (tmp_path / "out").exists()


def test_missing_manifest(project, tmp_path):
    (project / "Manifest.toml").unlink()
    line = one_line_error(build(project, tmp_path / "out"), 64)
    assert "Manifest.toml not found" in line


def test_manifest_missing_a_dependency(project, tmp_path):
    text = (project / "Project.toml").read_text() + 'Other = "0b7a3a2e-5d0e-4d38-9c0e-2b9c0c8b3f11"\n'
    (project / "Project.toml").write_text(text)
    line = one_line_error(build(project, tmp_path / "out"), 64)
    assert "Other" in line


def test_unknown_level(project, tmp_path):
    line = one_line_error(build(project, tmp_path / "out", levels="x86-64,haswell"), 64)
    assert "unknown CPU level 'haswell'" in line


def test_missing_julia(project, tmp_path):
    line = one_line_error(build(project, tmp_path / "out", "--julia", "/nonexistent/julia"), 78)
    assert "Julia not found" in line


def test_package_in_no_registry(tmp_path, hep_registry):
    proj = tmp_path / "p"
    shutil.copytree(EXAMPLE, proj, ignore=shutil.ignore_patterns("packages"))
    man = (proj / "Manifest.toml").read_text()
    (proj / "Manifest.toml").write_text(man.replace("6401d8f1-a7f6-4e9b-8267-f31ec5ca19d1",
                                                    "6401d8f1-a7f6-4e9b-8267-000000000000"))
    (proj / "Project.toml").write_text((proj / "Project.toml").read_text().replace(
        "6401d8f1-a7f6-4e9b-8267-f31ec5ca19d1", "6401d8f1-a7f6-4e9b-8267-000000000000"))
    line = one_line_error(build(proj, tmp_path / "out", "--registry", hep_registry), 64)
    assert "FourVectors" in line and "no registry" in line


def test_workload_that_throws_fails_the_build_and_keeps_the_previous_one(project, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("previous build")
    (project / "bad.jl").write_text('using Tiny\nerror("boom in workload")\n')
    line = one_line_error(build(project, out, "--workload", str(project / "bad.jl")), 1)
    assert "bad.jl" in line and "boom in workload" in line
    assert (out / "manifest.json").read_text() == "previous build"
    assert not (tmp_path / "out.partial").exists()


def test_path_tracked_image_is_v3_only_and_records_every_file(tiny_v3_build):
    with open(os.path.join(tiny_v3_build, "manifest.json")) as f:
        m = json.load(f)
    assert [v["level"] for v in m["variants"]] == ["x86-64-v3"]
    dev = [f for f in m["files"] if f["root"] == "pool" and f["path"].startswith("dev/Tiny/")]
    assert dev and all(f["mtime_ns"] == 946684800 * 10**9 for f in dev)
    with open(os.path.join(tiny_v3_build, "build.json")) as f:
        assert json.load(f)["runtime_compiled"] == {"x86-64-v3": 0}


# -- publishing ----------------------------------------------------------------
def publish(build_dir, store, key, *extra):
    return run([DD, "publish", build_dir, "--store", str(store), "--key", key, "--json", *extra])


def test_publish_twice_writes_nothing_new(tiny_v3_build, ci_keys, tmp_path):
    store = tmp_path / "store"
    first = json.loads(publish(tiny_v3_build, store, ci_keys[0], "--channel", "dev").stdout)
    again = json.loads(publish(tiny_v3_build, store, ci_keys[0]).stdout)
    assert first["bytes_written"] > 0 and again["files_written"] == 0 and again["already_published"]
    p = run([DD, "ls", "--store", str(store), "--json"], check=True)
    listing = json.loads(p.stdout)
    assert listing["channels"]["dev"]["image"] == first["image_id"]


def test_store_with_different_bytes_under_the_same_name_is_refused(tiny_v3_build, ci_keys, tmp_path):
    store = tmp_path / "store"
    with open(os.path.join(tiny_v3_build, "manifest.json")) as f:
        src = next(x for x in json.load(f)["files"] if x["root"] == "pool")
    path = store / "pool" / src["path"]
    path.parent.mkdir(parents=True)
    path.write_text("someone else's bytes")
    line = one_line_error(publish(tiny_v3_build, store, ci_keys[0], "--channel", "dev"), 1)
    assert "different bytes" in line
    assert not (store / "images").exists() or not [d for d in os.listdir(store / "images") if not d.startswith(".")]
    assert not (store / "channels").exists()


def test_missing_or_wrong_key(tiny_v3_build, ci_keys, tmp_path):
    line = one_line_error(publish(tiny_v3_build, tmp_path / "s", str(tmp_path / "nokey.key")), 78)
    assert "nokey.key" in line
    line = one_line_error(publish(tiny_v3_build, tmp_path / "s", ci_keys[1]), 78)
    assert "not a depotdelivery secret key" in line


def test_unwritable_store_is_one_line(tiny_v3_build, ci_keys, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "--bind", "-o", "ro", str(ro), str(ro)], check=True)
    try:
        line = one_line_error(publish(tiny_v3_build, ro / "store", ci_keys[0]), 1)
        assert "not writable" in line
    finally:
        subprocess.run(["umount", str(ro)])


def test_a_publish_killed_at_any_moment_leaves_earlier_images_intact(tiny_v3_build, hep_build, ci_keys, tmp_path):
    store = tmp_path / "store"
    base = json.loads(publish(tiny_v3_build, store, ci_keys[0], "--channel", "stable").stdout)
    for delay in (0.2, 0.5, 1.0):
        p = subprocess.Popen([DD, "publish", hep_build, "--store", str(store), "--key", ci_keys[0],
                              "--channel", "stable"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        listing = json.loads(run([DD, "ls", "--store", str(store), "--json"], check=True).stdout)
        ids = {i["id"] for i in listing["images"]}
        assert base["image_id"] in ids and all("error" not in i for i in listing["images"])
        stable = listing["channels"]["stable"]["image"]
        assert stable in ids
    done = json.loads(publish(hep_build, store, ci_keys[0], "--channel", "stable").stdout)
    listing = json.loads(run([DD, "ls", "--store", str(store), "--json"], check=True).stdout)
    assert listing["channels"]["stable"]["image"] == done["image_id"]
    # A killed publish may leave its half-assembled folder behind, but only
    # under a hidden .tmp- name that readers never take for an image.
    names = os.listdir(store / "images")
    assert all(is_image_id(n) or n.startswith(".tmp-") for n in names), names
    assert {i["id"] for i in listing["images"]} == {n for n in names if is_image_id(n)}


def test_channel_rollback_is_a_new_version(tiny_v3_build, hep_build, ci_keys, tmp_path):
    store = str(tmp_path / "store")
    a = json.loads(publish(tiny_v3_build, store, ci_keys[0], "--channel", "stable").stdout)["image_id"]
    b = json.loads(publish(hep_build, store, ci_keys[0], "--channel", "stable").stdout)["image_id"]
    p = run([DD, "channel", "set", "stable", a[:12], "--store", store, "--key", ci_keys[0], "--json"], check=True)
    assert json.loads(p.stdout)["version"] == 3
    hist = json.loads(run([DD, "channel", "history", "stable", "--store", store, "--json"], check=True).stdout)
    assert [h["image"] for h in hist] == [a, b, a]


def test_republish_with_one_package_changed_writes_only_that_package_and_the_images(
        hep_build, ci_keys, tmp_path, workdir):
    """The pool is shared: a new build that changes one package publishes that
    package's files and the new image folder, nothing else."""
    from depotdelivery.builder.registry import create_registry, tree_sha1
    example = tmp_path / "example"
    shutil.copytree(EXAMPLE, example)
    src = example / "packages" / "HepHistograms" / "src" / "HepHistograms.jl"
    src.write_text(src.read_text() + "\n# A comment: a new git tree, the same code.\n")
    old_tree = tree_sha1(os.path.join(EXAMPLE, "packages", "HepHistograms"))
    new_tree = tree_sha1(str(example / "packages" / "HepHistograms"))
    man = example / "Manifest.toml"
    man.write_text(man.read_text().replace(old_tree, new_tree))
    registry = create_registry(sorted(str(p) for p in (example / "packages").iterdir()), str(tmp_path / "reg"))
    out = os.path.join(workdir, "build-hep-changed")
    p = run([DD, "build", str(example), "--levels", "x86-64", "--workload", str(example / "workload.jl"),
             "--out", out, "--registry", registry, "--store-path", NODE_STORE],
            timeout=3600)
    assert p.returncode == 0, p.stderr
    store = tmp_path / "store"
    json.loads(publish(hep_build, store, ci_keys[0]).stdout)
    before = {os.path.join(d, f) for d, _, fs in os.walk(store / "pool") for f in fs}
    res = json.loads(publish(out, store, ci_keys[0], "--channel", "stable").stdout)
    new_pool = {os.path.join(d, f) for d, _, fs in os.walk(store / "pool") for f in fs} - before
    assert new_pool and all("/pool/packages/HepHistograms/" in p for p in new_pool), sorted(new_pool)[:5]
    with open(os.path.join(out, "manifest.json")) as f:
        m = json.load(f)
    image_bytes = sum(x["size"] for x in m["files"] if x["root"] == "image")
    pool_bytes = sum(os.path.getsize(p) for p in new_pool)
    # manifest.json and manifest.sig are written too.
    assert image_bytes + pool_bytes <= res["bytes_written"] <= image_bytes + pool_bytes + 2 * 1024 * 1024
    assert res["files_reused"] > 0
