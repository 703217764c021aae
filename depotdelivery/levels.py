"""x86-64 micro-architecture levels: the table, the order, and detection.

The feature lists come from archspec's data file (the same table archspec,
Spack and EESSI use); this module is the thin, typed query layer over it.
Loading the JSON directly instead of importing `archspec.cpu` keeps detection
at about a millisecond, which matters on the per-job path (importing
`archspec.cpu` costs ~25 ms, more than the wrapper's whole budget).

A level `a` "runs on" a CPU when every feature of `a` is among the CPU's
flags; levels are totally ordered, so `a <= b` means code for `a` runs
wherever code for `b` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from .cpuinfo import first_flags
from .errors import UsageError

# Names as glibc, archspec (with '_') and HTCondor (Microarch) spell them.
LEVEL_NAMES = ("x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4")
_ARCHSPEC_NAMES = {"x86-64": "x86_64", "x86-64-v2": "x86_64_v2",
                   "x86-64-v3": "x86_64_v3", "x86-64-v4": "x86_64_v4"}


@dataclass(frozen=True, order=True)
class Level:
    number: int  # 1..4; the order of levels is the order of numbers
    name: str

    def __str__(self) -> str:
        return self.name

    @property
    def htcondor_microarch(self) -> str:
        """HTCondor's spelling: x86_64-v1 ... x86_64-v4."""
        return f"x86_64-v{self.number}"

    def features(self) -> frozenset[str]:
        return _features()[self.name]


LEVELS = tuple(Level(i + 1, name) for i, name in enumerate(LEVEL_NAMES))
# Each level's rank by its exact name (1 = x86-64).  submit/job_submit.lua
# holds a copy (LEVEL_RANK: Lua cannot import this); tests/test_slurm_index.py
# checks the copy against this table.
LEVEL_RANK = {lvl.name: lvl.number for lvl in LEVELS}
_BY_NAME = {lvl.name: lvl for lvl in LEVELS}
# Accepted aliases: archspec's underscores, HTCondor's Microarch, v1.
for _lvl in LEVELS:
    _BY_NAME[_ARCHSPEC_NAMES[_lvl.name]] = _lvl
    _BY_NAME[_lvl.htcondor_microarch] = _lvl
    _BY_NAME[f"x86-64-v{_lvl.number}"] = _lvl
    _BY_NAME[str(_lvl.number)] = _lvl


def parse_level(text: str) -> Level:
    """'x86-64-v3' (or 'x86_64_v3', 'x86_64-v3', '3') -> Level; else UsageError."""
    lvl = _BY_NAME.get(text.strip().lower())
    if lvl is None:
        raise UsageError(
            f"unknown CPU level {text!r}: use one of {', '.join(LEVEL_NAMES)}")
    return lvl


def parse_levels(text: str) -> tuple[Level, ...]:
    """'x86-64,x86-64-v3' -> sorted, de-duplicated levels."""
    names = [t for t in text.split(",") if t.strip()]
    if not names:
        raise UsageError("no CPU level given: use e.g. --levels x86-64,x86-64-v3")
    return tuple(sorted({parse_level(n) for n in names}))


@lru_cache(maxsize=1)
def _features() -> dict[str, frozenset[str]]:
    import json

    import archspec  # the package's __init__ is tiny; only its data is used

    path = os.path.join(os.path.dirname(archspec.__file__), "json", "cpu",
                        "microarchitectures.json")
    with open(path, "rb") as f:
        table = json.load(f)["microarchitectures"]
    return {name: frozenset(table[a]["features"]) for name, a in _ARCHSPEC_NAMES.items()}


def cpu_flags(cpuinfo_text: str) -> frozenset[str]:
    """The flags of the first processor in a /proc/cpuinfo text."""
    return frozenset((first_flags(cpuinfo_text) or "").split())


def missing_features(level: Level, flags: frozenset[str]) -> frozenset[str]:
    return level.features() - flags


def level_of(flags: frozenset[str]) -> Level | None:
    """The highest level whose features the CPU has; None if not even x86-64
    (a cpuinfo without flags, or not an x86-64 machine)."""
    if not flags:
        return None
    best = None
    for lvl in LEVELS:
        if missing_features(lvl, flags):
            break
        best = lvl
    return best


def supported_levels(top: Level) -> tuple[Level, ...]:
    return tuple(lvl for lvl in LEVELS if lvl <= top)


def why_not(level: Level, flags: frozenset[str]) -> str:
    """Explain in words why `level` cannot run on a CPU with `flags` ('' if it can)."""
    missing = missing_features(level, flags)
    if not missing:
        return ""
    return f"{level} needs {', '.join(sorted(missing))}, which this CPU lacks"
