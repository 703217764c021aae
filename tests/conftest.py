"""Shared fixtures: one real Julia build of the example per test run, a
pristine published store, and per-test nodes that see a clone of it
read-only, as an ordinary user would on a cluster."""

from __future__ import annotations

import hashlib
import os
import re
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

import pytest

CPUINFO_DIR_NAME = "cpuinfo"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
import checkout  # noqa: E402  (tools/checkout.py: this checkout's programs, shared with demo and bench)
from checkout import DD, DD_RUN, JULIA, VENV_BIN  # noqa: E402,F401

EXAMPLE = os.path.join(checkout.EXAMPLES, "hep-analysis")
JULIA_LIB = os.path.join(REPO, ".deps", "julia", "lib")
JOB_USER = "ddjob"
# The README's end-to-end blocks run with their absolute paths moved under
# README_TOP (tests/test_readme.py), and the example build of every test run
# is the README's own CI block: so the store path baked into the build's .ji
# caches is the README's /cvmfs/julia.example.org/depots, moved.  Fixed, so a
# build cached between local runs (DEPOTDELIVERY_TEST_CACHE) stays valid.
README_TOP = "/tmp/depotdelivery-test-node"
NODE_STORE = README_TOP + "/cvmfs/julia.example.org/depots"
README_BLOCK = re.compile(r"<!-- readme-test: (\w+) -->\n```sh\n(.*?)```", re.S)


def run(cmd, *, user=None, env=None, check=False, timeout=600, **kw):
    full_env = dict(os.environ)
    full_env.pop("DEPOTDELIVERY_LEVEL", None)
    full_env.update(env or {})
    if user:
        cmd = ["runuser", "-u", user, "--", "env", *[f"{k}={v}" for k, v in (env or {}).items()], *cmd]
    p = subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def _unmount_all(prefix):
    with open("/proc/mounts") as f:
        points = [l.split()[1] for l in f if l.split()[1].startswith(prefix)]
    for p in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", p], capture_output=True)


