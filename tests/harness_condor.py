"""A real HTCondor personal pool for the tests, started from nothing.

Debian bookworm has no HTCondor and trixie's needs trixie's libc, so the pool
runs in a Debian trixie chroot (debootstrap, ~25 s) holding:

* ``htcondor`` (23.9) from trixie;
* Julia 1.5.3 from bullseye, installed by tools/setup-julia.sh exactly as on
  the host (bullseye's libunwind, launcher at /opt/depotdelivery/julia);
* depotdelivery in a venv at /opt/depotdelivery, installed from this
  checkout at every start.  A venv inside the chroot rather than the host's
  bind-mounted: the host venv's interpreter is a symlink to the host's
  /usr/bin/python3, which inside the chroot is trixie's Python 3.13 without
  our packages; a venv built by the chroot's own Python is what a site does
  on an execute node, and the wheels come from the host's pip (PyPI).

The bootstrapped chroot (everything above but depotdelivery itself) is
cached as a tarball only under DEPOTDELIVERY_TEST_CACHE, the folder the test
run owns; without it (CI) the chroot is built in the run's own folder.

The pool: one condor_master running collector, negotiator, schedd and two
startds, i.e. two execute nodes with one slot each:

* ``slot1@<host>``: the real CPU (x86-64-v4 here), capped at x86-64-v3 by
  site.toml's max_level, so it advertises DepotDeliveryLevel = 3;
* ``slot1@baseline@<host>``: a baseline node emulated by a recorded Core 2
  cpuinfo (DEPOTDELIVERY_CPUINFO in that startd's environment, seen by its
  STARTD_CRON job and, through JOB_INHERITS_STARTER_ENVIRONMENT, by the job
  wrapper), so it advertises DepotDeliveryLevel = 1.

The site's own snippet, site-configs/htcondor/50-depotdelivery.conf, is
installed verbatim: it is what the tests test.

Stopping: condor_off -master, then the master's process group, then any
process still rooted in the chroot (all of them ours), by pid; then every
mount under the chroot is unmounted, and the folder is removed only if none
is left (a bind-mounted /dev must never be deleted through).
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from depotdelivery.config import render_site_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIRROR = "http://deb.debian.org/debian"
VENV = "/opt/depotdelivery"  # DEPOTDELIVERY_BIN in 50-depotdelivery.conf
JULIA = f"{VENV}/julia/bin/julia"
SITE_TOML = "/etc/depotdelivery/site.toml"
CHANNEL_TABLE = "/etc/condor/config.d/51-depotdelivery-channels.conf"
CPUINFO_DIR = "/opt/dd-test/cpuinfo"
JOBS_DIR = "/srv/jobs"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
BASELINE_CPUINFO = "intel-core2-merom.x86-64.txt"
# Bump when build_chroot() changes what the chroot holds (part of the cache key).
RECIPE = "v1 trixie minbase; htcondor python3-venv; tools/setup-julia.sh; venv deps"

POOL_CONFIG = """\
# A personal pool inside a chroot, on 127.0.0.1 only (settings below checked
# against HTCondor 23.9.6 from trixie: the pool is up in ~2 s).
use ROLE : Personal
CONDOR_HOST = 127.0.0.1
NETWORK_INTERFACE = 127.0.0.1
COLLECTOR_HOST = $(CONDOR_HOST):9618
BIND_ALL_INTERFACES = False
ENABLE_IPV6 = False
# Never: the root master would rewrite the *host's* sysctls through /proc.
ENABLE_KERNEL_TUNING = False
# Inside a chroot the starter cannot unshare mounts or pids (errno 22).
MOUNT_UNDER_SCRATCH =
USE_PID_NAMESPACES = False
NUM_SLOTS = 1
# Fast turn-around for tests (defaults are minutes).
UPDATE_INTERVAL = 5
SCHEDD_INTERVAL = 5
NEGOTIATOR_INTERVAL = 2
NEGOTIATOR_MIN_INTERVAL = 1
NEGOTIATOR_CYCLE_DELAY = 1
PERIODIC_EXPR_INTERVAL = 3
STARTER_INITIAL_UPDATE_INTERVAL = 1
"""

# The second execute node: a startd with its own name, execute folder and
# environment.  Its cpuinfo override reaches the cron job (inherited) and the
# wrapper (JOB_INHERITS_STARTER_ENVIRONMENT); nothing else is inherited.
BASELINE_CONFIG = """\
STARTD_B = $(STARTD)
STARTD_B_ARGS = -local-name B
DAEMON_LIST = $(DAEMON_LIST) STARTD_B
STARTD_B_ENVIRONMENT = "DEPOTDELIVERY_CPUINFO={cpuinfo}"
B.STARTD_NAME = baseline
B.STARTD_LOG = $(LOG)/StartLog.B
B.EXECUTE = /var/lib/condor/execute-B
B.STARTD_ADDRESS_FILE = $(LOG)/.startd_B_address
JOB_INHERITS_STARTER_ENVIRONMENT = DEPOTDELIVERY_CPUINFO
"""


def _run(cmd, *, check=True, timeout=600, env=None, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


# -- the chroot -----------------------------------------------------------------
def _install_requires() -> list[str]:
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(REPO, "setup.cfg"))
    return [r.strip() for r in cfg["options"]["install_requires"].splitlines() if r.strip()]


CONSTRAINTS = os.path.join(REPO, "constraints.txt")  # the versions tested


def recipe_key() -> str:
    h = hashlib.sha256(RECIPE.encode())
    h.update(" ".join(_install_requires()).encode())
    for path in (os.path.join(REPO, "tools", "setup-julia.sh"), CONSTRAINTS):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def _mount_system(root: str) -> None:
    for src, dest, args in (("proc", "proc", ["-t", "proc"]), ("sys", "sys", ["-t", "sysfs"]),
                            ("/dev", "dev", ["--bind"])):
        _run(["mount", *args, src, os.path.join(root, dest)])


def unmount_all(root: str) -> list[str]:
    """Unmount everything under `root`, deepest first; -> what is still mounted."""
    def points():
        with open("/proc/mounts") as f:
            return [l.split()[1] for l in f if l.split()[1] == root or l.split()[1].startswith(root + "/")]
    for p in sorted(points(), key=len, reverse=True):
        if subprocess.run(["umount", p], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", p], capture_output=True)
    return points()


def in_chroot(root: str, *cmd: str, user: str | None = None, env: dict | None = None,
              check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    """A command inside the chroot with a clean environment (the host's pip,
    proxy and Python settings must not leak in)."""
    e = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", **(env or {})}
    prefix = ["chroot", root]
    if user:
        prefix += ["runuser", "-u", user, "--"]
    return _run([*prefix, "env", "-i", *[f"{k}={v}" for k, v in e.items()], *cmd],
                check=check, timeout=timeout)


def build_chroot(root: str) -> dict:
    """Everything but depotdelivery itself; -> seconds per step."""
    steps: dict = {}
    t = time.monotonic()

    def lap(name: str) -> None:
        nonlocal t
        steps[name] = round(time.monotonic() - t, 1)
        t = time.monotonic()

    os.makedirs(root, exist_ok=True)
    _run(["debootstrap", "--variant=minbase", "trixie", root, MIRROR], timeout=900)
    lap("debootstrap_s")
    _mount_system(root)
    try:
        apt = {"DEBIAN_FRONTEND": "noninteractive"}
        in_chroot(root, "apt-get", "update", "-qq", env=apt)
        in_chroot(root, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
                  "htcondor", "python3-venv", env=apt, timeout=900)
        lap("apt_htcondor_s")
        shutil.copy(os.path.join(REPO, "tools", "setup-julia.sh"), os.path.join(root, "tmp"))
        in_chroot(root, "sh", "/tmp/setup-julia.sh", f"{VENV}/julia", env=apt, timeout=900)
        lap("julia_s")
        in_chroot(root, "python3", "-m", "venv", VENV)
        _install_venv_deps(root)
        lap("venv_s")
        in_chroot(root, "apt-get", "clean")
        shutil.rmtree(os.path.join(root, "var", "lib", "apt", "lists"), ignore_errors=True)
    finally:
        left = unmount_all(root)
        if left:
            raise RuntimeError(f"could not unmount {left}")
    return steps


def _install_venv_deps(root: str) -> None:
    """The host's pip (configured for this machine's registry access) fetches
    wheels for the chroot's Python; the chroot installs them offline."""
    ver = in_chroot(root, f"{VENV}/bin/python", "-c",
                    "import sys; print('%d%d' % sys.version_info[:2])").stdout.strip()
    wheels = os.path.join(root, "tmp", "wheels")
    _run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", wheels, "-c", CONSTRAINTS,
          "--python-version", ver, "--implementation", "cp", "--abi", f"cp{ver}",
          *[a for plat in ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64")
            for a in ("--platform", plat)],
          "setuptools", "wheel", *_install_requires()], timeout=600)
    in_chroot(root, f"{VENV}/bin/pip", "install", "-q", "--no-index", "--find-links", "/tmp/wheels",
              "setuptools", "wheel", *_install_requires())
    shutil.rmtree(wheels)


