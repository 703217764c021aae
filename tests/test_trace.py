"""Proof by tracing: real jobs through the real wrapper under
`strace -f -e trace=file,desc`, and every path under the store root that
the job's Julia process opened, stat'ed or probed is either a file whose
bytes were verified or a path whose absence the closed world proves
(depotdelivery.closedworld.World.explain)."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from conftest import DD, run
from depotdelivery.closedworld import closed_world
from depotdelivery.model import parse_manifest

pytestmark = [pytest.mark.julia,
              pytest.mark.skipif(not shutil.which("strace"), reason="strace is installed by make (tools/setup-system.sh)")]
CPUINFO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cpuinfo", "amd-zen2-epyc-7702.x86-64-v3.txt")
STATISTICS = "10745b16-79ce-11e8-11f9-7d13ad32a3b2"

JOBS = {
    "example workload": ["julia", "-e", "using HepAnalysis; run_example(stdout)"],
    # Debian's sysimage holds every standard library, so the loader's search
    # for one an image lacks is driven directly: the same calls `require` makes.
    "stdlib search": ["julia", "-e", f'pkg = Base.PkgId(Base.UUID("{STATISTICS}"), "Statistics"); '
                      'println(Base.find_all_in_cache_path(pkg)); println(Base.locate_package(pkg)); '
                      'println(Base.identify_package("Statistics")); using Statistics'],
    "missing package": ["julia", "-e", "try; @eval using NoSuchPackage; catch e; println(\"missing\"); end"],
    "external program": ["julia", "-e", 'run(`sh -c "julia --version"`); println(pathof(Base.require(Main, :HepAnalysis)))'],
    "not julia": ["sh", "-c", "julia -e 'using HepHistograms; println(1)'"],
}


def julia_paths(trace: str, store: str) -> set[str]:
    """Store-relative paths touched after the first exec of a julia binary
    (the wrapper's own reads come before it)."""
    lines = trace.splitlines()
    start = next((i for i, l in enumerate(lines) if re.search(r'execve\("[^"]*/julia"', l)), None)
    assert start is not None, "no julia was exec'd"
    out = set()
    for line in lines[start:]:
        for p in re.findall(r'"(/[^"]*)"', line):
            p = os.path.normpath(p)
            if p == store or p.startswith(store + "/"):
                out.add(p[len(store):].strip("/"))
    return out


def traced(node, args, tag):
    out = os.path.join(node.cache_dir, f"trace-{tag}.txt")
    open(out, "w").close()
    os.chmod(out, 0o666)
    p = run(["strace", "-f", "-qq", "-o", out, "-e", "trace=file,desc", *node_cmd(node, args)],
            user="ddjob", env={"DEPOTDELIVERY_CONFIG": node.config, **node.env})
    with open(out) as f:
        return p, f.read()


def node_cmd(node, args):
    from conftest import DD_RUN
    return [DD_RUN, "--channel", "stable", "--cpuinfo", CPUINFO, "--", *args]


def world_of(node):
    mdata = open(os.path.join(node.store_src, "images", node.image_id, "manifest.json"), "rb").read()
    return closed_world(parse_manifest(mdata), node.image_id, "x86-64-v3")


def uncovered(world, paths):
    return sorted(p for p in paths if world.explain(p) is None)


@pytest.mark.parametrize("job", sorted(JOBS))
def test_every_store_path_a_job_touches_is_verified_or_proven_absent(node, job):
    world = world_of(node)
    for launch in ("first", "cached"):
        p, trace = traced(node, JOBS[job], f"{job.replace(' ', '-')}-{launch}")
        assert p.returncode == 0, (job, launch, p.stderr[-2000:])
        touched = julia_paths(trace, node.store)
        assert touched, "the trace saw nothing of the store: it proves nothing"
        assert uncovered(world, touched) == [], (job, launch)


def test_the_ab_fingerprint_touches_only_verified_or_absent_paths(node):
    out = os.path.join(node.cache_dir, "fp.json")
    trace_file = os.path.join(node.cache_dir, "trace-fingerprint.txt")
    open(trace_file, "w").close()
    os.chmod(trace_file, 0o666)
    p = run(["strace", "-f", "-qq", "-o", trace_file, "-e", "trace=file,desc", DD, "fingerprint",
             "--channel", "stable", "--cpuinfo", CPUINFO, "--out", out],
            user="ddjob", env={"DEPOTDELIVERY_CONFIG": node.config, **node.env})
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.load(open(out))
    touched = julia_paths(open(trace_file).read(), node.store)
    assert any(t.endswith("sys.so") for t in touched)  # the trace did see Julia start from the image
    assert uncovered(world_of(node), touched) == []


def test_the_job_environment_closes_the_load_path(node):
    p = node.run(["--channel", "stable", "--cpuinfo", CPUINFO, "--", "julia", "-e",
                  'println(join(LOAD_PATH, ";")); println(Base.load_path())'])
    assert p.returncode == 0, p.stderr
    first = p.stdout.splitlines()[0]
    assert first == "@;@stdlib"  # no @v#.#: no environments/ inside any depot is probed