@pytest.fixture(scope="session")
def workdir():
    """A world-readable folder (pytest's tmp folders are private to root)."""
    d = tempfile.mkdtemp(prefix="dd-tests-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    _unmount_all(d)
    _unmount_all(README_TOP)
    shutil.rmtree(README_TOP, ignore_errors=True)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def job_user():
    try:
        return pwd.getpwnam(JOB_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", JOB_USER], check=True)
        return pwd.getpwnam(JOB_USER)


@pytest.fixture(scope="session")
def ci_keys(workdir):
    prefix = os.path.join(workdir, "keys", "ci")
    run([DD, "keygen", prefix], check=True)
    os.chmod(os.path.dirname(prefix), 0o755)
    return prefix + ".key", prefix + ".pub"


@pytest.fixture(scope="session")
def hep_registry(workdir):
    from depotdelivery.builder.registry import create_registry
    pkgs = [os.path.join(EXAMPLE, "packages", n) for n in sorted(os.listdir(os.path.join(EXAMPLE, "packages")))]
    return create_registry(pkgs, os.path.join(workdir, "registry"))


BUILD_INPUTS = (os.path.join(REPO, "build", "julia"), os.path.join(REPO, "wrapper", "julia"),
                os.path.join(REPO, "build", "pipeline.py"), os.path.join(REPO, "build", "baseimage.py"),
                os.path.join(REPO, "build", "project.py"), os.path.join(REPO, "depotdelivery", "model.py"),
                os.path.join(REPO, "depotdelivery", "julia.py"))


def build_image(out, project, *, levels, workload, registries=(), store_path=NODE_STORE, extra=()):
    cmd = [DD, "build", project, "--levels", levels, "--out", out, "--store-path", store_path, "--json", *extra]
    if workload:
        cmd += ["--workload", workload]
    for r in registries:
        cmd += ["--registry", r]
    return run(cmd, timeout=3600)


def readme_blocks() -> dict[str, str]:
    """The blocks of README.md's "The job, end to end", by name."""
    with open(os.path.join(REPO, "README.md")) as f:
        return dict(README_BLOCK.findall(f.read()))


def readme_moved(block: str, top: str = README_TOP) -> str:
    """A README block with every absolute path it names moved under `top`."""
    for old, new in (("/srv/", f"{top}/srv/"), ("/cvmfs/", f"{top}/cvmfs/"),
                     ("/etc/depotdelivery", f"{top}/etc/depotdelivery"),
                     ("/var/cache/depotdelivery", f"{top}/var/cache/depotdelivery"),
                     ('"/usr/bin/julia"', f'"{JULIA}"')):
        block = block.replace(old, new)
    return block


def readme_sh(block: str, cwd: str, user: str | None = None, env: dict | None = None):
    """Run a README block with bash -euo pipefail, as a newcomer's shell would."""
    e = {"PATH": f"{VENV_BIN}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp", **(env or {})}
    cmd = ["bash", "-euo", "pipefail", "-c", block]
    if user:
        cmd = ["runuser", "-u", user, "--", "env", *[f"{k}={v}" for k, v in e.items()], *cmd]
    return subprocess.run(cmd, cwd=cwd, env=e, capture_output=True, text=True, timeout=3600)


@pytest.fixture(scope="session")
def readme_ci(workdir):
    """The README's CI block, run as written in a world-readable folder laid
    out like the checkout a newcomer works in (the examples, and what `make`
    installed): keygen, registry, the example's build, publish, ls."""
    _unmount_all(README_TOP)
    shutil.rmtree(README_TOP, ignore_errors=True)
    work = os.path.join(README_TOP, "checkout")
    os.makedirs(work)
    shutil.copytree(EXAMPLE, os.path.join(work, "examples", "hep-analysis"))
    os.symlink(os.path.join(REPO, ".deps"), os.path.join(work, ".deps"))
    subprocess.run(["chmod", "-R", "a+rX", README_TOP], check=True)
    p = readme_sh(readme_moved(readme_blocks()["ci"]), work)
    assert p.returncode == 0, p.stderr[-3000:]
    return work, p


@pytest.fixture(scope="session")
def hep_build(request, workdir):
    """The example built for x86-64 and x86-64-v3, once per test run: by the
    README's CI block.  DEPOTDELIVERY_TEST_CACHE=DIR keeps it between local
    runs, keyed by the example's, the README's and the builder's sources."""
    cache = os.environ.get("DEPOTDELIVERY_TEST_CACHE")
    key = checkout.inputs_digest(EXAMPLE, os.path.join(REPO, "README.md"), *BUILD_INPUTS)
    cached = os.path.join(cache, f"hep-{key[:16]}") if cache else ""
    if cached and os.path.exists(os.path.join(cached, "manifest.json")):
        return cached
    work, _ = request.getfixturevalue("readme_ci")
    out = os.path.join(work, "_build", "hep")
    if cached:
        shutil.copytree(out, cached, symlinks=True)
    return out


@pytest.fixture(scope="session")
def pristine_store(workdir, hep_build, ci_keys):
    store = os.path.join(workdir, "store-pristine")
    p = run([DD, "publish", hep_build, "--store", store, "--key", ci_keys[0], "--channel", "stable", "--json"],
            check=True)
    import json
    return store, json.loads(p.stdout)["image_id"]


@dataclass
class Node:
    """A cluster node: a site config, a node-local cache, and the store
    (a private clone of the pristine one) mounted read-only at NODE_STORE."""

    store_src: str  # writable clone behind the read-only mount (the "publisher's" side)
    store: str  # the read-only path jobs see
    image_id: str
    config: str
    cache_dir: str
    pubkey: str
    env: dict = field(default_factory=dict)

    def run(self, args, *, user=JOB_USER, env=None, cmd=DD_RUN, **kw):
        e = {"DEPOTDELIVERY_CONFIG": self.config, **self.env, **(env or {})}
        return run([cmd, *args], user=user, env=e, **kw)

    def replace_file(self, rel, data: bytes):
        """Change a file behind the mount without touching the pristine store
        (the clone shares inodes with it: write a new file, rename it over)."""
        path = os.path.join(self.store_src, rel)
        mode = os.stat(path).st_mode & 0o777
        tmp = path + ".tamper"
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.rename(tmp, path)

    def read(self, rel) -> bytes:
        with open(os.path.join(self.store_src, rel), "rb") as f:
            return f.read()


def write_site_config(path, *, store, pubkeys, cache_dir, max_level="", revoked_keys=()):
    """A node's site config: one store, this checkout's Julia."""
    checkout.write_site_config(path, stores=[store], trusted_keys=list(pubkeys), cache_dir=cache_dir,
                               max_level=max_level, revoked_keys=list(revoked_keys))


@pytest.fixture
def node(workdir, pristine_store, ci_keys, job_user, request):
    n = make_node(workdir, pristine_store, ci_keys[1], tag=str(len(os.listdir(workdir))))
    yield n
    _unmount_all(NODE_STORE)
    shutil.rmtree(n.store_src, ignore_errors=True)


def make_node(workdir, pristine_store, pubkey, *, tag) -> Node:
    """A node seeing a private clone of the pristine store read-only at
    NODE_STORE, with its own site config, root's sticky cache folder and a
    fallback folder for users' caches (not /var/tmp in tests)."""
    src, image_id = pristine_store
    clone = os.path.join(workdir, f"store-{tag}")
    subprocess.run(["cp", "-al", src, clone], check=True)
    os.makedirs(NODE_STORE, exist_ok=True)
    _unmount_all(NODE_STORE)
    subprocess.run(["mount", "--bind", "-o", "ro", clone, NODE_STORE], check=True)
    cache_dir = os.path.join(workdir, f"cache-{tag}")
    fallback = os.path.join(workdir, f"fallback-{tag}")
    for d in (cache_dir, fallback):
        os.makedirs(d)
        os.chmod(d, 0o1777)
    config = os.path.join(workdir, f"site-{tag}.toml")
    write_site_config(config, store=NODE_STORE, pubkeys=[pubkey], cache_dir=cache_dir)
    return Node(clone, NODE_STORE, image_id, config, cache_dir, pubkey,
                env={"DEPOTDELIVERY_FALLBACK_CACHE": fallback})


TINY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "tiny")


@pytest.fixture(scope="session")
def tiny_v3_build(workdir):
    """A path-tracked (developed) package with two artifacts, one of them
    lazy and not touched by the workload, built for x86-64-v3 only: an image
    that must never run on an older CPU, and that carries every artifact."""
    cache = os.environ.get("DEPOTDELIVERY_TEST_CACHE")
    key = checkout.inputs_digest(TINY, os.path.abspath(__file__), *BUILD_INPUTS)
    out = os.path.join(cache, f"tiny-{key[:16]}") if cache else os.path.join(workdir, "build-tiny")
    if not (cache and os.path.exists(os.path.join(out, "manifest.json"))):
        project = os.path.join(workdir, "tiny-project")
        shutil.copytree(TINY, project)
        write_artifacts_toml(os.path.join(project, "dev", "Tiny"))
        p = build_image(out, project, levels="x86-64-v3", workload=os.path.join(project, "workload.jl"))
        assert p.returncode == 0, p.stderr
    return out


# Served as file:// URLs, so the Artifacts.toml (and the build's cache key)
# are the same in every run.
TINY_ARTIFACTS = {"greeting": (False, b"hello from an artifact\n"), "lazydata": (True, b"lazy bytes\n")}
ARTIFACT_SERVER = "/tmp/depotdelivery-test-artifacts"


def _git_tree_sha1(files: dict[str, bytes]) -> str:
    """The git tree hash of a flat folder of 0644 files (what Pkg checks)."""
    entries = b""
    for name, data in sorted(files.items()):
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).digest()
        entries += b"100644 " + name.encode() + b"\0" + blob
    return hashlib.sha1(b"tree %d\0" % len(entries) + entries).hexdigest()


