"""A store writer, as a property: anything planted anywhere under the store
root -- in every existing folder, and at every path Julia's loader probes --
either makes the launch fail closed (exit 65, one line) or leaves the job's
output identical with the planted thing never opened (traced).  For a first
launch, a launch from this user's plan, and a launch trusting root's record."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import DD, DD_RUN, NODE_STORE, _unmount_all, make_node, run
from test_trace import CPUINFO, julia_paths

pytestmark = [pytest.mark.julia,
              pytest.mark.skipif(not shutil.which("strace"), reason="strace is installed by make")]
JOB = ["julia", "-e", "using HepAnalysis, Statistics; println(pathof(HepAnalysis)); println(mean([1, 2]))"]
THINGS = ("julia-source", "project-toml", "manifest-toml", "ji", "so", "symlink", "folder")
NAMES = ("x.jl", "Project.toml", "JuliaProject.toml", "JuliaManifest.toml", "Manifest.toml", "Artifacts.toml",
         "Overrides.toml", "startup.jl", "evil.ji", "sys.so", "v1.5", "Statistics", "HepAnalysis")


@pytest.fixture(scope="module")
def writable_node(workdir, pristine_store, ci_keys, job_user):
    """One node for all examples: the store clone stays writable behind the
    read-only mount, and each example removes what it planted."""
    node = make_node(workdir, pristine_store, ci_keys[1], tag="writer")
    base = launch(node, traced_as="baseline")
    assert base[0].returncode == 0, base[0].stderr
    node.baseline = base[0].stdout
    node.places = places(node.store_src, node.image_id, julia_paths(base[1], NODE_STORE))
    yield node
    _unmount_all(NODE_STORE)


def places(src, image_id, probed):
    """Every folder of the store, every path the baseline job probed, and the
    paths Julia's loader would probe with a looser environment."""
    out = {""}
    for dirpath, dirnames, _ in os.walk(src):
        out.update(os.path.relpath(os.path.join(dirpath, d), src) for d in dirnames)
    out.update(probed)
    img = f"images/{image_id}"
    out.update({f"{img}/project/JuliaProject.toml", f"{img}/project/JuliaManifest.toml",
                f"{img}/depot/environments/v1.5", "pool/environments/v1.5", "pool/compiled/v1.5/Statistics",
                "pool/compiled/v1.5/HepAnalysis", "pool/artifacts/Overrides.toml", "pool/registries",
                f"{img}/depot/compiled/v1.5/Statistics", "pool/config/startup.jl"})
    for d in os.listdir(os.path.join(src, "pool", "packages")):
        for slug in os.listdir(os.path.join(src, "pool", "packages", d)):
            out.add(f"pool/packages/{d}/{slug[:4]}")
    return sorted(out)


def launch(node, traced_as, user="ddjob"):
    trace = os.path.join(node.cache_dir, f"trace-{traced_as}.txt")
    open(trace, "w").close()
    os.chmod(trace, 0o666)
    p = run(["strace", "-f", "-qq", "-o", trace, "-e", "trace=file,desc", DD_RUN, "--channel", "stable",
             "--cpuinfo", CPUINFO, "--", *JOB], user=user, env={"DEPOTDELIVERY_CONFIG": node.config, **node.env})
    with open(trace) as f:
        return p, f.read()


def plant(src, place, name, thing):
    """Put `thing` at `place` (inside it, as `name`, when it is a folder);
    -> (store-relative path planted, paths to remove afterwards)."""
    target = os.path.join(src, place)
    if os.path.isdir(target) and not os.path.islink(target):
        target = os.path.join(target, name)
    if os.path.lexists(target):
        target = target + ".planted"
    made = []
    parent = os.path.dirname(target)
    while not os.path.exists(parent):
        made.append(parent)
        parent = os.path.dirname(parent)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if thing == "folder":
        os.makedirs(os.path.join(target, "src"))
        with open(os.path.join(target, "src", "HepAnalysis.jl"), "w") as f:
            f.write('module HepAnalysis; println("PLANTED"); end\n')
    elif thing == "symlink":
        os.symlink("/etc/passwd", target)
    else:
        data = {"julia-source": b'println("PLANTED")\n',
                "project-toml": b'name = "Evil"\n[deps]\nStatistics = "10745b16-79ce-11e8-11f9-7d13ad32a3b2"\n',
                "manifest-toml": b'[[HepAnalysis]]\npath = "/tmp/evil"\nuuid = "00000000-0000-0000-0000-000000000000"\n',
                "ji": b"JIJI\x00" * 20, "so": b"\x7fELF" + b"\x00" * 60}[thing]
        with open(target, "wb") as f:
            f.write(data)
    return os.path.relpath(target, src), [target, *reversed(made)]


def unplant(paths):
    for p in paths:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        elif os.path.lexists(p):
            os.unlink(p)


def clear_user_cache(node):
    uid = int(subprocess.run(["id", "-u", "ddjob"], capture_output=True, text=True).stdout)
    shutil.rmtree(os.path.join(node.cache_dir, f"u{uid}"), ignore_errors=True)


@settings(max_examples=int(os.environ.get("DEPOTDELIVERY_WRITER_EXAMPLES", "24")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(NAMES), thing=st.sampled_from(THINGS),
       path=st.sampled_from(("first", "cached", "root-record")))
def test_anything_a_store_writer_plants_fails_closed_or_is_never_read(writable_node, data, name, thing, path):
    node = writable_node
    place = data.draw(st.sampled_from(node.places), label="place")
    clear_user_cache(node)
    shutil.rmtree(os.path.join(node.cache_dir, "u0"), ignore_errors=True)
    if path == "cached":
        assert launch(node, "warm")[0].returncode == 0  # this user's plan and record now exist
    elif path == "root-record":
        p = run([DD, "verify", "--channel", "stable", "--cpuinfo", CPUINFO], env={"DEPOTDELIVERY_CONFIG": node.config})
        assert p.returncode == 0, p.stderr  # root's record, as the Slurm Prolog leaves it
    rel, cleanup = plant(node.store_src, place, name, thing)
    try:
        p, trace = launch(node, "planted")
    finally:
        unplant(cleanup)
    event(f"{path}: exit {p.returncode}")
    if p.returncode == 65:
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert "PLANTED" not in p.stdout
        return
    assert p.returncode == 0, (rel, thing, path, p.stderr)
    assert p.stdout == node.baseline, (rel, thing, path)
    touched = julia_paths(trace, NODE_STORE)
    assert not [t for t in touched if t == rel or t.startswith(rel + "/")], (rel, thing, path)
