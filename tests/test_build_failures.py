"""Nothing half-made: a build that fails leaves no --out folder (an earlier
successful build there stays exactly as it was), nothing at --store-path,
and its logs in <out>.failed-logs, which the next successful build of the
same --out removes.  The failing builds here use a fake Julia that crashes
as Julia 1.5.3 does on bookworm's libunwind (SIGSEGV after printing a
success line); only the tests marked `julia` run the real one."""

import os
import shutil
import subprocess

import pytest

from conftest import DD, JULIA, REPO, TINY, run
from depotdelivery.builder.pipeline import _Exposure, _keep_failed_logs, _swap_into_place

CRASHING_JULIA = """#!/bin/sh
# Answers like Julia 1.5.3, then crashes in the first real step.
ulimit -c 0
case "$1" in --version) echo "julia version 1.5.3"; exit 0;; esac
echo '     Added registry `LocalRegistry` to `/x/registries/LocalRegistry`' >&2
kill -SEGV $$
"""


@pytest.fixture
def crashing_julia(tmp_path):
    path = tmp_path / "bin" / "julia"
    path.parent.mkdir()
    path.write_text(CRASHING_JULIA)
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def project(tmp_path):
    d = tmp_path / "proj"
    shutil.copytree(TINY, d)
    return d


def build(project, out, *extra, env=None):
    return run([DD, "build", str(project), "--levels", "x86-64", "--out", str(out), *extra],
               env={"DEPOTDELIVERY_CONFIG": os.devnull, **(env or {})}, timeout=900)


def error_line(p):
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr
    line = p.stderr.strip().splitlines()[-1]
    assert line.startswith("depotdelivery: build: "), p.stderr
    return line


def test_a_crashing_julia_is_reported_as_a_crash_of_the_step_it_ran(tmp_path, project, crashing_julia):
    p = build(project, tmp_path / "out", "--julia", crashing_julia)
    line = error_line(p)
    assert line.startswith("depotdelivery: build: add registries: Julia was killed by SIGSEGV")
    assert "Added registry" not in line
    log = tmp_path / "out.failed-logs" / "add-registries.log"
    assert line.endswith(f"full log in {log}") and "Added registry" in log.read_text()
    # Which Julia ran, and where it came from, was said first.
    assert f"Julia 1.5.3 at {crashing_julia} (--julia)" in p.stderr


def test_a_failed_build_leaves_no_out_folder_and_nothing_at_the_store_path(tmp_path, project, crashing_julia):
    store = tmp_path / "cvmfs" / "julia.test" / "depots"
    p = build(project, tmp_path / "out", "--julia", crashing_julia, "--store-path", str(store))
    error_line(p)
    assert sorted(os.listdir(tmp_path)) == ["bin", "out.failed-logs", "proj"]


def test_a_failed_build_without_store_path_leaves_no_out_folder(tmp_path, project, crashing_julia):
    # Julia then sees the depot at <out>/pool: the build made <out> for that link.
    error_line(build(project, tmp_path / "out", "--julia", crashing_julia))
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_an_earlier_successful_build_is_left_exactly_as_it_was(tmp_path, project, crashing_julia):
    out = tmp_path / "out"
    (out / "pool" / "packages").mkdir(parents=True)
    (out / "manifest.json").write_text("previous build")
    before = snapshot(out)
    error_line(build(project, out, "--julia", crashing_julia))
    assert snapshot(out) == before


def test_the_logs_of_the_latest_failure_replace_older_ones(tmp_path, project, crashing_julia):
    stale = tmp_path / "out.failed-logs" / "instantiate.log"
    stale.parent.mkdir()
    stale.write_text("an older failure")
    error_line(build(project, tmp_path / "out", "--julia", crashing_julia))
    assert os.listdir(tmp_path / "out.failed-logs") == ["add-registries.log"]


def test_a_leftover_partial_folder_of_a_killed_build_is_not_reused(tmp_path, project, crashing_julia):
    (tmp_path / "out.partial" / "logs").mkdir(parents=True)
    (tmp_path / "out.partial" / "logs" / "instantiate.log").write_text("from a killed build")
    error_line(build(project, tmp_path / "out", "--julia", crashing_julia))
    assert not (tmp_path / "out.partial").exists()
    assert os.listdir(tmp_path / "out.failed-logs") == ["add-registries.log"]


def snapshot(top):
    return sorted((os.path.relpath(os.path.join(d, n), top), os.lstat(os.path.join(d, n)).st_mtime_ns)
                  for d, dirs, files in os.walk(top) for n in dirs + files) + [os.lstat(top).st_mtime_ns]


