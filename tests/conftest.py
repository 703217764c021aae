"""Shared fixtures: one real Julia build of the example per test run, a
pristine published store, and per-test nodes that see a clone of it
read-only, as an ordinary user would on a cluster."""

from __future__ import annotations

import hashlib
import os
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
# Fixed, so a build cached between local runs (DEPOTDELIVERY_TEST_CACHE) stays
# valid: the store path is baked into the depot's .ji caches.
NODE_STORE = "/tmp/depotdelivery-test-node/cvmfs/julia.test/depots"


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
    _unmount_all(os.path.dirname(os.path.dirname(os.path.dirname(NODE_STORE))))
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
                os.path.join(REPO, "build", "pipeline.py"), os.path.join(REPO, "depotdelivery", "model.py"))


def _inputs_digest(*paths):
    h = hashlib.sha256()
    for top in paths:
        walk = [(os.path.dirname(top), [], [os.path.basename(top)])] if os.path.isfile(top) else os.walk(top)
        for dirpath, dirnames, files in walk:
            dirnames.sort()
            for n in sorted(files):
                p = os.path.join(dirpath, n)
                h.update(p.encode())
                with open(p, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


def build_image(out, project, *, levels, workload, registries=(), store_path=NODE_STORE, extra=()):
    cmd = [DD, "build", project, "--levels", levels, "--out", out, "--store-path", store_path, "--json", *extra]
    if workload:
        cmd += ["--workload", workload]
    for r in registries:
        cmd += ["--registry", r]
    return run(cmd, timeout=3600)


@pytest.fixture(scope="session")
def hep_build(workdir, hep_registry):
    """The example built for x86-64 and x86-64-v3: once per test run.
    DEPOTDELIVERY_TEST_CACHE=DIR keeps it between local runs, keyed by the
    example's and the builder's sources."""
    cache = os.environ.get("DEPOTDELIVERY_TEST_CACHE")
    key = _inputs_digest(EXAMPLE, *BUILD_INPUTS)
    out = os.path.join(cache, f"hep-{key[:16]}") if cache else os.path.join(workdir, "build-hep")
    if not (cache and os.path.exists(os.path.join(out, "manifest.json"))):
        p = build_image(out, EXAMPLE, levels="x86-64,x86-64-v3",
                        workload=os.path.join(EXAMPLE, "workload.jl"), registries=[hep_registry])
        assert p.returncode == 0, p.stderr
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
    src, image_id = pristine_store
    n = len(os.listdir(workdir))
    clone = os.path.join(workdir, f"store-{n}")
    subprocess.run(["cp", "-al", src, clone], check=True)
    os.makedirs(NODE_STORE, exist_ok=True)
    _unmount_all(NODE_STORE)
    subprocess.run(["mount", "--bind", "-o", "ro", clone, NODE_STORE], check=True)
    cache_dir = os.path.join(workdir, f"cache-{n}")
    os.makedirs(cache_dir)
    os.chmod(cache_dir, 0o1777)
    config = os.path.join(workdir, f"site-{n}.toml")
    write_site_config(config, store=NODE_STORE, pubkeys=[ci_keys[1]], cache_dir=cache_dir)
    # Where a user's cache goes when the site's is unusable (not /var/tmp in tests).
    fallback = os.path.join(workdir, f"fallback-{n}")
    os.makedirs(fallback)
    os.chmod(fallback, 0o1777)
    yield Node(clone, NODE_STORE, image_id, config, cache_dir, ci_keys[1],
               env={"DEPOTDELIVERY_FALLBACK_CACHE": fallback})
    _unmount_all(NODE_STORE)
    shutil.rmtree(clone, ignore_errors=True)


TINY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "tiny")


@pytest.fixture(scope="session")
def tiny_v3_build(workdir):
    """A path-tracked (developed) package, built for x86-64-v3 only: an image
    that must never run on an older CPU."""
    cache = os.environ.get("DEPOTDELIVERY_TEST_CACHE")
    key = _inputs_digest(TINY, *BUILD_INPUTS)
    out = os.path.join(cache, f"tiny-{key[:16]}") if cache else os.path.join(workdir, "build-tiny")
    if not (cache and os.path.exists(os.path.join(out, "manifest.json"))):
        p = build_image(out, TINY, levels="x86-64-v3", workload=os.path.join(TINY, "workload.jl"))
        assert p.returncode == 0, p.stderr
    return out


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