def prepare_chroot(root: str, cache_dir: str | None) -> dict:
    """-> timings.  With a cache folder, reuse (or make) the tarball."""
    t0 = time.monotonic()
    tarball = os.path.join(cache_dir, f"condor-trixie-{recipe_key()}.tar") if cache_dir else ""
    if tarball and os.path.exists(tarball):
        os.makedirs(root)
        _run(["tar", "-C", root, "-xf", tarball], timeout=900)
        return {"chroot_from_cache_s": round(time.monotonic() - t0, 1)}
    timings = build_chroot(root)
    timings["chroot_build_s"] = round(time.monotonic() - t0, 1)
    if tarball:
        tmp = f"{tarball}.tmp-{os.getpid()}"
        _run(["tar", "-C", root, "-cf", tmp, "."], timeout=900)
        os.replace(tmp, tarball)
    return timings


# -- the pool --------------------------------------------------------------------
@dataclass
class Pool:
    root: str
    store: str  # the store path nodes see (inside the chroot)
    user: str
    master: subprocess.Popen | None = None
    timings: dict = field(default_factory=dict)

    # -- commands ------------------------------------------------------------------
    def sh(self, *cmd: str, user: str | None = None, check: bool = True, timeout: int = 120,
           env: dict | None = None) -> subprocess.CompletedProcess:
        return in_chroot(self.root, *cmd, user=user, check=check, timeout=timeout, env=env)

    def dd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.sh(f"{VENV}/bin/depotdelivery", *args, check=check)

    def host_path(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def write(self, path: str, text: str, mode: int = 0o644) -> None:
        p = self.host_path(path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)

    def log(self, name: str) -> str:
        try:
            with open(self.host_path(f"/var/log/condor/{name}"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def reconfig(self) -> None:
        self.sh("condor_reconfig")

    def publish_table(self, *trusted: str) -> str:
        """`depotdelivery condor-channels` as an admin runs it on the access point."""
        args = [a for k in trusted for a in ("--trusted-key", k)]
        p = self.dd("condor-channels", "--store", self.store, "--out", CHANNEL_TABLE, "--reconfig", *args)
        return p.stdout + p.stderr

    # -- jobs ------------------------------------------------------------------------
    def job_dir(self, name: str) -> str:
        """A folder the job user owns (path inside the chroot)."""
        path = f"{JOBS_DIR}/{name}"
        self.sh("install", "-d", "-o", self.user, "-g", self.user, "-m", "755", path)
        return path

    def submit(self, name: str, description: str, files: dict[str, str] | None = None,
               check: bool = True) -> tuple[int, subprocess.CompletedProcess]:
        """condor_submit as the ordinary job user; -> (cluster id or 0, process)."""
        d = self.job_dir(name)
        for fname, text in {"job.sub": description, **(files or {})}.items():
            self.write(f"{d}/{fname}", text)
        p = self.sh("sh", "-c", f"cd {d} && condor_submit -terse job.sub", user=self.user, check=False)
        if check and p.returncode != 0:
            raise AssertionError(f"condor_submit failed:\n{p.stdout}\n{p.stderr}")
        cluster = int(p.stdout.split(".")[0]) if p.returncode == 0 else 0
        return cluster, p

    def ad(self, cluster: int) -> dict:
        """The job's ad, from the queue or (once it left) from the history."""
        for tool in (["condor_q", "-json", str(cluster)],
                     ["condor_history", "-json", "-limit", "1", str(cluster)]):
            out = self.sh(*tool, check=False).stdout.strip()
            if out:
                ads = json.loads(out)
                if ads:
                    return ads[0]
        return {}

    def wait(self, cluster: int, done, timeout: float = 120, what: str = "") -> dict:
        deadline = time.monotonic() + timeout
        ad = {}
        while time.monotonic() < deadline:
            ad = self.ad(cluster)
            if ad and done(ad):
                return ad
            time.sleep(1)
        raise AssertionError(f"job {cluster}: timed out waiting for {what or done}; last ad:\n"
                             + json.dumps({k: ad.get(k) for k in ("JobStatus", "HoldReason", "VacateReason",
                                                                 "NumJobStarts", "Requirements")}, indent=1))

    def read(self, path: str) -> str:
        with open(self.host_path(path), errors="replace") as f:
            return f.read()

    def slots(self) -> list[dict]:
        p = self.sh("condor_status", "-json", check=False)  # the collector may not be up yet
        out = p.stdout.strip() if p.returncode == 0 else ""
        return json.loads(out) if out else []

    def wait_for_slots(self, done, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        slots = []
        while time.monotonic() < deadline:
            slots = self.slots()
            if done(slots):
                return slots
            time.sleep(1)
        raise AssertionError("slots never reached the expected state: "
                             + json.dumps([{k: s.get(k) for k in ("Name", "DepotDeliveryLevel", "DepotDeliveryStores",
                                                                  "DepotDeliveryError")} for s in slots]))

    # -- lifecycle ---------------------------------------------------------------------
    def stop(self) -> None:
        """Fast shutdown (a graceful one waits for running jobs to vacate),
        then by pid whatever is left: the master's process group, and any
        process rooted in this chroot (only this run starts processes there)."""
        if self.master and self.master.poll() is None:
            self.sh("condor_off", "-fast", "-master", check=False, timeout=30)
            try:
                self.master.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.master.pid, signal.SIGKILL)
                self.master.wait(timeout=10)
        kill_rooted_in(self.root)


def kill_rooted_in(root: str) -> None:
    deadline = time.monotonic() + 10
    while (pids := _pids_rooted_in(root)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)


def _pids_rooted_in(root: str) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.readlink(f"/proc/{name}/root") == root:
                    pids.append(int(name))
            except OSError:
                continue
    return pids


def start_pool(root: str, *, store_src: str, store: str, pubkeys: list[str], user, cpuinfo_dir: str,
               site_snippet: str) -> Pool:
    """Install depotdelivery, configure and start the pool in a prepared chroot."""
    t0 = time.monotonic()
    _mount_system(root)
    pool = Pool(root=root, store=store, user=user.pw_name)
    # depotdelivery from this checkout (a copy: the build writes next to setup.cfg).
    src = os.path.join(root, "tmp", "dd-src")
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    for name in ("depotdelivery", "build", "submit", "wrapper", "setup.cfg", "pyproject.toml", "README.md"):
        s = os.path.join(REPO, name)
        (shutil.copytree(s, os.path.join(src, name), ignore=shutil.ignore_patterns("__pycache__"))
         if os.path.isdir(s) else shutil.copy(s, src))
    pool.sh(f"{VENV}/bin/pip", "install", "-q", "--no-index", "--no-deps", "--no-build-isolation",
            "/tmp/dd-src", timeout=300)
    with open(os.path.join(REPO, "wrapper", "depotdelivery-run")) as f:
        # As the Makefile does: the venv's interpreter in the shebang.
        pool.write(f"{VENV}/bin/depotdelivery-run", f.read().replace("#!python", f"#!{VENV}/bin/python", 1), 0o755)
    pool.timings["install_s"] = round(time.monotonic() - t0, 1)
    # The job user, with the host's uid/gid (files cross the chroot boundary).
    pool.sh("groupadd", "-g", str(user.pw_gid), user.pw_name, check=False)
    pool.sh("useradd", "-u", str(user.pw_uid), "-g", str(user.pw_gid), "-M", "-s", "/bin/sh", user.pw_name)
    # Site config, keys, cache, recorded CPUs, the store (read-only, as CVMFS is).
    pool.sh("install", "-d", "-m", "755", "/etc/depotdelivery/keys", CPUINFO_DIR, JOBS_DIR, store)
    pool.sh("install", "-d", "-m", "1777", "/var/cache/depotdelivery")
    pool.sh("install", "-d", "-o", "condor", "-g", "condor", "-m", "755", "/var/lib/condor/execute-B")
    names = []
    for k in pubkeys:
        shutil.copy(k, pool.host_path(f"/etc/depotdelivery/keys/{os.path.basename(k)}"))
        names.append(f"keys/{os.path.basename(k)}")
    pool.write(SITE_TOML, render_site_config(stores=[store], trusted_keys=names, max_level="x86-64-v3",
                                             cache_dir="/var/cache/depotdelivery", julia=JULIA))
    for n in os.listdir(cpuinfo_dir):
        shutil.copy(os.path.join(cpuinfo_dir, n), pool.host_path(f"{CPUINFO_DIR}/{n}"))
    _run(["mount", "--bind", "-o", "ro", store_src, pool.host_path(store)])
    # HTCondor: the test pool, the baseline node, and the site's snippet verbatim.
    pool.write("/etc/condor/config.d/10-test-pool.conf", POOL_CONFIG)
    pool.write("/etc/condor/config.d/20-test-baseline-node.conf",
               BASELINE_CONFIG.format(cpuinfo=f"{CPUINFO_DIR}/{BASELINE_CPUINFO}"))
    shutil.copy(site_snippet, pool.host_path("/etc/condor/config.d/50-depotdelivery.conf"))
    pool.dd("condor-channels", "--store", store, "--out", CHANNEL_TABLE)
    with open(pool.host_path("/etc/hosts"), "a") as f:
        f.write(f"127.0.0.1 {os.uname().nodename}\n")
    t1 = time.monotonic()
    pool.master = subprocess.Popen(
        ["chroot", root, "env", "-i", f"PATH={PATH}", "LANG=C.UTF-8", "/usr/sbin/condor_master", "-f"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    pool.wait_for_slots(lambda s: len([x for x in s if "DepotDeliveryLevel" in x]) == 2, timeout=90)
    deadline = time.monotonic() + 60
    while pool.sh("condor_q", "-totals", check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError("the schedd never answered")
        time.sleep(1)
    pool.timings["pool_start_s"] = round(time.monotonic() - t1, 1)
    return pool


def teardown(pool: Pool | None, root: str) -> None:
    if pool:
        pool.stop()
    else:
        kill_rooted_in(root)
    left = unmount_all(root)
    if left:
        raise RuntimeError(f"still mounted, not removing {root}: {left}")
    shutil.rmtree(root, ignore_errors=True)
