"""Everything that depends on the Julia version, in one place.

Verified here: Julia 1.5.3 (Debian bullseye).  The rules for newer versions
follow Julia's documentation and are kept small on purpose:

* CPU target names: Julia 1.5's LLVM 9 has no ``x86-64-vN`` names, so levels
  map to the oldest CPU model name that implies them (``haswell`` for v3).
  Those model names exist in every later Julia too, so they are used
  throughout; an unknown name makes Julia fail with a misleading "CX16"
  message, which is why the table is closed.
* pkgimages (Julia >= 1.9): package caches then hold native code for the
  CPU target they were built with, so the compiled caches become per-variant.
* relocatable depots (Julia >= 1.11): cache headers use ``@depot`` and the
  store path stops being baked into the caches.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Mapping

from .errors import ConfigError, UsageError
from .levels import Level

_CPU_TARGETS = {
    1: "x86-64",          # baseline: SSE2
    2: "nehalem",         # SSE4.2, POPCNT, CX16
    3: "haswell",         # AVX2, BMI1/2, FMA, MOVBE
    4: "skylake-avx512",  # AVX-512 F/BW/CD/DQ/VL
}
VERIFIED_VERSIONS = ("1.5.3",)


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

    @property
    def needs_output_o_init(self) -> bool:
        # In --output-o mode Julia <= 1.8 skips its start-up code: the build
        # script must call reinit_stdio/init_load_path/init_depot_path itself.
        return (self.major, self.minor) < (1, 9)


def cpu_target(level: Level, version: JuliaVersion) -> str:
    """The --cpu-target string for `level` on this Julia."""
    try:
        return _CPU_TARGETS[level.number]
    except KeyError:
        raise UsageError(f"no Julia CPU target for level {level}") from None


@dataclass(frozen=True)
class JuliaInstall:
    """A Julia executable plus the environment every process of it needs
    (on these machines: bullseye's libunwind first on LD_LIBRARY_PATH)."""

    executable: str
    env: Mapping[str, str] = field(default_factory=dict)

    def environ(self, base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env.update(self.env)
        env.setdefault("JULIA_PKG_SERVER", "")
        env.update(extra)
        return env

    def resolved(self) -> str:
        path = shutil.which(self.executable)
        if not path:
            raise ConfigError(f"Julia not found at {self.executable!r}; install it "
                              "(make julia) or set [julia] executable in the site config")
        return path

    def version(self) -> JuliaVersion:
        exe = self.resolved()
        try:
            out = subprocess.run([exe, "--version"], env=self.environ(), capture_output=True,
                                 text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ConfigError(f"cannot run Julia at {exe}: {e}") from None
        if out.returncode != 0:
            raise ConfigError(f"{exe} --version failed: {out.stderr.strip()[:200]}")
        return JuliaVersion.parse(out.stdout)

    def default_sysimage(self) -> str:
        exe = self.resolved()
        out = subprocess.run([exe, "--startup-file=no", "-e", "print(unsafe_string(Base.JLOptions().image_file))"],
                             env=self.environ(), capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise ConfigError(f"{exe} does not start: {out.stderr.strip()[:200]}")
        return out.stdout.strip()


def default_install() -> JuliaInstall:
    """The Julia the project set up (make julia), else `julia` on PATH."""
    exe = os.environ.get("DEPOTDELIVERY_JULIA")
    if exe:
        return JuliaInstall(exe)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for cand in (os.path.join(os.getcwd(), ".deps/julia/bin/julia"),
                 os.path.join(here, ".deps/julia/bin/julia")):
        if os.access(cand, os.X_OK):
            return JuliaInstall(cand)
    return JuliaInstall("julia")
