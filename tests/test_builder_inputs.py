"""A project's Project.toml and Manifest.toml are untrusted input: package
names become folder names and `using` lines, `path` entries name folders the
build copies into the image.  A hostile name or path is refused with one
line naming the entry (usage, 64) before anything is written or copied.
No Julia runs in this file."""

import os
import shutil

import pytest

from conftest import DD, TINY, run
from depotdelivery.builder.pipeline import _copy_within
from depotdelivery.builder.project import is_julia_identifier, read_project
from depotdelivery.errors import UsageError

UUID = "b55ff18c-85cc-4490-baeb-db2b392eeb89"


def write_project(d, *, project_name="Tiny", manifest):
    d.mkdir(exist_ok=True)
    (d / "Project.toml").write_text(f'name = "Job"\n[deps]\n"{project_name}" = "{UUID}"\n')
    (d / "Manifest.toml").write_text(manifest)
    return d


def tiny_manifest(name="Tiny", path="dev/Tiny"):
    return f'[["{name}"]]\npath = "{path}"\nuuid = "{UUID}"\nversion = "0.1.0"\n'


@pytest.fixture
def project(tmp_path):
    """The tiny path-tracked project, writable."""
    d = tmp_path / "proj"
    shutil.copytree(TINY, d)
    return d


@pytest.mark.parametrize("name", ["../../x", "a/b", "/abs", "..", "Tiny;run(`touch /tmp/x`)", "end",
                                  "2Tiny", "Ti ny", ""])
def test_a_package_name_that_is_no_julia_identifier_is_refused(tmp_path, name):
    d = write_project(tmp_path / "p", project_name=name, manifest=tiny_manifest(name))
    (d / "dev" / "Tiny").mkdir(parents=True)
    with pytest.raises(UsageError) as e:
        read_project(str(d))
    assert repr(name) in str(e.value) and "Julia identifier" in str(e.value)


def test_a_hostile_name_only_in_the_manifest_is_refused(tmp_path):
    # Project.toml is clean; the Manifest carries an extra entry whose name
    # Pkg would turn into packages/../../x.
    text = tiny_manifest() + '\n[["../../x"]]\ngit-tree-sha1 = "abc"\nuuid = "u2"\nversion = "1.0.0"\n'
    d = write_project(tmp_path / "p", manifest=text)
    (d / "dev" / "Tiny").mkdir(parents=True)
    with pytest.raises(UsageError, match=r"Manifest.toml: package name '../../x'"):
        read_project(str(d))


def test_hostile_names_in_a_format_2_manifest_are_refused(tmp_path):
    text = f'manifest_format = "2.0"\n[[deps.Tiny]]\npath = "dev/Tiny"\nuuid = "{UUID}"\n' \
           '[["deps"."x/../../y"]]\nuuid = "u2"\ngit-tree-sha1 = "abc"\n'
    d = write_project(tmp_path / "p", manifest=text)
    (d / "dev" / "Tiny").mkdir(parents=True)
    with pytest.raises(UsageError, match=r"'x/../../y'"):
        read_project(str(d))


def test_identifiers():
    assert all(is_julia_identifier(n) for n in ("Tiny", "Tiny_2", "_x", "HepAnalysis"))
    assert not any(is_julia_identifier(n) for n in ("Tiny.jl", "a-b", "a\nb", "module", "x\0"))


@pytest.mark.parametrize("path", ["../outside", "dev/../../outside", "{tmp}/outside", "..", "", "a\0b"])
def test_a_path_entry_outside_the_project_is_refused(tmp_path, path):
    (tmp_path / "outside").mkdir()  # it exists: only the rule keeps it out
    path = path.format(tmp=tmp_path).replace("\0", "\\u0000")
    d = write_project(tmp_path / "p", manifest=tiny_manifest(path=path))
    with pytest.raises(UsageError) as e:
        read_project(str(d))
    assert "package Tiny has path = " in str(e.value) and "\n" not in str(e.value)
    assert "outside the project folder" in str(e.value) or "not a folder name" in str(e.value)


def test_a_path_entry_that_is_not_text_is_refused(tmp_path):
    d = write_project(tmp_path / "p", manifest=f'[[Tiny]]\npath = 5\nuuid = "{UUID}"\n')
    with pytest.raises(UsageError, match="path = 5"):
        read_project(str(d))


def test_a_path_entry_that_stays_inside_is_accepted(project):
    (project / "Manifest.toml").write_text(tiny_manifest(path="dev/../dev/Tiny"))
    assert read_project(str(project)).entry("Tiny").path == "dev/../dev/Tiny"


def test_a_path_entry_through_a_link_to_outside_is_refused(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    d = write_project(tmp_path / "p", manifest=tiny_manifest())
    (d / "dev").mkdir()
    os.symlink(outside, d / "dev" / "Tiny")
    with pytest.raises(UsageError, match=r"package Tiny at dev/Tiny leads outside the project"):
        read_project(str(d))


def test_a_link_inside_a_package_to_a_file_outside_is_never_copied(tmp_path, project):
    secret = tmp_path / "secret"
    secret.write_text("not for the image")
    os.symlink(secret, project / "dev" / "Tiny" / "src" / "data.txt")
    dest = tmp_path / "copy"
    with pytest.raises(UsageError, match=r"package Tiny: src/data.txt links to .*secret, outside the project"):
        _copy_within(str(project / "dev" / "Tiny"), str(dest), str(project), "package Tiny")
    assert not any(f.name == "data.txt" for f in dest.rglob("*"))


def test_a_link_inside_a_package_to_a_file_inside_the_project_is_copied(tmp_path, project):
    (project / "notes.txt").write_text("shared")
    os.symlink(project / "notes.txt", project / "dev" / "Tiny" / "notes.txt")
    _copy_within(str(project / "dev" / "Tiny"), str(tmp_path / "copy"), str(project), "package Tiny")
    copied = tmp_path / "copy" / "notes.txt"
    assert copied.read_text() == "shared" and not copied.is_symlink()


# -- through the command line: one line, exit 64, nothing written ----------------
def build(project, out, *extra):
    return run([DD, "build", str(project), "--levels", "x86-64", "--out", str(out), *extra],
               env={"DEPOTDELIVERY_CONFIG": os.devnull}, timeout=120)


@pytest.mark.parametrize("manifest", [tiny_manifest(path="../../../../etc"), tiny_manifest(path="/etc"),
                                      tiny_manifest(name="../../x")])
def test_the_command_refuses_hostile_entries_in_one_line_and_writes_nothing(tmp_path, project, manifest):
    (project / "Manifest.toml").write_text(manifest)
    if "../../x" in manifest:
        (project / "Project.toml").write_text(f'[deps]\n"../../x" = "{UUID}"\n')
    before = sorted(os.listdir(tmp_path))
    p = build(project, tmp_path / "out")
    assert p.returncode == 64, p.stderr
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("depotdelivery: usage: "), p.stderr
    assert "Manifest.toml" in p.stderr or "Project.toml" in p.stderr
    assert "Traceback" not in p.stderr
    assert sorted(os.listdir(tmp_path)) == before


def test_the_command_refuses_an_out_folder_inside_a_path_tracked_package(tmp_path, project):
    p = build(project, project / "dev" / "Tiny" / "out")
    assert p.returncode == 64 and "inside path-tracked package Tiny" in p.stderr, p.stderr
    assert not (project / "dev" / "Tiny" / "out").exists()
