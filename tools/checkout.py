"""This checkout's programs and the set-ups `make demo` (tools/demo.py),
`make bench` (bench/run.py) and the tests share: where the venv, Julia and
the examples are, a node's site config, the stock-Julia baseline, and which
variant the wrapper picks.

Not part of the package: the scripts and the tests put tools/ on sys.path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
PYTHON = os.path.join(VENV_BIN, "python")
DD = os.path.join(VENV_BIN, "depotdelivery")
DD_RUN = os.path.join(VENV_BIN, "depotdelivery-run")
JULIA = os.path.join(REPO, ".deps", "julia", "bin", "julia")  # tools/setup-julia.sh's launcher
EXAMPLES = os.path.join(REPO, "examples")


def write_site_config(path: str, *, stores, trusted_keys, julia: str = JULIA, **settings) -> str:
    """Write a node's site.toml (world-readable: job users read it) with
    depotdelivery.config.render_site_config; this checkout's Julia unless
    told otherwise.  -> path"""
    from depotdelivery.config import render_site_config
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_site_config(stores=stores, trusted_keys=trusted_keys, julia=julia, **settings))
    os.chmod(path, 0o644)
    return path


def stock_julia(build_dir: str, work: str, tag: str = "") -> tuple[list[str], dict]:
    """Stock Julia on the build's project, fully cold: the build's package
    sources in a fresh depot without any compile cache, and a copy of its
    project (it pins the same package versions).  Replaces what an earlier
    call with the same `work` and `tag` left.  -> (argv prefix, environment)"""
    depot = os.path.join(work, f"stock-depot{tag}")
    project = os.path.join(work, f"stock-project{tag}")
    for d in (depot, project):
        shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(os.path.join(build_dir, "pool"), depot, symlinks=True,
                    ignore=shutil.ignore_patterns("compiled"))
    shutil.copytree(os.path.join(build_dir, "image", "project"), project)
    env = dict(os.environ, JULIA_DEPOT_PATH=depot, JULIA_PKG_SERVER="")
    return [JULIA, "--startup-file=no", f"--project={project}"], env


def wrapper_variant(config: str, channel: str, *, user: str = "") -> str:
    """The variant the wrapper picks on this machine (`depotdelivery run
    --dry-run`), as `user` if given."""
    cmd = [DD, "run", "--dry-run", "--channel", channel, "--", "julia"]
    if user:
        cmd = ["runuser", "-u", user, "--", "env", f"DEPOTDELIVERY_CONFIG={config}", *cmd]
    p = subprocess.run(cmd, env=dict(os.environ, DEPOTDELIVERY_CONFIG=config), capture_output=True,
                       text=True, cwd="/tmp")
    if p.returncode != 0:
        raise RuntimeError(f"depotdelivery run --dry-run failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    return dry_run_variant(p.stdout)


def dry_run_variant(text: str) -> str:
    """The level in `run --dry-run`'s first line: 'image ID variant LEVEL (why)'."""
    words = (text.splitlines() or [""])[0].split()
    if len(words) < 4 or words[0] != "image" or words[2] != "variant":
        raise ValueError(f"not `depotdelivery run --dry-run` output: {text[:200]!r}")
    return words[3]


def unmount(path: str) -> None:
    """Lazily unmount `path` if something is mounted there."""
    with open("/proc/mounts") as f:
        mounted = any(line.split()[1] == path for line in f)
    if mounted:
        subprocess.run(["umount", "-l", path], check=True)


def inputs_digest(*paths: str, extra: tuple[str, ...] = ()) -> str:
    """A digest of files and folders (names relative to the checkout, and
    contents) and of `extra` words: the key under which a build made from
    them is kept and reused (tests' cache, bench builds)."""
    h = hashlib.sha256()
    for top in paths:
        walk = [(os.path.dirname(top), [], [os.path.basename(top)])] if os.path.isfile(top) else os.walk(top)
        for dirpath, dirnames, files in walk:
            dirnames.sort()
            for n in sorted(files):
                if n.endswith(".pyc"):
                    continue
                p = os.path.join(dirpath, n)
                h.update(os.path.relpath(p, REPO).encode())  # not the checkout's own path
                with open(p, "rb") as f:
                    h.update(f.read())
    for word in extra:
        h.update(b"\0" + word.encode())
    return h.hexdigest()
