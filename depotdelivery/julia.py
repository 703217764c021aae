"""Everything that depends on the Julia version, and how the Julia to run is
found, in one place.

Verified here: Julia 1.5.3 (Debian bullseye).  What differs on newer
versions is written from Julia's own sources and documentation, is not
verified, and is kept to the choices the build actually makes
(`VersionRules`); each range has a unit test:

* 1.5: the verified release.  In ``--output-o`` mode Julia runs no module
  ``__init__`` of the base image (src/init.c runs initializers only when not
  generating output, or for incremental output), so the build script calls
  the start-up functions itself; in 1.5 ``init_load_path`` also sets the
  active project from JULIA_PROJECT.
* >= 1.6: ``init_load_path`` no longer sets the project (JuliaLang/julia#37441);
  ``init_active_project`` does, and the build script must call it too
  (PackageCompiler does the same).  Still true in the newest Julia.
* >= 1.9 pkgimages: package caches hold native code, by default for the
  build machine's own CPU; setting JULIA_CPU_TARGET before precompiling is
  the documented way to make them load elsewhere, so the build sets it to
  the lowest level it builds, for every Julia process (the image compile
  passes --cpu-target itself).  1.10 had bugs here (JuliaLang/julia#54464).
* >= 1.11 relocatable depots: cache headers name ``@depot``, not the
  absolute path, so the caches no longer tie a depot to one path.

CPU target names: Julia checks ``--cpu-target`` names against its own CPU
table (src/processor_x86.cpp), not LLVM's list.  A name LLVM knows but that
table lacks fails with a misleading "does not support the CX16 instruction"
(JuliaLang/julia#45657: znver3 on 1.8 with LLVM 13), and ``x86-64-vN`` in
that table was still an open request when checked (JuliaLang/julia#42073).
So every version gets the oldest CPU model name that implies each level;
those names exist in every Julia since 1.5.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import unquote, urlparse

from .errors import ConfigError, UsageError
from .levels import Level

VERIFIED_VERSIONS = ("1.5.3",)
OLDEST = (1, 5)

# Where the Julia to run comes from, in order (shown in --help).
JULIA_SEARCH = ("--julia, else $DEPOTDELIVERY_JULIA, else the site config's [julia] executable "
                "(with its [julia.env]), else .deps/julia/bin/julia in the checkout depotdelivery "
                "was installed from (`make install`), else `julia` on PATH")

_MODEL_NAMES = {
    1: "x86-64",          # baseline: SSE2
    2: "nehalem",         # SSE4.2, POPCNT, CX16
    3: "haswell",         # AVX2, BMI1/2, FMA, MOVBE
    4: "skylake-avx512",  # AVX-512 F/BW/CD/DQ/VL
}
# (first Julia version, level number -> --cpu-target name), newest last: a
# version uses the last table at or below it.  One table today, for the
# reason in the module docstring; a Julia whose CPU table learns the
# x86-64-vN names gets its own entry here.
_CPU_TARGET_TABLES = ((OLDEST, _MODEL_NAMES),)


@dataclass(frozen=True, order=True)
class JuliaVersion:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> "JuliaVersion":
        m = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
        if not m:
            raise ValueError(f"not a Julia version: {text!r}")
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def short(self) -> str:
        return f"v{self.major}.{self.minor}"

    @property
    def has_pkgimages(self) -> bool:
        return (self.major, self.minor) >= (1, 9)

    @property
    def relocatable_depots(self) -> bool:
        return (self.major, self.minor) >= (1, 11)


@dataclass(frozen=True)
class VersionRules:
    """The choices the build makes differently per Julia version."""

    version: JuliaVersion
    verified: bool
    # Base functions sysimage.jl calls first in --output-o mode, in order.
    output_o_init: tuple[str, ...]
    # Extra environment for every Julia process of the build.
    env: Mapping[str, str]
    # Whether the depot's compiled caches are valid only at the path they
    # were built at (before relocatable depots).
    caches_tied_to_path: bool
    # Whether a slim base can be built from Julia's sources (sysimg.jl with
    # its `stdlibs = [...]` list; baseimage.py): verified on 1.5 only.
    slim_base: bool = False

    def cpu_target(self, level: Level) -> str:
        return cpu_target(level, self.version)

    def multi_cpu_target(self, levels: tuple[Level, ...]) -> str:
        """One --cpu-target for one image holding code for every level, as
        Julia's release binaries are built: the lowest level's target, then
        each higher level cloned in full (`clone_all`).  Julia picks the
        best clone its CPU can run when it loads the image."""
        names = [cpu_target(lvl, self.version) for lvl in sorted(set(levels))]
        return ";".join([names[0], *(f"{n},clone_all" for n in names[1:])])


def cpu_target(level: Level, version: JuliaVersion) -> str:
    """The --cpu-target string for `level` on this Julia (_CPU_TARGET_TABLES)."""
    tables = [names for first, names in _CPU_TARGET_TABLES if (version.major, version.minor) >= first]
    if not tables:
        raise ConfigError(f"Julia {version} is older than {OLDEST[0]}.{OLDEST[1]}, the oldest this "
                          "release knows CPU target names for; use Julia 1.5.3")
    try:
        return tables[-1][level.number]
    except KeyError:
        raise UsageError(f"no Julia CPU target for level {level}") from None


def rules_for(version: JuliaVersion, lowest: Level | None = None) -> VersionRules:
    """What the build does on `version`; `lowest` is the lowest level built
    (with pkgimages, the package caches are compiled for it, so that they
    load on every node that can run one of the variants)."""
    if (version.major, version.minor) < OLDEST:
        raise ConfigError(f"Julia {version} is older than {OLDEST[0]}.{OLDEST[1]}, the oldest this "
                          "release can build with; use Julia 1.5.3")
    init: tuple[str, ...]
    if (version.major, version.minor) < (1, 6):
        init = ("reinit_stdio", "init_load_path", "init_depot_path")
    else:
        init = ("reinit_stdio", "init_depot_path", "init_load_path", "init_active_project")
    env: dict[str, str] = {}
    if version.has_pkgimages and lowest is not None:
        env["JULIA_CPU_TARGET"] = cpu_target(lowest, version)
    return VersionRules(version=version, verified=str(version) in VERIFIED_VERSIONS,
                        output_o_init=init, env=env,
                        caches_tied_to_path=not version.relocatable_depots,
                        slim_base=(version.major, version.minor) == (1, 5))


# -- how a Julia process ended ---------------------------------------------------
def exit_description(returncode: int) -> str:
    """'killed by SIGSEGV' for a signal (subprocess reports -N), 'exit N'
    otherwise; a shell in front of Julia reports a signal as 128+N."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    if returncode > 128:
        try:
            return f"exit {returncode} (128+{signal.Signals(returncode - 128).name}: a crash, if a shell ran Julia)"
        except ValueError:
            pass
    return f"exit {returncode}"


