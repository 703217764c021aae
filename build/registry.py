"""Make a local Julia package registry from package folders.

Sites with private packages (and this project's tests, which run with no
network) need a registry Julia's own Pkg can use: each package becomes a git
repository tagged at its version, and a registry git repository lists them
with `repo = "file://..."` and the version's git tree hash (Pkg refuses a
commit hash there).  This is what `depotdelivery registry create` runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
import uuid as uuidlib
from dataclasses import dataclass

from depotdelivery.errors import UsageError

_GIT_ENV = {"GIT_AUTHOR_NAME": "depotdelivery", "GIT_AUTHOR_EMAIL": "depotdelivery@localhost",
            "GIT_COMMITTER_NAME": "depotdelivery", "GIT_COMMITTER_EMAIL": "depotdelivery@localhost",
            "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}


@dataclass(frozen=True)
class RegisteredPackage:
    name: str
    uuid: str
    version: str
    tree_sha1: str
    repo: str  # file:// URL
    deps: tuple[tuple[str, str], ...]  # (name, uuid)


def _git(args: list[str], cwd: str) -> str:
    env = dict(os.environ, **_GIT_ENV)
    out = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise UsageError(f"git {' '.join(args)} failed in {cwd}: {out.stderr.strip()[:200]}")
    return out.stdout.strip()


def _read_project(pkg_dir: str) -> dict:
    path = os.path.join(pkg_dir, "Project.toml")
    try:
        with open(path, "rb") as f:
            proj = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise UsageError(f"{path}: not a readable Project.toml ({e})") from None
    for key in ("name", "uuid", "version"):
        if key not in proj:
            raise UsageError(f"{path}: missing {key!r}; a registered package needs name, uuid, version")
    return proj


def package_repo(pkg_dir: str, dest: str) -> RegisteredPackage:
    """Copy a package folder into a fresh git repository tagged v<version>."""
    proj = _read_project(pkg_dir)
    shutil.copytree(pkg_dir, dest, ignore=shutil.ignore_patterns(".git", "Manifest.toml"))
    _git(["init", "-q", "-b", "main"], dest)
    _git(["add", "-A"], dest)
    _git(["commit", "-q", "-m", f"{proj['name']} v{proj['version']}"], dest)
    _git(["tag", f"v{proj['version']}"], dest)
    tree = _git(["rev-parse", "HEAD^{tree}"], dest)
    deps = tuple(sorted(proj.get("deps", {}).items()))
    return RegisteredPackage(proj["name"], proj["uuid"], proj["version"], tree,
                             "file://" + os.path.abspath(dest), deps)


def tree_sha1(pkg_dir: str) -> str:
    """The git tree hash Pkg would record for this folder's contents."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        return package_repo(pkg_dir, os.path.join(tmp, "repo")).tree_sha1


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def create_registry(package_dirs: list[str], out: str, *, name: str = "LocalRegistry") -> str:
    """Build package repos and a registry under `out`; return the registry URL."""
    if os.path.exists(out) and os.listdir(out):
        raise UsageError(f"{out} is not empty: choose a new folder for the registry")
    os.makedirs(os.path.join(out, "packages"), exist_ok=True)
    pkgs = [package_repo(d, os.path.join(out, "packages", os.path.basename(d.rstrip("/"))))
            for d in sorted(package_dirs)]
    reg = os.path.join(out, "registry")
    os.makedirs(reg)
    reg_uuid = str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "depotdelivery:" + name))
    lines = [f"name = {_toml_str(name)}", f"uuid = {_toml_str(reg_uuid)}",
             f"repo = {_toml_str('file://' + os.path.abspath(reg))}", "", "[packages]"]
    for p in pkgs:
        rel = f"{p.name[0].upper()}/{p.name}"
        lines.append(f"{p.uuid} = {{ name = {_toml_str(p.name)}, path = {_toml_str(rel)} }}")
        d = os.path.join(reg, rel)
        os.makedirs(d)
        with open(os.path.join(d, "Package.toml"), "w") as f:
            f.write(f"name = {_toml_str(p.name)}\nuuid = {_toml_str(p.uuid)}\nrepo = {_toml_str(p.repo)}\n")
        with open(os.path.join(d, "Versions.toml"), "w") as f:
            f.write(f'["{p.version}"]\ngit-tree-sha1 = "{p.tree_sha1}"\n')
        with open(os.path.join(d, "Deps.toml"), "w") as f:
            if p.deps:
                f.write(f'["{p.version}"]\n')
                for dn, du in p.deps:
                    f.write(f"{dn} = {_toml_str(du)}\n")
        with open(os.path.join(d, "Compat.toml"), "w") as f:
            f.write(f'["{p.version}"]\njulia = "1"\n')
    with open(os.path.join(reg, "Registry.toml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    _git(["init", "-q", "-b", "main"], reg)
    _git(["add", "-A"], reg)
    _git(["commit", "-q", "-m", "registry"], reg)
    return "file://" + os.path.abspath(reg)
