"""Build image variants from a Julia project: acquire packages with Pkg,
trace the workload, compile and link one system image per CPU level, and
describe every file in a content-addressed manifest.

The store path nodes will see is decided before the build, because Julia
bakes absolute source paths and mtimes into its .ji caches (a cache moved
to another path, or whose sources got other mtimes, is rejected): the
build depot is exposed at ``<store_path>/pool`` while Julia runs (a
symlink, or a private bind mount when that path already exists), and
package sources get one fixed mtime so caches stay valid wherever the
same package is published again.

Nothing half-made: everything is built in ``<out>.partial`` and renamed to
``<out>`` at the end.  A failed build leaves no ``<out>`` (an earlier
successful build there is not touched), removes the link and the folders it
made for ``--store-path``, and keeps its logs in ``<out>.failed-logs``,
which the next successful build of the same ``--out`` removes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import glob
import hashlib
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator
from datetime import datetime, timezone

from depotdelivery import __version__
from depotdelivery.errors import BuildError, UsageError
from depotdelivery.fsutil import hash_file, replace_file
from depotdelivery.julia import (VERIFIED_VERSIONS, JuliaInstall, VersionRules, crash_report,
                                 exit_description, rules_for)
from depotdelivery.levels import Level
from depotdelivery.model import FileEntry, ImageManifest, PackagePin, Variant, utc_text
from depotdelivery.progress import Reporter

from .baseimage import StdlibChoice, choose_stdlibs, named_in_trace, read_stdlib_deps, rewrite_sysimg
from .project import JuliaProject, check_registered, is_within, read_project
from .registry import tree_sha1

GENERAL_URL = "https://github.com/JuliaRegistries/General.git"
# One fixed mtime for published package sources (2000-01-01): Julia's .ji
# caches compare mtimes, and a package published again by a later build must
# keep the mtime the earlier build's caches recorded.
SOURCE_MTIME_NS = 946684800 * 10**9
# Julia compiles different methods for each concrete stdio type it finds
# (IOStream, PipeEndpoint, DevNull, TTY), so the workload is traced, and
# then checked on the images, under every stdio a job can have: stdout to a
# file, a pipe, /dev/null or a terminal with stdin /dev/null (HTCondor,
# interactive), and stdout and stdin pipes (a Slurm task).
STDIO_KINDS = (("file", "devnull"), ("pipe", "devnull"), ("devnull", "devnull"), ("tty", "devnull"),
               ("pipe", "pipe"))


def stdio_label(kind: tuple[str, str]) -> str:
    out, inp = kind
    return f"stdout-{out}" + ("" if inp == "devnull" else f"+stdin-{inp}")


@contextlib.contextmanager
def _stdio(kind: tuple[str, str], log_dir: str) -> Iterator[tuple[Any, Any]]:
    """(stdout, stdin) to hand to subprocess for a run under `kind`."""
    out, inp = kind
    stdin = subprocess.PIPE if inp == "pipe" else subprocess.DEVNULL  # run() closes a pipe: EOF
    if out == "file":
        with open(os.path.join(log_dir, f"workload-{stdio_label(kind)}.txt"), "wb") as f:
            yield f, stdin
    elif out == "tty":
        master, slave = pty.openpty()
        # Drain the terminal while Julia writes, or it blocks on a full buffer.
        reader = threading.Thread(target=_drain, args=(master,), daemon=True)
        reader.start()
        try:
            yield slave, stdin
        finally:
            os.close(slave)
            reader.join(10)
            os.close(master)
    else:
        yield (subprocess.PIPE if out == "pipe" else subprocess.DEVNULL), stdin


def _drain(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 1 << 16):
                return
        except OSError:  # EIO once the last writer closed the terminal
            return
POOL_DIRS = ("packages", "artifacts", "dev")
JULIA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "julia")


@dataclass(frozen=True)
class BuildRequest:
    project_dir: str
    levels: tuple[Level, ...]
    out: str
    julia: JuliaInstall
    workload: str = ""
    registries: tuple[str, ...] = ()
    store_path: str = ""  # where nodes see the store; "" = the build's own pool path
    jobs: int = 0  # parallel variant compiles; 0 = by cores and memory
    name: str = ""
    lazy_artifacts: bool = True  # lazy artifacts go into the image too (nodes never download)
    # "needed": a slim base with only the standard libraries the project and
    # workload need (baseimage.py); "all": over Julia's own image, all of them.
    stdlibs: str = "needed"
    keep_stdlibs: tuple[str, ...] = ()  # kept in a slim base besides the needed ones
    # One image for all levels (a clone per level, Julia's release recipe)
    # instead of one image per level.
    multi_target: bool = False


@dataclass
class BuildResult:
    manifest: ImageManifest
    out: str
    stats: dict = field(default_factory=dict)


def build_cache_dir() -> str:
    """Where builds keep what they can share (slim bases): $DEPOTDELIVERY_BUILD_CACHE,
    else $XDG_CACHE_HOME/depotdelivery, else ~/.cache/depotdelivery."""
    return (os.environ.get("DEPOTDELIVERY_BUILD_CACHE") or
            os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "depotdelivery"))


def _jobs(requested: int, n: int) -> int:
    if requested > 0:
        return min(requested, n)
    cores = os.cpu_count() or 1
    try:
        with open("/proc/meminfo") as f:
            avail_kb = next(int(l.split()[1]) for l in f if l.startswith("MemAvailable"))
        by_mem = max(1, int(avail_kb / (2.6 * 1024 * 1024)))  # ~2.3 GB peak per compile
    except (OSError, StopIteration, ValueError):
        by_mem = 1
    return max(1, min(n, cores, by_mem))


def _missing_folders(path: str) -> list[str]:
    """The folders os.makedirs(path) would create, outermost first."""
    missing = []
    while not os.path.lexists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing[::-1]


class _Exposure:
    """Make the build depot visible at <store_path>/pool while Julia runs,
    and leave nothing there afterwards: the link goes, and so do the parent
    folders made for it (if they are still empty)."""

    def __init__(self, depot: str, target: str):
        self.depot, self.target = depot, target
        self.prefix: list[str] = []  # command prefix for a private bind mount
        self._made_link = False
        self._made_dirs: list[str] = []

    def __enter__(self) -> "_Exposure":
        if self.target == self.depot:
            return self
        if not os.path.lexists(self.target):
            self._made_dirs = _missing_folders(os.path.dirname(self.target))
            try:
                os.makedirs(os.path.dirname(self.target), exist_ok=True)
                os.symlink(self.depot, self.target)
                self._made_link = True
                return self
            except OSError:
                self._remove_made_dirs()
        if os.path.islink(self.target):
            raise BuildError(f"{self.target} is a link left by another build with the same --store-path "
                             "(still running, or killed): wait for it, or remove the link if it is stale")
        if os.path.isdir(self.target) and shutil.which("unshare"):
            # The path exists (a mounted store): bind the build depot over it in
            # a private mount namespace, so nothing outside the build sees it.
            self.prefix = ["unshare", "--mount", "--propagation", "private", "--",
                           "sh", "-c", 'mount --bind "$1" "$2" && shift 2 && exec "$@"',
                           "dd-bind", self.depot, self.target]
            return self
        raise BuildError(f"cannot expose the build depot at {self.target} (exists and no "
                         "private mount possible); build as root or choose --store-path")

    def __exit__(self, *exc) -> None:
        if self._made_link:
            try:
                os.unlink(self.target)
            except OSError:
                pass
            self._made_link = False
        self._remove_made_dirs()

    def _remove_made_dirs(self) -> None:
        # Innermost first; rmdir refuses a folder someone has put something in.
        for d in reversed(self._made_dirs):
            try:
                os.rmdir(d)
            except OSError:
                break
        self._made_dirs = []


def failed_logs_dir(out: str) -> str:
    return out + ".failed-logs"


def _keep_failed_logs(out: str, out_tmp: str) -> None:
    """After a failure: this build's logs (if it wrote any) replace
    <out>.failed-logs, and its partial folder goes.  <out> itself is never
    touched."""
    if not os.path.isdir(out_tmp):
        return
    logs = failed_logs_dir(out)
    shutil.rmtree(logs, ignore_errors=True)
    src = os.path.join(out_tmp, "logs")
    if os.path.isdir(src) and os.listdir(src):
        try:
            os.rename(src, logs)
        except OSError:
            pass
    shutil.rmtree(out_tmp, ignore_errors=True)


def _swap_into_place(out_tmp: str, out: str) -> None:
    """The finished build replaces <out> (an earlier build comes back if the
    rename fails); the logs of an earlier failure are then stale."""
    old = out + ".old"
    shutil.rmtree(old, ignore_errors=True)
    had_old = os.path.lexists(out)
    if had_old:
        os.rename(out, old)
    try:
        os.rename(out_tmp, out)
    except OSError:
        if had_old:
            os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(failed_logs_dir(out), ignore_errors=True)


def _signal_hint(returncode: int) -> str:
    sig = -returncode
    if sig == signal.SIGKILL:
        return ("often the kernel's out-of-memory killer: each image compile needs ~2.3 GB; "
                "try --jobs 1")
    if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        return "stopped from outside"
    return ("a crash of Julia itself, not an error in the project: check that this Julia runs, "
            "or name another with --julia")


def julia_failure(what: str, returncode: int, output: str, log: str) -> str:
    """One line for a failed Julia step: our scripts' own DD-ERROR line; for
    a crash, how Julia died and its crash report; else Julia's last ERROR
    line.  Never a line that merely came last (before a crash that is
    often a success line such as "Added registry ...")."""
    lines = output.splitlines()
    dd = [l for l in lines if l.startswith("DD-ERROR:")]
    if dd:
        return f"{what}: {dd[-1][len('DD-ERROR:'):].strip()[:400]}"
    report = crash_report(output)
    if returncode < 0 or report:
        said = f"crash report: {report[:300]}" if report else "no crash report in its log"
        hint = _signal_hint(returncode) if returncode < 0 else _signal_hint(-signal.SIGSEGV)
        return f"{what}: Julia was {exit_description(returncode)} ({hint}); {said}; full log in {log}"
    err = next((l.strip() for l in reversed(lines) if l.strip().startswith("ERROR")),
               next((l.strip() for l in reversed(lines) if re.search(r"\berror\b", l, re.I)), ""))
    said = err[:300] if err else "no error message in its output"
    return f"{what} failed ({exit_description(returncode)}): {said}; full log in {log}"


def _copy_within(src: str, dest: str, root: str, what: str) -> None:
    """Copy a folder (without .git), refusing any file whose real path is
    outside `root`: a link in a path-tracked package to /etc/shadow would
    otherwise be copied into the image and published."""
    def copy(s: str, d: str) -> str:
        real = os.path.realpath(s)
        if not is_within(real, root):
            raise UsageError(f"{what}: {os.path.relpath(s, src)} links to {real}, outside the project "
                             "folder; replace the link with a copy")
        return shutil.copy2(s, d)
    try:
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".git"), copy_function=copy)
    except shutil.Error as e:
        first = e.args[0][0] if e.args and e.args[0] else ("", "", str(e))
        raise UsageError(f"{what}: cannot copy {first[0]}: {first[2]}") from None


def _check_out_outside_sources(out: str, project: JuliaProject) -> None:
    """A build inside a path-tracked package would copy itself into itself."""
    real_out = os.path.realpath(out)
    for e in project.entries:
        if e.path:
            src = os.path.realpath(os.path.join(project.dir, e.path))
            if is_within(real_out, src):
                raise UsageError(f"--out {out} is inside path-tracked package {e.name} ({src}); "
                                 "choose an --out outside it")


def build(req: BuildRequest, reporter: Reporter) -> BuildResult:
    """Check the inputs and the Julia that will run, then build."""
    project = read_project(req.project_dir)
    if req.workload and not os.path.isfile(req.workload):
        raise UsageError(f"workload {req.workload} not found: pass an existing .jl file")
    _check_out_outside_sources(os.path.abspath(req.out), project)
    julia_exe = req.julia.resolved()
    version = req.julia.version()
    rules = rules_for(version, lowest=min(req.levels))
    reporter.info(f"Julia {version} at {julia_exe} ({req.julia.source or 'given'})")
    if not rules.verified:
        extra = (f"; package caches are compiled for {rules.env['JULIA_CPU_TARGET']} (pkgimages)"
                 if "JULIA_CPU_TARGET" in rules.env else "")
        reporter.warn(f"Julia {version} is not verified by this release (verified: "
                      f"{', '.join(VERIFIED_VERSIONS)}); its rules come from Julia's documentation "
                      f"(depotdelivery/julia.py){extra}")
    return Builder(req, reporter, project=project, julia_exe=julia_exe, rules=rules).run()


class Builder:
    """One build.  Every path and setting is decided here, before anything
    runs; the steps only read them (and fill in `stats`)."""

    def __init__(self, req: BuildRequest, reporter: Reporter, *, project: JuliaProject,
                 julia_exe: str, rules: VersionRules):
        self.req = req
        self.rep = reporter
        self.project = project
        self.julia_exe = julia_exe
        self.rules = rules
        self.version = rules.version
        self.targets = ({min(req.levels): rules.multi_cpu_target(req.levels)} if req.multi_target else
                        {lvl: rules.cpu_target(lvl) for lvl in req.levels})
        self.out = os.path.abspath(req.out)
        self.out_tmp = self.out + ".partial"
        self.depot = os.path.join(self.out_tmp, "pool")  # the build's depot, published as pool/
        self.store_path = os.path.abspath(req.store_path) if req.store_path else ""
        # Where Julia sees the depot: where nodes will see it.  Without
        # --store-path, that is <out>/pool (valid for the .ji caches only there).
        self.julia_depot = os.path.join(self.store_path or self.out, "pool")
        self.exposure = _Exposure(self.depot, self.julia_depot)
        self.env = {**rules.env, "JULIA_DEPOT_PATH": self.julia_depot,
                    "JULIA_PROJECT": os.path.join(self.out_tmp, "image", "project")}
        self.stats: dict = {"timings": {}}
        # What the workload still compiled on the new images (_coverage).
        self.runtime_statements: set[str] = set()
        self.coverage_notes: list[str] = []
        # What the traced workload adds to Julia's own start (_trace).
        self.workload_statements: set[str] = set()

    @functools.cached_property
    def julia_dirs(self) -> tuple[str, str]:
        """(Julia's Base sources, its standard library folder)."""
        return self.req.julia.source_dirs()

    def _check_keep_stdlibs(self) -> None:
        """Names to keep are checked before anything is built."""
        if not self.slim or not (self.req.keep_stdlibs or self.project.keep_stdlibs):
            return
        stdlib_dir = self.julia_dirs[1]
        available = read_stdlib_deps(stdlib_dir)
        for where, names in (("--keep-stdlib", self.req.keep_stdlibs),
                             (os.path.join(self.project.dir, "Project.toml") + ": [depotdelivery] keep-stdlibs",
                              self.project.keep_stdlibs)):
            for n in names:
                if n not in available:
                    raise UsageError(f"{where}: {n} is not a standard library of Julia {self.version} "
                                     f"(those are the folders in {stdlib_dir}); check the name")

    @functools.cached_property
    def stock_image(self) -> str:
        """Julia's own system image (next to it: libjulia, which images link)."""
        return self.req.julia.default_sysimage()

    # -- running Julia ---------------------------------------------------------
    def _julia(self, args: list[str], *, env_extra: dict[str, str], what: str,
               stdout=None, stdin=subprocess.DEVNULL, timeout: float = 3600, cwd: str | None = None,
               ) -> subprocess.CompletedProcess:
        env = self.req.julia.environ(None, **env_extra)
        cmd = [*self.exposure.prefix, self.julia_exe, "--startup-file=no", "--history-file=no", *args]
        name = what.replace(" ", "-") + ".log"
        log_path = os.path.join(self.out_tmp, "logs", name)
        final_log = os.path.join(failed_logs_dir(self.out), name)  # where it is if this fails
        with open(log_path, "wb") as log:
            try:
                # stdin is /dev/null, as in batch jobs: Julia's start-up
                # compiles for the concrete stdio types it finds.
                proc = subprocess.run(cmd, env=env, stdout=stdout if stdout is not None else log,
                                      stderr=subprocess.PIPE, stdin=stdin, timeout=timeout, cwd=cwd)
            except subprocess.TimeoutExpired:
                raise BuildError(f"{what}: Julia did not finish in {timeout:.0f} s; see {final_log}") from None
            log.write(proc.stderr)
        if proc.returncode != 0:
            raise BuildError(julia_failure(what, proc.returncode, proc.stderr.decode(errors="replace"),
                                           final_log))
        return proc

    # -- steps -----------------------------------------------------------------
    def run(self) -> BuildResult:
        try:
            try:
                manifest = self._build()
                _swap_into_place(self.out_tmp, self.out)
            except OSError as e:
                where = f" ({e.filename})" if e.filename else ""
                raise BuildError(f"building {self.out}: {e.strerror or e}{where}; check free space "
                                 "and permissions of --out and --store-path") from None
        except BaseException:
            _keep_failed_logs(self.out, self.out_tmp)
            raise
        return BuildResult(manifest, self.out, self.stats)

    def _build(self) -> ImageManifest:
        req, project = self.req, self.project
        self._check_keep_stdlibs()
        shutil.rmtree(self.out_tmp, ignore_errors=True)  # left by a killed build
        for d in ("logs", "trace", "image/project", "image/variants", "obj", "pool"):
            os.makedirs(os.path.join(self.out_tmp, d), exist_ok=True)
        if not self.store_path and self.rules.caches_tied_to_path:
            self.rep.info("no --store-path: the depot's .ji caches will be valid only at "
                          f"{self.julia_depot}; system images work anywhere")
        t_start = time.monotonic()
        with self.exposure:
            self._write_project(project)
            with self.rep.step("resolve packages"):
                self._acquire(project)
            with self.rep.step("precompile packages"):
                self._julia([os.path.join(JULIA_DIR, "instantiate.jl")],
                            env_extra={**self.env, "DD_STEP": "precompile"}, what="precompile")
            statements = self._trace()
            base, choice = self._base_image(project, statements)
            self._compile_all(project, statements, base, choice)
            self.stats["runtime_compiled"] = self._coverage() if req.workload else None
            self._second_pass(project, statements, base, choice)
            for note in self.coverage_notes:
                self.rep.warn(note)
            fingerprints = self._fingerprints()
        with self.rep.step("hash files"):
            manifest = self._manifest(project, fingerprints)
        self.stats["total_s"] = round(time.monotonic() - t_start, 1)
        self.stats["timings"] = self.rep.timings
        self.stats["image_id"] = manifest.image_id
        replace_file(os.path.join(self.out_tmp, "manifest.json"), manifest.canonical())
        replace_file(os.path.join(self.out_tmp, "build.json"),
                     json.dumps(self.stats, indent=2, sort_keys=True).encode())
        shutil.rmtree(os.path.join(self.out_tmp, "obj"), ignore_errors=True)
        return manifest

    def _write_project(self, project: JuliaProject) -> None:
        pdir = os.path.join(self.out_tmp, "image", "project")
        shutil.copyfile(os.path.join(project.dir, "Project.toml"), os.path.join(pdir, "Project.toml"))
        with open(os.path.join(project.dir, "Manifest.toml"), encoding="utf-8") as f:
            text = f.read()
        # Developed packages travel inside the pool, content-addressed, and the
        # image's manifest points at them where nodes will see them.  Only the
        # copy is hashed, so nothing from outside the project is read either.
        root = os.path.realpath(project.dir)
        for e in project.entries:
            if not e.path:
                continue
            staging = os.path.join(self.depot, "dev", f".copy-{e.name}")
            shutil.rmtree(staging, ignore_errors=True)
            _copy_within(os.path.join(project.dir, e.path), staging, root, f"path-tracked package {e.name}")
            tree = tree_sha1(staging)
            dest = os.path.join(self.depot, "dev", e.name, tree)
            if os.path.exists(dest):
                shutil.rmtree(staging)
            else:
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                os.rename(staging, dest)
            new = os.path.join(self.julia_depot, "dev", e.name, tree)
            for quoted in (f'path = "{e.path}"', f"path = '{e.path}'"):
                text = text.replace(quoted, f'path = "{new}"')
        with open(os.path.join(pdir, "Manifest.toml"), "w", encoding="utf-8") as f:
            f.write(text)

    def _acquire(self, project: JuliaProject) -> None:
        registered = [e for e in project.packages if e.is_registered]
        urls = list(self.req.registries) or ([GENERAL_URL] if registered else [])
        self._julia([os.path.join(JULIA_DIR, "instantiate.jl")],
                    env_extra={**self.env, "DD_STEP": "registries", "DD_REGISTRIES": "\n".join(urls),
                               "DD_STUB_REGISTRY": "" if urls else "1"},
                    what="add registries", timeout=600)
        regroot = os.path.join(self.depot, "registries")
        reg_dirs = [os.path.join(regroot, d) for d in sorted(os.listdir(regroot))] if os.path.isdir(regroot) else []
        if registered:
            check_registered(project, reg_dirs)
        self._julia([os.path.join(JULIA_DIR, "instantiate.jl")],
                    env_extra={**self.env, "DD_STEP": "instantiate"}, what="instantiate", timeout=1800)
        self._julia([os.path.join(JULIA_DIR, "instantiate.jl")],
                    env_extra={**self.env, "DD_STEP": "artifacts",
                               "DD_LAZY_ARTIFACTS": "1" if self.req.lazy_artifacts else "0"},
                    what="artifacts", timeout=1800)
        for sub in POOL_DIRS:
            root = os.path.join(self.depot, sub)
            for dirpath, dirnames, filenames in os.walk(root):
                for n in filenames + dirnames:
                    p = os.path.join(dirpath, n)
                    if not os.path.islink(p):
                        os.utime(p, ns=(SOURCE_MTIME_NS, SOURCE_MTIME_NS))
        # Pkg makes sources read-only; keep them so (publish copies modes).

    @property
    def slim(self) -> bool:
        """Whether the variants are compiled over a slim base (baseimage.py)."""
        return self.req.stdlibs == "needed" and self.rules.slim_base

    def _trace(self) -> str:
        """Trace what to precompile -> the merged precompile statements.

        Over Julia's own image, only what that image lacks needs tracing.  A
        slim base has no native code, so there everything a job runs must be
        traced: with the image's native code switched off, Julia compiles,
        and --trace-compile lists, every method called, Base's included.
        That trace also covers Julia's start (`-e`) and an uncaught error's
        report (startup.jl), which Julia's own image holds compiled."""
        native = ["--sysimage-native-code=no"] if self.slim else []
        trace_dir = os.path.join(self.out_tmp, "trace")
        startup: list[str] = []
        if self.slim:
            with self.rep.step(f"trace Julia's start-up under {len(STDIO_KINDS)} stdio kinds"):
                startup = self._under_every_stdio(lambda kind: [
                    *native, f"--trace-compile={os.path.join(trace_dir, 'startup-' + stdio_label(kind) + '.jl')}",
                    "-e", "include(popfirst!(ARGS))", os.path.join(JULIA_DIR, "startup.jl")], what="start-up")
        workload_traces: list[str] = []
        if self.req.workload:
            workload = os.path.abspath(self.req.workload)
            with self.rep.step(f"trace workload under {len(STDIO_KINDS)} stdio kinds"):
                workload_traces = self._under_every_stdio(lambda kind: [
                    *native, f"--trace-compile={os.path.join(trace_dir, stdio_label(kind) + '.jl')}", workload],
                    what=f"workload {os.path.basename(workload)}")
        # What the workload adds to Julia's own start (its start loads and
        # initializes every standard library Julia's image holds): which
        # standard libraries the workload uses.
        at_start: set[str] = set().union(*map(_statements, startup))
        workload_lines: set[str] = set().union(*map(_statements, workload_traces))
        self.workload_statements = workload_lines - at_start
        # With native code off, Julia's inference compiles itself too; a job
        # runs it natively (and it is Core.Compiler's code, in every base).
        lines = {l for l in at_start | workload_lines if not l.startswith("precompile(Tuple{typeof(Core.Compiler.")}
        merged = os.path.join(trace_dir, "precompile.jl")
        with open(merged, "w") as f:
            f.writelines(l + "\n" for l in sorted(lines))
        self.stats["traced_statements"] = len(lines)
        return merged

    def _base_image(self, project: JuliaProject, statements: str) -> tuple[str, StdlibChoice | None]:
        """The image the variants are compiled over: Julia's own, or a slim
        base built from Julia's sources (baseimage.py) -> (path, the choice
        of standard libraries, None for Julia's own)."""
        if self.req.stdlibs == "all":
            return self.stock_image, None
        if not self.slim:
            self.rep.warn(f"Julia {self.version}: slim images are verified on {', '.join(VERIFIED_VERSIONS)} "
                          "only; building over Julia's own image with every standard library")
            return self.stock_image, None
        base_src, stdlib_dir = self.julia_dirs
        if not os.path.isfile(os.path.join(base_src, "sysimg.jl")):
            raise BuildError(f"Julia's Base sources are not at {base_src} (no sysimg.jl), so no slim image "
                             "can be built; install Julia's full package or build with --stdlibs all")
        available = read_stdlib_deps(stdlib_dir)
        traced = named_in_trace("\n".join(self.workload_statements), available)
        choice = choose_stdlibs(available, project=[e.name for e in project.entries if e.is_stdlib],
                                traced=traced, keep=(*self.req.keep_stdlibs, *project.keep_stdlibs))
        # Julia's start traced statements of every library its own image
        # initializes; those of libraries left out cannot be precompiled.
        kept_lines = [l for l in sorted(_statements(statements)) if not named_in_trace(l, choice.left_out)]
        self.stats["stdlibs"] = {"kept": list(choice.kept), "left_out": list(choice.left_out),
                                 "why": dict(choice.why),
                                 "statements_of_left_out": self.stats["traced_statements"] - len(kept_lines)}
        with open(statements, "w") as f:
            f.writelines(l + "\n" for l in kept_lines)
        with open(os.path.join(base_src, "sysimg.jl"), encoding="utf-8") as f:
            text = rewrite_sysimg(f.read(), choice.kept)
        # A base depends only on this Julia and the list: builds share it.
        stock = os.stat(self.stock_image)
        key = hashlib.sha256("\0".join([str(self.version), os.path.realpath(self.stock_image), str(stock.st_size),
                                        str(stock.st_mtime_ns), text]).encode()).hexdigest()[:24]
        cached = os.path.join(build_cache_dir(), "bases", key, "sys.ji")
        label = f"{len(choice.kept)} of {len(available)} standard libraries ({', '.join(choice.kept)})"
        if os.path.isfile(cached):
            self.rep.info(f"slim base with {label}: {cached}")
            return cached, choice
        work = os.path.join(self.out_tmp, "obj", "base")
        src = os.path.join(work, "base")
        shutil.copytree(base_src, src, symlinks=True)
        with open(os.path.join(src, "sysimg-depotdelivery.jl"), "w", encoding="utf-8") as f:
            f.write(text)
        # Standard libraries come from Julia's own folder; nothing of the
        # build's depot or project is read.
        env = {"JULIA_LOAD_PATH": "@stdlib", "JULIA_DEPOT_PATH": os.path.join(work, "depot"),
               "JULIA_PROJECT": ""}
        with self.rep.step(f"build a slim base with {label}"):
            core = os.path.join(work, "corecompiler.ji")
            sys_ji = os.path.join(work, "sys.ji")
            # The flags of Julia's own build (base/Makefile, PackageCompiler).
            self._julia(["--output-ji", core, "-g0", "-O0", "compiler/compiler.jl"], env_extra=env,
                        what="compile Julia's compiler", cwd=src)
            self._julia(["--sysimage", core, "-g1", "-O0", "--output-ji", sys_ji, "sysimg-depotdelivery.jl"],
                        env_extra=env, what="build the slim base", cwd=src)
        try:
            os.makedirs(os.path.dirname(cached), exist_ok=True)
            tmp = f"{cached}.{os.getpid()}.tmp"
            shutil.copyfile(sys_ji, tmp)
            os.replace(tmp, cached)
        except OSError as e:  # a cache is an optimisation: say so, build on
            self.rep.warn(f"cannot keep the slim base in {os.path.dirname(cached)} ({e.strerror}); "
                          "set DEPOTDELIVERY_BUILD_CACHE to a writable folder")
        return sys_ji, choice

    def _compile_all(self, project: JuliaProject, statements: str, base: str,
                     choice: StdlibChoice | None) -> None:
        names = [name for name, _ in project.deps]
        jobs = _jobs(self.req.jobs, len(self.targets))
        label = ", ".join(f"{lvl}={t}" for lvl, t in self.targets.items())
        self.stats["variants"] = {}
        with self.rep.step(f"compile {len(self.targets)} system image(s) ({label}; {jobs} at a time)"):
            with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
                futs = {pool.submit(self._compile_one, lvl, t, base, names, statements, choice): lvl
                        for lvl, t in self.targets.items()}
                for fut in concurrent.futures.as_completed(futs):
                    fut.result()

    def _compile_one(self, lvl: Level, target: str, base: str, names: list[str], statements: str,
                     choice: StdlibChoice | None) -> None:
        obj_dir = os.path.join(self.out_tmp, "obj", lvl.name)
        os.makedirs(obj_dir, exist_ok=True)
        obj = os.path.join(obj_dir, "sys.o")
        stats_file = os.path.join(obj_dir, "stats.txt")
        failed_list = os.path.join(self.out_tmp, "logs", f"precompile-failed-{lvl.name}.txt")
        t0 = time.monotonic()
        self._julia([f"--cpu-target={target}", "--output-o", obj, "-J", base,
                     os.path.join(JULIA_DIR, "sysimage.jl")],
                    env_extra={**self.env, "DD_PACKAGES": ",".join(names), "DD_PRECOMPILE": statements,
                               "DD_STATS": stats_file, "DD_FAILED": failed_list,
                               "DD_LEFT_OUT": ",".join(choice.left_out) if choice else "",
                               # Julia's start-up calls this version needs (julia.py).
                               "DD_INIT_OUTPUT_O": ",".join(self.rules.output_o_init)},
                    what=f"compile system image {lvl}", timeout=7200)
        t_compile = time.monotonic() - t0
        vdir = os.path.join(self.out_tmp, "image", "variants", lvl.name)
        os.makedirs(vdir, exist_ok=True)
        so = os.path.join(vdir, "sys.so")
        libdir = os.path.dirname(os.path.realpath(self.stock_image))
        libjulia = _find_libjulia(self.stock_image)
        cc = shutil.which("gcc") or shutil.which("cc")
        if not cc:
            raise BuildError("no C compiler (gcc) to link the system image; apt-get install gcc")
        link = subprocess.run([cc, "-shared", "-o", so, "-Wl,--whole-archive", obj, "-Wl,--no-whole-archive",
                               f"-L{os.path.dirname(libjulia)}", f"-l:{os.path.basename(libjulia)}"],
                              capture_output=True, text=True)
        if link.returncode != 0:
            raise BuildError(f"linking system image {lvl} failed: {link.stderr.strip()[:300]}")
        if shutil.which("strip"):
            subprocess.run(["strip", so], capture_output=True)
        os.chmod(so, 0o755)
        counts = {}
        if os.path.exists(stats_file):
            with open(stats_file) as f:
                counts = dict(l.strip().split("=", 1) for l in f if "=" in l)
        self.stats["variants"][lvl.name] = {
            "cpu_target": target, "compile_s": round(t_compile, 1), "size": os.path.getsize(so),
            "precompiled": int(counts.get("precompiled", 0)), "precompile_failed": int(counts.get("failed", 0)),
            "precompile_failed_list": os.path.join(self.out, "logs", os.path.basename(failed_list)),
            "libdir": libdir}
        if int(counts.get("failed", 0)):
            self.rep.warn(f"{counts['failed']} traced statement(s) did not precompile into the {lvl} image "
                          f"(each with its reason in {os.path.join(self.out, 'logs', os.path.basename(failed_list))})")

    def _second_pass(self, project: JuliaProject, statements: str, base: str, choice: StdlibChoice | None) -> None:
        """Compile once more with what the workload still compiled at run
        time on the first images.  Tracing misses what Julia's own image
        ran natively even with its native code switched off (start-up
        and exit paths entered from C, such as `__init__` and libuv
        callbacks), and a caller compiled into the image can dispatch to
        a specialization no traced statement named.  Only when that adds
        a statement: one already traced cannot be precompiled (see the
        failed lists), and another pass would not change that."""
        traced = _statements(statements)
        new = self.runtime_statements - traced
        if not new:
            return
        first = dict(self.stats["runtime_compiled"])
        # In the order of the first pass (sorted), as a trace of them all would be.
        with open(statements, "w") as f:
            f.writelines(l + "\n" for l in sorted(traced | new))
        self.runtime_statements = set()
        with self.rep.step(f"compile again with the {len(new)} method(s) the images still compiled at run time"):
            self._compile_all(project, statements, base, choice)
        self.stats["runtime_compiled"] = self._coverage()
        self.stats["second_pass"] = {"statements_added": len(new), "runtime_compiled_before": first}

    def _under_every_stdio(self, args_for, *, what: str) -> list[str]:
        """Run Julia once per stdio kind (two at a time: each run is mostly
        one core); -> the --trace-compile files written."""
        def one(kind: tuple[str, str]) -> str:
            args = args_for(kind)
            with tempfile.TemporaryDirectory(prefix="dd-stdio-") as cwd, \
                    _stdio(kind, os.path.join(self.out_tmp, "logs")) as (stdout, stdin):
                self._julia(args, env_extra=self.env, what=f"{what} ({stdio_label(kind)})",
                            stdout=stdout, stdin=stdin, cwd=cwd)
            return next(a for a in args if a.startswith("--trace-compile="))[len("--trace-compile="):]
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(one, STDIO_KINDS))

    def _coverage(self) -> dict[str, int]:
        """Run the workload on each variant this machine can run, under every
        stdio kind, with compile tracing: what still compiles at run time
        despite the image.  -> per variant, the distinct statements; what to
        tell the user goes to `coverage_notes`."""
        self.coverage_notes = []
        from depotdelivery.detect import detect_level
        host = detect_level()
        workload = os.path.abspath(self.req.workload)
        result = {}
        by_stdio: dict[str, dict[str, int]] = {}
        with self.rep.step(f"check the workload against the new images under {len(STDIO_KINDS)} stdio kinds"):
            for lvl in self.targets:
                if host is not None and lvl > host:
                    continue
                so = os.path.join(self.out_tmp, "image", "variants", lvl.name, "sys.so")
                # Julia writes no trace when it compiles nothing: drop an earlier pass's.
                for old in glob.glob(os.path.join(self.out_tmp, "trace", f"runtime-{lvl.name}*.jl")):
                    os.unlink(old)
                traces = self._under_every_stdio(lambda kind, lvl=lvl, so=so: [
                    "-J", so, "--trace-compile=" + os.path.join(self.out_tmp, "trace",
                                                                f"runtime-{lvl.name}-{stdio_label(kind)}.jl"),
                    workload], what=f"workload on image {lvl}")
                by_stdio[lvl.name] = {stdio_label(k): _count_statements(t) for k, t in zip(STDIO_KINDS, traces,
                                                                                             strict=True)}
                compiled = set().union(*(_statements(t) for t in traces))
                self.runtime_statements |= compiled
                result[lvl.name] = len(compiled)
                if compiled:
                    listing = os.path.join(self.out_tmp, "trace", f"runtime-{lvl.name}.jl")
                    with open(listing, "w") as f:
                        f.writelines(s + "\n" for s in sorted(compiled))
                    kinds = ", ".join(f"{k} {n}" for k, n in by_stdio[lvl.name].items() if n)
                    self.coverage_notes.append(f"{len(compiled)} method(s) still compiled at run time on {lvl} "
                                               f"({kinds}; see {listing.replace(self.out_tmp, self.out)})")
        self.stats["runtime_compiled_by_stdio"] = by_stdio
        return result

    def _fingerprints(self) -> dict[str, str]:
        """Record the A/B fingerprint of each variant this machine can run,
        started as the wrapper starts it, after the workload (wrapper/validate.py)."""
        from depotdelivery.detect import detect_level
        from depotdelivery.wrapper.validate_cli import FINGERPRINT_JL
        host = detect_level()
        out = {}
        with self.rep.step("fingerprint the variants"):
            for lvl, target in self.targets.items():
                if host is not None and lvl > host:
                    continue
                image = os.path.join(self.out_tmp, "image")
                rel = f"fingerprints/{lvl.name}.json"
                os.makedirs(os.path.join(image, "fingerprints"), exist_ok=True)
                so = os.path.join(image, "variants", lvl.name, "sys.so")
                workload = os.path.abspath(self.req.workload) if self.req.workload else ""
                with tempfile.TemporaryDirectory(prefix="dd-fp-") as cwd:
                    self._julia(["-J", so, f"--project={os.path.join(image, 'project')}", FINGERPRINT_JL,
                                 os.path.join(image, rel), workload],
                                env_extra={**self.env, "DEPOTDELIVERY_VARIANT": lvl.name,
                                           "DEPOTDELIVERY_CPU_TARGET": target,
                                           "DEPOTDELIVERY_NODE_LEVEL": host.name if host else ""},
                                what=f"fingerprint {lvl}", stdout=subprocess.PIPE, cwd=cwd)
                out[lvl.name] = rel
        return out

    def _manifest(self, project: JuliaProject, fingerprints: dict[str, str]) -> ImageManifest:
        files: list[FileEntry] = []
        image_root = os.path.join(self.out_tmp, "image")
        # The image's own depot holds this build's compiled caches.
        src_compiled = os.path.join(self.depot, "compiled")
        if os.path.isdir(src_compiled):
            shutil.copytree(src_compiled, os.path.join(image_root, "depot", "compiled"), copy_function=shutil.copy2)
        for rel, variant in _walk(image_root):
            files.append(_entry("image", image_root, rel, variant))
        for sub in POOL_DIRS:
            if os.path.isdir(os.path.join(self.depot, sub)):
                for rel, _ in _walk(self.depot, sub):
                    files.append(_entry("pool", self.depot, rel, ""))
        up_to = max(self.req.levels).name if self.req.multi_target and len(set(self.req.levels)) > 1 else ""
        variants = tuple(Variant(level=lvl.name, cpu_target=t, sysimage=f"variants/{lvl.name}/sys.so",
                                 fingerprint=fingerprints.get(lvl.name, ""), up_to=up_to)
                         for lvl, t in sorted(self.targets.items()))
        pins = tuple(PackagePin(e.name, e.uuid, e.version, e.tree_sha1) for e in project.packages)
        workload_sha = hash_file(self.req.workload)[0] if self.req.workload else ""
        return ImageManifest(
            name=self.req.name or project.name, created=utc_text(datetime.now(timezone.utc)),
            julia_version=str(self.version), store_path=os.path.dirname(self.julia_depot),
            project_sha256=project.project_sha256, manifest_sha256=project.manifest_sha256,
            workload_sha256=workload_sha, packages=pins, variants=variants, files=tuple(files),
            builder=f"depotdelivery {__version__}")