def crash_report(output: str, lines: int = 2) -> str:
    """The start of the report Julia prints when a signal kills it
    ("signal (11): Segmentation fault", "in expression starting at ..."),
    or "" when the output has none.  Nothing else is quoted: what precedes
    a crash is often a success line ("Added registry ...") that says
    nothing about it."""
    out = output.splitlines()
    starts = [i for i, l in enumerate(out) if re.match(r"\s*signal \(\d+\):", l)]
    if not starts:
        return ""
    report = [l.strip() for l in out[starts[-1]:] if l.strip()][:lines]
    return " | ".join(report)


# -- finding Julia ----------------------------------------------------------------
@dataclass(frozen=True)
class JuliaInstall:
    """A Julia executable plus the environment every process of it needs
    (on these machines: bullseye's libunwind first on LD_LIBRARY_PATH), and
    where it was found (shown to the user)."""

    executable: str
    env: Mapping[str, str] = field(default_factory=dict)
    source: str = ""

    def environ(self, base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env.update(self.env)
        env.setdefault("JULIA_PKG_SERVER", "")
        env.update(extra)
        return env

    def resolved(self) -> str:
        path = shutil.which(self.executable)
        if not path:
            where = f" ({self.source})" if self.source else ""
            raise ConfigError(f"Julia not found at {self.executable!r}{where}; install it (make julia) "
                              f"or name one: {JULIA_SEARCH}")
        return path

    def _run(self, args: list[str], what: str, timeout: float) -> str:
        exe = self.resolved()
        try:
            out = subprocess.run([exe, *args], env=self.environ(), capture_output=True, text=True,
                                 timeout=timeout, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ConfigError(f"cannot run Julia at {exe} ({self.source}): {e}") from None
        if out.returncode != 0:
            report = crash_report(out.stderr)
            detail = (f"crash report: {report}" if out.returncode < 0 and report else
                      next((l.strip() for l in reversed(out.stderr.splitlines()) if l.strip()), "no output"))
            raise ConfigError(f"Julia at {exe} ({self.source}) fails {what} "
                              f"({exit_description(out.returncode)}): {detail[:200]}; "
                              f"fix that Julia or name another: {JULIA_SEARCH}")
        return out.stdout

    def version(self) -> JuliaVersion:
        text = self._run(["--version"], "--version", 60)
        try:
            return JuliaVersion.parse(text)
        except ValueError:
            raise ConfigError(f"{self.executable} --version printed no version ({text.strip()[:80]!r}); "
                              "is it Julia?") from None

    def default_sysimage(self) -> str:
        return self._run(["--startup-file=no", "-e", "print(unsafe_string(Base.JLOptions().image_file))"],
                         "to start", 120).strip()

    def source_dirs(self) -> tuple[str, str]:
        """(Base's sources, the standard library folder) of this Julia."""
        out = self._run(["--startup-file=no", "-e", 'println(joinpath(Sys.BINDIR, Base.DATAROOTDIR, "julia", '
                         '"base")); println(Sys.STDLIB)'], "to start", 120)
        base_src, stdlib_dir = out.split("\n")[:2]
        return base_src, stdlib_dir


def checkout_from_direct_url(text: str) -> str | None:
    """The local folder pip installed from, from its direct_url.json
    (PEP 610): only a plain directory URL, not an archive or a VCS URL."""
    try:
        d = json.loads(text)
    except ValueError:
        return None
    if not isinstance(d, dict) or not isinstance(d.get("dir_info"), dict):
        return None
    url = urlparse(str(d.get("url", "")))
    if url.scheme != "file" or url.netloc not in ("", "localhost"):
        return None
    return unquote(url.path) or None


def _is_checkout(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "setup.cfg")) and os.path.isdir(os.path.join(path, "depotdelivery"))


def source_checkout(package_dir: str = os.path.dirname(os.path.abspath(__file__))) -> str | None:
    """The source checkout this package came from, if known: the folder
    holding it (a source tree or an editable install), else the folder pip
    recorded next to the installed copy (direct_url.json).  Never the
    current directory: what runs must not depend on where one stands."""
    root = os.path.dirname(package_dir)
    if _is_checkout(root):
        return root
    for info in sorted(glob.glob(os.path.join(root, "depotdelivery-*.dist-info", "direct_url.json"))):
        try:
            with open(info, encoding="utf-8") as f:
                path = checkout_from_direct_url(f.read())
        except OSError:
            continue
        if path and _is_checkout(path):
            return path
    return None


def choose_julia(flag: str, environ: Mapping[str, str], *, config_executable: str = "",
                 config_env: Mapping[str, str] | None = None, config_path: str = "",
                 checkout_julia: str | None = None) -> JuliaInstall:
    """The first of: the --julia flag, $DEPOTDELIVERY_JULIA, the site
    config's executable (with its environment), the Julia `make` installed
    in the source checkout, `julia` on PATH.  Pure: the caller looks things up."""
    if flag:
        return JuliaInstall(flag, source="--julia")
    if environ.get("DEPOTDELIVERY_JULIA"):
        return JuliaInstall(environ["DEPOTDELIVERY_JULIA"], source="DEPOTDELIVERY_JULIA")
    if config_executable:
        return JuliaInstall(config_executable, dict(config_env or {}),
                            source=f"[julia] executable in {config_path}")
    if checkout_julia:
        return JuliaInstall(checkout_julia, source="installed by make in the source checkout")
    return JuliaInstall("julia", source="julia on PATH")


def find_julia(flag: str = "", *, environ: Mapping[str, str] | None = None, config=None,
               checkout: str | None = None) -> JuliaInstall:
    """choose_julia() with its inputs looked up.  The site config is read
    only when neither the flag nor the variable decides (a broken config
    must not stop an explicit choice); `config`/`checkout` are for tests."""
    environ = os.environ if environ is None else environ
    if flag or environ.get("DEPOTDELIVERY_JULIA"):
        return choose_julia(flag, environ)
    if config is None:
        from .config import load_config
        config = load_config()
    if checkout is None:
        checkout = source_checkout()
    cand = os.path.join(checkout, ".deps", "julia", "bin", "julia") if checkout else None
    return choose_julia("", environ, config_executable=config.julia_executable, config_env=config.julia_env,
                        config_path=config.path,
                        checkout_julia=cand if cand and os.access(cand, os.X_OK) else None)