# -- the pieces, on plain folders ---------------------------------------------------
def test_the_exposure_removes_its_link_and_the_folders_it_made(tmp_path):
    depot = tmp_path / "depot"
    depot.mkdir()
    (tmp_path / "cvmfs").mkdir()  # exists before: stays
    target = tmp_path / "cvmfs" / "repo" / "depots" / "pool"
    with pytest.raises(RuntimeError):
        with _Exposure(str(depot), str(target)):
            assert os.readlink(target) == str(depot)
            raise RuntimeError("a step failed")
    assert os.listdir(tmp_path / "cvmfs") == []


def test_the_exposure_keeps_folders_someone_else_filled(tmp_path):
    depot = tmp_path / "depot"
    depot.mkdir()
    target = tmp_path / "store" / "pool"
    with _Exposure(str(depot), str(target)):
        (tmp_path / "store" / "images").mkdir()  # another publisher, meanwhile
    assert os.listdir(tmp_path / "store") == ["images"]


def test_success_replaces_the_previous_build_and_clears_failed_logs(tmp_path):
    out, partial = tmp_path / "out", tmp_path / "out.partial"
    (out).mkdir()
    (out / "manifest.json").write_text("old")
    partial.mkdir()
    (partial / "manifest.json").write_text("new")
    (tmp_path / "out.failed-logs").mkdir()
    _swap_into_place(str(partial), str(out))
    assert (out / "manifest.json").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_failure_keeps_only_the_logs(tmp_path):
    partial = tmp_path / "out.partial"
    (partial / "logs").mkdir(parents=True)
    (partial / "logs" / "instantiate.log").write_text("why")
    (partial / "image").mkdir()
    _keep_failed_logs(str(tmp_path / "out"), str(partial))
    assert sorted(os.listdir(tmp_path)) == ["out.failed-logs"]
    assert (tmp_path / "out.failed-logs" / "instantiate.log").read_text() == "why"


# -- with the real Julia ---------------------------------------------------------------
@pytest.mark.julia
def test_without_julia_flag_outside_the_checkout_the_installed_julia_runs(tmp_path, project, crashing_julia):
    """The reported case: run from elsewhere with a crashing `julia` first on
    PATH, the build used it.  Now the Julia `make` installed in the checkout
    comes first (a stale link at --store-path then stops the build early)."""
    store = tmp_path / "store"
    store.mkdir()
    os.symlink("/nonexistent", store / "pool")
    env = {"PATH": f"{os.path.dirname(crashing_julia)}:{os.environ['PATH']}"}
    p = run([DD, "build", str(project), "--levels", "x86-64", "--out", str(tmp_path / "out"),
             "--store-path", str(store)], env={"DEPOTDELIVERY_CONFIG": os.devnull, **env}, cwd=tmp_path)
    assert f"Julia 1.5.3 at {JULIA} (installed by make in the source checkout)" in p.stderr, p.stderr
    assert "is a link left by another build" in p.stderr


@pytest.mark.julia
def test_the_next_successful_build_clears_the_failed_logs(tmp_path, project, crashing_julia):
    out = tmp_path / "out"
    error_line(build(project, out, "--julia", crashing_julia))
    assert (tmp_path / "out.failed-logs").is_dir()
    p = build(project, out, "--julia", JULIA, "--json")
    assert p.returncode == 0, p.stderr
    assert (out / "manifest.json").is_file()
    assert sorted(os.listdir(tmp_path)) == ["bin", "out", "proj"]


@pytest.mark.julia
@pytest.mark.parametrize("script,env,words", [
    ("instantiate.jl", {"DD_STEP": "bogus"}, 'unknown DD_STEP "bogus"'),
    ("instantiate.jl", {}, 'unknown DD_STEP ""'),
    ("sysimage.jl", {"DD_INIT_OUTPUT_O": "reinit_stdio,no_such_init", "DD_PACKAGES": "Tiny",
                     "DD_PRECOMPILE": os.devnull}, "Base.no_such_init is not defined"),
    ("sysimage.jl", {"DD_INIT_OUTPUT_O": "reinit_stdio", "DD_PACKAGES": "Tiny;run(`false`)",
                     "DD_PRECOMPILE": os.devnull}, "is not a Julia identifier"),
])
def test_the_build_scripts_refuse_what_they_do_not_know(tmp_path, script, env, words):
    path = os.path.join(REPO, "build", "julia", script)
    p = subprocess.run([JULIA, "--startup-file=no", path], env={**os.environ, **env, "DD_STATS": str(tmp_path / "s")},
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert p.returncode == 3
    dd = [l for l in p.stderr.splitlines() if l.startswith("DD-ERROR: ")]
    assert dd and words in dd[-1], p.stderr