def artifact_hashes() -> dict[str, str]:
    return {name: _git_tree_sha1({"hello.txt": data}) for name, (_, data) in TINY_ARTIFACTS.items()}


def write_artifacts_toml(package_dir: str) -> None:
    """Make the artifact tarballs (deterministic bytes) and the package's
    Artifacts.toml naming them."""
    os.makedirs(ARTIFACT_SERVER, exist_ok=True)
    hashes = artifact_hashes()
    lines = []
    for name, (lazy, data) in TINY_ARTIFACTS.items():
        src = os.path.join(ARTIFACT_SERVER, name)
        os.makedirs(src, exist_ok=True)
        with open(os.path.join(src, "hello.txt"), "wb") as f:
            f.write(data)
        os.chmod(os.path.join(src, "hello.txt"), 0o644)
        tarball = os.path.join(ARTIFACT_SERVER, f"{name}.tar.gz")
        subprocess.run(f"tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C {src} -cf - hello.txt"
                       f" | gzip -n > {tarball}", shell=True, check=True)
        with open(tarball, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        lines += [f"[{name}]", f'git-tree-sha1 = "{hashes[name]}"'] + (["lazy = true"] if lazy else []) + [
            "", f"    [[{name}.download]]", f'    url = "file://{tarball}"', f'    sha256 = "{sha}"', ""]
    with open(os.path.join(package_dir, "Artifacts.toml"), "w") as f:
        f.write("\n".join(lines))


@pytest.fixture(scope="session")
def synthetic_build(workdir):
    """make(name, *, sysimage_bytes=..., salt=...) -> a build folder as
    `depotdelivery build` leaves it (manifest.json + image/ + pool/), made
    with the project's own model classes and no Julia: for tests of the
    publish side, which never run the image.  Same arguments, same folder
    (and same image id); another salt gives another image."""
    import synthetic
    made = {}

    def make(name="synthetic", *, sysimage_bytes=64 * 1024, salt=""):
        key = (name, sysimage_bytes, salt)
        if key not in made:
            out = os.path.join(workdir, f"synthetic-build-{len(made)}")
            synthetic.write_build(out, synthetic.salted_files(name, salt, sysimage_bytes), name=name,
                                  store_path=NODE_STORE)
            made[key] = out
        return made[key]

    return make
