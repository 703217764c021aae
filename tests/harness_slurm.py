"""A real Slurm 22.05 cluster on 127.0.0.1, from nothing, for the tests.

munged (its own key and socket), one slurmctld and one slurmd per node
(`slurmd -N NAME`, each on its own port), fresh state under one temporary
folder, no systemd: daemons are started directly and stopped by their pid
files.  Nothing here knows about depotdelivery's images: the caller passes
the node lines (with their Features) and any extra slurm.conf lines and
files; the list of finished job states is the product's own
(slurm_status.FINISHED).

Measured on Debian bookworm's Slurm 22.05 (2 cores, as root), and relied on
here: several nodes on one machine are `slurmd -N NAME`, each with
NodeAddr=127.0.0.1, its own Port= and `%n` in its spool, pid and log paths;
munged runs as the munge user with its key 0400 in a 0700 folder and its
own socket (AuthInfo=socket=...); with SlurmUser/SlurmdUser root,
proctrack/linuxproc and task/none no cgroups are needed; with
batch_sched_delay=0 a job finishes in about a second (the first in ~3 s);
clients need SLURM_CONF in their environment.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from depotdelivery.submit.slurm_status import FINISHED

PACKAGES = ("munge", "slurmctld", "slurmd", "slurm-client", "slurm-wlm-basic-plugins")


def ensure_packages() -> None:
    """Debian's Slurm 22.05 (bookworm), installed only when missing (~8 s)."""
    missing = [p for p in PACKAGES
               if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if not missing:
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
                   env=env, check=True, capture_output=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass(frozen=True)
class NodeSpec:
    name: str
    features: str  # comma-separated, as in slurm.conf
    partition: str = "main"


@dataclass
class Job:
    id: int
    state: str
    exit_code: int  # the job's exit status (ExitCode=N:signal)
    nodes: str
    reason: str
    raw: str


@dataclass
class SlurmCluster:
    nodes: list[NodeSpec]
    extra_conf: str = ""  # slurm.conf lines (plugins, hooks)
    files: dict[str, str] = field(default_factory=dict)  # name -> path, copied beside slurm.conf
    base: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    # -- paths ------------------------------------------------------------------
    @property
    def conf_dir(self) -> str:
        return os.path.join(self.base, "etc")

    @property
    def conf(self) -> str:
        return os.path.join(self.conf_dir, "slurm.conf")

    @property
    def env(self) -> dict[str, str]:
        """What a client (sbatch, squeue...) needs in its environment."""
        return {"SLURM_CONF": self.conf}

    def log(self, daemon: str) -> str:
        """slurmctld, slurmd-<node> or munged: the daemon's log text."""
        try:
            with open(os.path.join(self.base, "log", f"{daemon}.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> "SlurmCluster":
        t0 = time.monotonic()
        ensure_packages()
        self.timings["packages_s"] = round(time.monotonic() - t0, 2)
        self.base = self.base or tempfile.mkdtemp(prefix="dd-slurm-", dir="/tmp")
        os.makedirs(self.base, exist_ok=True)
        # Clients run as an ordinary user: they must reach the config and the socket.
        os.chmod(self.base, 0o755)
        for d in ("etc", "log", "state", "run", *(f"spool/{n.name}" for n in self.nodes)):
            os.makedirs(os.path.join(self.base, d), exist_ok=True)
        os.chmod(os.path.join(self.base, "etc"), 0o755)
        self._start_munge()
        self._write_conf()
        self._daemon(["slurmctld", "-f", self.conf], "slurmctld")
        for n in self.nodes:
            self._daemon(["slurmd", "-f", self.conf, "-N", n.name], f"slurmd-{n.name}")
        self.wait_nodes_idle()
        self.timings["start_s"] = round(time.monotonic() - t0, 2)
        return self

    def stop(self) -> None:
        if not self.base:
            return
        if os.path.exists(self.conf) and os.path.exists(os.path.join(self.base, "run", "slurmctld.pid")):
            try:  # jobs first, so no job process outlives the cluster
                ids = self.run(["squeue", "-h", "-o", "%i"], timeout=10).stdout.split()
                if ids:
                    self.run(["scancel", *ids], timeout=10)
            except subprocess.TimeoutExpired:
                pass
        # All at once: each daemon takes ~2 s to exit on SIGTERM.
        names = [f"slurmd-{n.name}.pid" for n in self.nodes] + ["slurmctld.pid", "munged.pid"]
        pids = [pid for pid in (self._signal_pidfile(os.path.join(self.base, "run", n)) for n in names) if pid]
        deadline = time.monotonic() + 10
        while pids and time.monotonic() < deadline:
            pids = [pid for pid in pids if _alive(pid)]
            time.sleep(0.05)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    @staticmethod
    def _signal_pidfile(path: str) -> int | None:
        """SIGTERM the daemon a pid file names; -> its pid, None if gone."""
        try:
            with open(path) as f:
                pid = int(f.read().split()[0])
            os.kill(pid, signal.SIGTERM)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    def _start_munge(self) -> None:
        # munged insists on private key/state folders owned by the user it
        # runs as; the socket folder must be reachable by every client.
        import pwd
        mu = pwd.getpwnam("munge")
        private = os.path.join(self.base, "munge")
        os.makedirs(private, mode=0o700)
        key = os.path.join(private, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        for p in (private, key):
            os.chown(p, mu.pw_uid, mu.pw_gid)
        run_dir = os.path.join(self.base, "run")
        os.chown(run_dir, mu.pw_uid, mu.pw_gid)
        os.chmod(run_dir, 0o755)
        self.munge_socket = os.path.join(run_dir, "munge.socket")
        logf = os.path.join(self.base, "log", "munged.log")
        open(logf, "a").close()
        os.chown(logf, mu.pw_uid, mu.pw_gid)
        p = subprocess.run(["runuser", "-u", "munge", "--", "munged", "--force",
                            f"--socket={self.munge_socket}", f"--key-file={key}",
                            f"--pid-file={os.path.join(run_dir, 'munged.pid')}",
                            f"--log-file={logf}", f"--seed-file={os.path.join(private, 'seed')}"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"munged failed: {p.stderr}\n{self.log('munged')}")
        # Slurm daemons (root) write their pid files beside munged's.
        os.chown(run_dir, 0, 0)
        os.chmod(run_dir, 0o755)

    def _write_conf(self) -> None:
        ports = free_ports(1 + len(self.nodes))
        host = socket.gethostname().split(".")[0]
        b = self.base
        lines = [
            "ClusterName=ddtest",
            f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={ports[0]}",
            "SlurmUser=root", "SlurmdUser=root",
            "AuthType=auth/munge", "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            f"StateSaveLocation={b}/state",
            f"SlurmdSpoolDir={b}/spool/%n",
            f"SlurmctldPidFile={b}/run/slurmctld.pid",
            f"SlurmdPidFile={b}/run/slurmd-%n.pid",
            f"SlurmctldLogFile={b}/log/slurmctld.log",
            f"SlurmdLogFile={b}/log/slurmd-%n.log",
            "SlurmctldDebug=info", "SlurmdDebug=info",
            # No cgroups in the sandbox.
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
            "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU",
            "SchedulerParameters=batch_sched_delay=0",
            "ReturnToService=2", "SlurmdParameters=config_overrides",
            "MpiDefault=none", "JobCompType=jobcomp/none",
            "AccountingStorageType=accounting_storage/none",
            "MinJobAge=3600", "KillWait=5", "InactiveLimit=0", "Waittime=0",
            self.extra_conf.strip(),
        ]
        for n, port in zip(self.nodes, ports[1:], strict=False):
            lines.append(f"NodeName={n.name} NodeAddr=127.0.0.1 Port={port} CPUs=1 "
                         f"Features={n.features} State=UNKNOWN")
        parts: dict[str, list[str]] = {}
        for n in self.nodes:
            parts.setdefault(n.partition, []).append(n.name)
        for i, (part, names) in enumerate(parts.items()):
            lines.append(f"PartitionName={part} Nodes={','.join(names)} "
                         f"Default={'YES' if i == 0 else 'NO'} MaxTime=INFINITE State=UP")
        with open(self.conf, "w") as f:
            f.write("\n".join(l for l in lines if l) + "\n")
        os.chmod(self.conf, 0o644)
        for name, src in self.files.items():
            self.install_file(name, src)

    def install_file(self, name: str, src: str) -> str:
        """Copy a file beside slurm.conf (hooks, job_submit.lua), as an admin would."""
        dst = os.path.join(self.conf_dir, name)
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o755 if os.access(src, os.X_OK) else 0o644)
        return dst

    def _daemon(self, argv: list[str], name: str) -> None:
        p = subprocess.run(argv, env=dict(os.environ, **self.env), capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"{name} failed to start: {p.stderr}\n{self.log(name)}")

    def wait_nodes_idle(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        out = ""
        while time.monotonic() < deadline:
            out = self.run(["sinfo", "-h", "-N", "-o", "%N %t"]).stdout
            states = dict(l.split() for l in out.splitlines() if l.strip())
            if len(states) == len(self.nodes) and all(s == "idle" for s in states.values()):
                return
            time.sleep(0.2)
        raise RuntimeError(f"nodes not idle after {timeout} s:\n{out}\n{self.log('slurmctld')[-3000:]}")

    # -- clients ----------------------------------------------------------------
    def run(self, argv: list[str], *, user: str = "", env: dict | None = None, timeout: float = 120,
            cwd: str | None = None) -> subprocess.CompletedProcess:
        """Run a client command (as `user`, through runuser, if given)."""
        wanted = {**self.env, **(env or {})}
        if user:  # a clean login-like environment: sbatch hands it to the job
            import pwd
            pw = pwd.getpwnam(user)
            base_env = {"HOME": pw.pw_dir, "USER": user, "LOGNAME": user, "LANG": "C.UTF-8",
                        "PATH": "/usr/local/bin:/usr/bin:/bin"}
            argv = ["runuser", "-u", user, "--", "env", "-i",
                    *[f"{k}={v}" for k, v in {**base_env, **wanted}.items()], *argv]
            wanted = dict(self.env)
        return subprocess.run(argv, env=dict(os.environ, **wanted), capture_output=True, text=True,
                              timeout=timeout, cwd=cwd)

    def sbatch(self, args: list[str], **kw) -> tuple[subprocess.CompletedProcess, int | None]:
        """-> (the sbatch process, the job id or None when refused)."""
        p = self.run(["sbatch", "--parsable", *args], **kw)
        m = re.match(r"^(\d+)", p.stdout.strip())
        return p, (int(m.group(1)) if p.returncode == 0 and m else None)

    def job(self, job_id: int) -> Job:
        raw = self.run(["scontrol", "-o", "show", "job", str(job_id)]).stdout.strip()

        def field_(name: str) -> str:
            m = re.search(rf"(?:^| ){name}=(\S*)", raw)
            return m.group(1) if m else ""
        code = field_("ExitCode").split(":")[0]
        return Job(id=job_id, state=field_("JobState"), exit_code=int(code) if code.isdigit() else -1,
                   nodes=field_("NodeList"), reason=field_("Reason"), raw=raw)

    def wait(self, job_id: int, timeout: float = 180, until=lambda j: j.state in FINISHED) -> Job:
        deadline = time.monotonic() + timeout
        while True:
            j = self.job(job_id)
            if until(j) or time.monotonic() > deadline:
                return j
            time.sleep(0.2)

    def wait_node(self, name: str, state: str, timeout: float = 30) -> tuple[str, str]:
        """Wait until sinfo shows `state` (a node just resumed shows 'idle*'
        until slurmd answers again); -> the last (state, reason)."""
        deadline = time.monotonic() + timeout
        while True:
            now = self.node_state(name)
            if now[0] == state or time.monotonic() > deadline:
                return now
            time.sleep(0.2)

    def node_state(self, name: str) -> tuple[str, str]:
        """-> (state as sinfo -N %T shows it, e.g. 'idle' or 'drained', reason)."""
        out = self.run(["sinfo", "-h", "-N", "-n", name, "-o", "%T|%E"]).stdout.strip()
        state, _, reason = out.partition("|")
        return state, reason
