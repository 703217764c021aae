"""Read and check a Julia project (Project.toml + Manifest.toml).

Errors here are the user's input: each names the file and what to fix.
Both manifest formats are read: Julia <= 1.6 (top-level package tables) and
Julia >= 1.7 (`manifest_format = "2.0"`, packages under `[deps]`).

The files are untrusted input to a build that writes and copies files:
package names become folder names (packages/<Name>/, dev/<Name>/) and
`using <Name>` in the image build, and `path` entries name folders that are
copied into the image.  So names must be Julia identifiers and paths must
stay inside the project folder; nothing else would let a build write
outside its --out folder or publish files from elsewhere.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import tomllib
from dataclasses import dataclass

from depotdelivery.errors import UsageError

# Reserved words Julia does not accept as names (`using end` is no package).
_JULIA_KEYWORDS = frozenset(
    "baremodule begin break catch const continue do else elseif end export false finally for "
    "function global if import let local macro module quote return struct true try using while".split())


def is_julia_identifier(name: str) -> bool:
    """Letters, digits and `_`, not starting with a digit, not a keyword:
    no `/`, `.`, `..`, spaces, quotes or separators that could turn a name
    into a path or into code."""
    return isinstance(name, str) and name.isidentifier() and name not in _JULIA_KEYWORDS


def check_package_name(name: str, where: str) -> None:
    if not is_julia_identifier(name):
        raise UsageError(f"{where}: package name {name!r} is not a Julia identifier (letters, digits "
                         "and _, not starting with a digit); fix the name")


def check_dev_path(name: str, path: object, where: str) -> str:
    """A path-tracked package's `path`: relative and inside the project
    folder, judged on the text alone (read_project also resolves links)."""
    if not isinstance(path, str) or not path or "\0" in path:
        raise UsageError(f"{where}: package {name} has path = {path!r}, not a folder name; "
                         "regenerate the manifest with Pkg")
    norm = posixpath.normpath(path)
    if posixpath.isabs(path) or norm == ".." or norm.startswith("../"):
        raise UsageError(f"{where}: package {name} has path = {path!r}, outside the project folder; "
                         "put path-tracked packages inside the project (a relative path)")
    return path


def is_within(path: str, folder: str) -> bool:
    """`path` is `folder` or below it (both absolute and resolved)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


@dataclass(frozen=True)
class ManifestEntry:
    name: str
    uuid: str
    version: str = ""
    tree_sha1: str = ""
    path: str = ""  # path-tracked (developed) package, relative to the project
    deps: tuple[str, ...] = ()

    @property
    def is_stdlib(self) -> bool:
        return not (self.tree_sha1 or self.path)

    @property
    def is_registered(self) -> bool:
        return bool(self.tree_sha1) and not self.path


@dataclass(frozen=True)
class JuliaProject:
    dir: str
    name: str
    deps: tuple[tuple[str, str], ...]  # (name, uuid) the user asked for
    entries: tuple[ManifestEntry, ...]
    project_sha256: str
    manifest_sha256: str
    # Standard libraries a slim image keeps although nothing needs them:
    # Project.toml's `[depotdelivery] keep-stdlibs = ["Dates"]` (Julia ignores
    # tables it does not know).
    keep_stdlibs: tuple[str, ...] = ()

    def entry(self, name: str) -> ManifestEntry:
        for e in self.entries:
            if e.name == name:
                return e
        raise KeyError(name)

    @property
    def packages(self) -> tuple[ManifestEntry, ...]:
        """Non-stdlib packages, in a stable order."""
        return tuple(sorted((e for e in self.entries if not e.is_stdlib), key=lambda e: e.name))


def _load(path: str) -> tuple[dict, bytes]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        what = os.path.basename(path)
        hint = ("resolve the project with Julia (Pkg.resolve) and commit Manifest.toml"
                if what == "Manifest.toml" else "point at a Julia project folder")
        raise UsageError(f"{path} not found: {hint}") from None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    try:
        return tomllib.loads(data.decode("utf-8")), data
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: malformed TOML ({e}); fix the file") from None


def _entries(manifest: dict, path: str) -> list[ManifestEntry]:
    if "manifest_format" in manifest:
        fmt = str(manifest["manifest_format"])
        if not fmt.startswith("2."):
            raise UsageError(f"{path}: unsupported manifest_format {fmt}")
        table = manifest.get("deps", {})
    else:
        table = manifest
    out = []
    for name, infos in table.items():
        check_package_name(name, path)
        if not isinstance(infos, list) or not infos or not all(isinstance(i, dict) for i in infos):
            raise UsageError(f"{path}: entry {name!r} is not a [[{name}]] table; "
                             "regenerate the manifest with Pkg")
        for info in infos:
            uuid = info.get("uuid")
            if not isinstance(uuid, str):
                raise UsageError(f"{path}: package {name} has no uuid; regenerate the manifest")
            deps = info.get("deps", [])
            if isinstance(deps, dict):
                deps = list(deps)
            dev = check_dev_path(name, info["path"], path) if "path" in info else ""
            out.append(ManifestEntry(name=name, uuid=uuid, version=str(info.get("version", "")),
                                     tree_sha1=str(info.get("git-tree-sha1", "")),
                                     path=dev, deps=tuple(deps)))
    return out