def _statements(trace: str) -> set[str]:
    """The precompile statements of a --trace-compile file (none written:
    nothing was compiled)."""
    try:
        with open(trace, errors="replace") as f:
            return {l.rstrip("\n") for l in f if l.startswith("precompile(")}
    except FileNotFoundError:
        return set()


def _count_statements(trace: str) -> int:
    return len(_statements(trace))


def _find_libjulia(base_sysimage: str) -> str:
    for d in (os.path.dirname(os.path.dirname(os.path.realpath(base_sysimage))),
              "/usr/lib/x86_64-linux-gnu", "/usr/lib"):
        for n in ("libjulia.so.1", "libjulia.so"):
            if os.path.exists(os.path.join(d, n)):
                return os.path.join(d, n)
    raise BuildError("libjulia.so not found next to the Julia installation; reinstall Julia")


def _walk(root: str, sub: str = ""):
    """Yield (relative path, variant level or '') for every regular file."""
    top = os.path.join(root, sub) if sub else root
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for n in sorted(filenames):
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root).replace(os.sep, "/")
            if os.path.islink(p):
                raise BuildError(f"{rel}: symbolic links are not supported in images yet; "
                                 "replace it with a copy")
            variant = (rel.split("/")[1] if rel.startswith("variants/") else
                       rel[len("fingerprints/"):-len(".json")] if rel.startswith("fingerprints/") else "")
            yield rel, variant


def _entry(root_name: str, root: str, rel: str, variant: str) -> FileEntry:
    p = os.path.join(root, rel)
    st = os.stat(p)
    digest, size = hash_file(p)
    mode = 0o755 if st.st_mode & 0o111 else 0o644
    return FileEntry(root=root_name, path=rel, sha256=digest, size=size, mode=mode,
                     mtime_ns=st.st_mtime_ns, variant=variant)
