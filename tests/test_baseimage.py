"""Which standard libraries a slim base keeps, and how Julia's sysimg.jl is
rewritten to load only those.  Pure functions over data; the real Julia's
standard library folder and sysimg.jl are read where they exist."""

import os
import re
import shutil

import pytest

from conftest import DD, TINY, run
from depotdelivery.builder.baseimage import (ALWAYS_KEPT, choose_stdlibs, named_in_trace, read_stdlib_deps,
                                             rewrite_sysimg)
from depotdelivery.builder.project import read_project
from depotdelivery.errors import BuildError, UsageError

JULIA_STDLIB = "/usr/share/julia/stdlib/v1.5"
JULIA_SYSIMG = "/usr/share/julia/base/sysimg.jl"

# A slice of Julia 1.5's standard libraries and their dependencies.
AVAILABLE = {
    "Base64": (), "Dates": ("Printf",), "Libdl": (), "LinearAlgebra": ("Libdl",), "Printf": ("Unicode",),
    "Random": ("Serialization",), "SHA": (), "Serialization": (), "SparseArrays": ("LinearAlgebra", "Random"),
    "Statistics": ("LinearAlgebra", "SparseArrays"), "Test": ("Random",), "Unicode": (),
}


def test_the_project_s_libraries_and_everything_they_need_are_kept_the_rest_left_out():
    c = choose_stdlibs(AVAILABLE, project=["Statistics", "Printf"], traced=[], keep=[])
    assert set(c.kept) == {"Statistics", "LinearAlgebra", "Libdl", "SparseArrays", "Random", "Serialization",
                           "Printf", "Unicode", *ALWAYS_KEPT}
    assert c.left_out == ("Base64", "Dates", "Test")
    assert c.why["Statistics"] == "the project's manifest"
    assert c.why["SparseArrays"] == "needed by Statistics"
    assert c.why_kept("Dates").startswith("left out")


def test_every_library_is_loaded_after_the_ones_it_depends_on():
    c = choose_stdlibs(AVAILABLE, project=sorted(AVAILABLE), traced=[], keep=[])
    for name in c.kept:
        for dep in AVAILABLE[name]:
            assert c.kept.index(dep) < c.kept.index(name), (dep, name)


def test_libraries_the_trace_names_and_the_ones_asked_for_are_kept():
    c = choose_stdlibs(AVAILABLE, project=[], traced=["Dates"], keep=["Test"])
    assert {"Dates", "Printf", "Unicode", "Test", "Random", "Serialization", "SHA"} == set(c.kept)
    assert c.why["Dates"] == "the traced workload" and c.why["Test"] == "asked to keep"


def test_an_unknown_name_is_refused_naming_it():
    with pytest.raises(BuildError, match="standard library Nope .asked to keep. is not one of"):
        choose_stdlibs(AVAILABLE, project=[], traced=[], keep=["Nope"])


def test_the_trace_names_a_library_only_as_a_module_prefix_not_bases_own_submodule():
    text = ("precompile(Tuple{typeof(Dates.year), Dates.Date})\n"
            "precompile(Tuple{typeof(Base.Unicode.normalize), String})\n"
            "precompile(Tuple{typeof(Main.MyRandom.f), Int64})\n")
    assert named_in_trace(text, AVAILABLE) == {"Dates"}


@pytest.mark.skipif(not os.path.isdir(JULIA_STDLIB), reason="Julia 1.5 not installed")
def test_julia_s_own_dependency_lists_are_read():
    deps = read_stdlib_deps(JULIA_STDLIB)
    assert deps["Statistics"] == ("LinearAlgebra", "SparseArrays")
    assert deps["SHA"] == ()
    assert len(deps) >= 25


@pytest.mark.skipif(not os.path.isfile(JULIA_SYSIMG), reason="Julia 1.5 sources not installed")
def test_julia_s_sysimg_jl_gets_exactly_the_chosen_list():
    with open(JULIA_SYSIMG) as f:
        text = f.read()
    new = rewrite_sysimg(text, ["Libdl", "SHA"])
    assert re.search(r"stdlibs = \[:Libdl, :SHA\]", new)
    assert ":REPL" not in new and ":Pkg," not in new
    assert new.startswith(text[:text.index("stdlibs = [")])  # nothing else changed before the list


def test_a_sysimg_jl_without_the_list_is_refused():
    with pytest.raises(BuildError, match="--stdlibs all"):
        rewrite_sysimg("Core.include(Main, \"Base.jl\")\n", ["SHA"])


def test_a_project_names_libraries_to_keep_in_project_toml(tmp_path):
    d = tmp_path / "p"
    shutil.copytree(TINY, d)
    plain = (d / "Project.toml").read_text()
    (d / "Project.toml").write_text(plain + '\n[depotdelivery]\nkeep-stdlibs = ["Dates", "Test"]\n')
    assert read_project(str(d)).keep_stdlibs == ("Dates", "Test")
    (d / "Project.toml").write_text(plain + '\n[depotdelivery]\nkeep-stdlibs = "Dates"\n')
    with pytest.raises(UsageError, match="keep-stdlibs must be a list"):
        read_project(str(d))


def test_an_unknown_library_to_keep_is_refused_before_anything_is_built(tmp_path):
    out = tmp_path / "out"
    r = run([DD, "build", TINY, "--levels", "x86-64", "--out", str(out), "--keep-stdlib", "Dates,Nope"])
    assert r.returncode == 64, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[-1] == (f"depotdelivery: usage: --keep-stdlib: Nope is not a standard library of Julia 1.5.3 "
                         f"(those are the folders in {JULIA_STDLIB}); check the name")
    assert not out.exists() and not os.path.exists(str(out) + ".partial")