def read_project(project_dir: str) -> JuliaProject:
    if not os.path.isdir(project_dir):
        raise UsageError(f"{project_dir} is not a folder: point at a Julia project "
                         "(a folder with Project.toml and Manifest.toml)")
    ppath = os.path.join(project_dir, "Project.toml")
    mpath = os.path.join(project_dir, "Manifest.toml")
    proj, pbytes = _load(ppath)
    man, mbytes = _load(mpath)
    deps = proj.get("deps", {})
    if not isinstance(deps, dict) or not deps:
        raise UsageError(f"{ppath}: no [deps]; an image needs at least one package")
    for dep_name in deps:
        check_package_name(dep_name, ppath)
    entries = _entries(man, mpath)
    by_name = {e.name: e for e in entries}
    for dep_name, dep_uuid in deps.items():
        e = by_name.get(dep_name)
        if e is None or e.uuid != dep_uuid:
            raise UsageError(f"{mpath}: {dep_name} from Project.toml is missing or has another "
                             "uuid; run Pkg.resolve() and commit the Manifest")
    for e in entries:
        for d in e.deps:
            if d not in by_name:
                raise UsageError(f"{mpath}: {e.name} depends on {d}, which the manifest lacks; "
                                 "run Pkg.resolve()")
        if e.path:
            _check_dev_folder(project_dir, e, mpath)
    name = proj.get("name") or os.path.basename(os.path.abspath(project_dir))
    return JuliaProject(dir=os.path.abspath(project_dir), name=str(name),
                        deps=tuple(sorted(deps.items())), entries=tuple(entries),
                        project_sha256=hashlib.sha256(pbytes).hexdigest(),
                        manifest_sha256=hashlib.sha256(mbytes).hexdigest(),
                        keep_stdlibs=_keep_stdlibs(proj, ppath))


def _keep_stdlibs(proj: dict, path: str) -> tuple[str, ...]:
    table = proj.get("depotdelivery", {})
    keep = table.get("keep-stdlibs", []) if isinstance(table, dict) else None
    if not isinstance(keep, list) or not all(is_julia_identifier(n) for n in keep):
        raise UsageError(f"{path}: [depotdelivery] keep-stdlibs must be a list of standard library "
                         'names, e.g. keep-stdlibs = ["Dates"]')
    return tuple(keep)


def _check_dev_folder(project_dir: str, e: ManifestEntry, mpath: str) -> None:
    """The folder a `path` entry names exists and, links resolved, is inside
    the project folder (a link such as dev/X -> /etc is refused here; links
    inside the package are refused when it is copied)."""
    folder = os.path.join(project_dir, e.path)
    if not os.path.isdir(folder):
        raise UsageError(f"{mpath}: path-tracked package {e.name} at {e.path} not found")
    if not is_within(os.path.realpath(folder), os.path.realpath(project_dir)):
        raise UsageError(f"{mpath}: path-tracked package {e.name} at {e.path} leads outside the project "
                         f"folder (to {os.path.realpath(folder)}); put a copy inside the project")


def registered_uuids(registry_dir: str) -> dict[str, dict]:
    """uuid -> {name, path} from a registry's Registry.toml."""
    with open(os.path.join(registry_dir, "Registry.toml"), "rb") as f:
        return tomllib.load(f).get("packages", {})


def check_registered(project: JuliaProject, registry_dirs: list[str]) -> None:
    """Every registry-tracked package must be in one of the registries, at its
    pinned tree: otherwise say which package, before Pkg fails obscurely."""
    known: dict[str, tuple[str, str]] = {}
    for reg in registry_dirs:
        for uuid, info in registered_uuids(reg).items():
            known.setdefault(uuid, (reg, info.get("path", "")))
    for e in project.packages:
        if not e.is_registered:
            continue
        hit = known.get(e.uuid)
        if hit is None:
            raise UsageError(f"package {e.name} ({e.uuid}) is in no registry given; "
                             "pass the registry that has it with --registry URL")
        reg, rel = hit
        try:
            with open(os.path.join(reg, rel, "Versions.toml"), "rb") as f:
                versions = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError):
            continue
        trees = {v.get("git-tree-sha1") for v in versions.values() if isinstance(v, dict)}
        if e.tree_sha1 not in trees:
            raise UsageError(f"package {e.name} v{e.version} (tree {e.tree_sha1[:12]}) is not in "
                             f"registry {os.path.basename(reg)}; register that version or re-resolve")
