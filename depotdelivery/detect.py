"""The node's CPU level: read cpuinfo (the only I/O), then pure rules.

`DEPOTDELIVERY_CPUINFO` / `--cpuinfo FILE` replays a recorded cpuinfo file
(as EESSI's archdetect does); `DEPOTDELIVERY_LEVEL` is a user override that
is checked against the CPU, never trusted blindly; the site's `max_level`
caps the result (higher is not always faster).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from .cpuinfo import read_first_cpu
from .errors import RunElsewhere, UsageError
from .levels import Level, cpu_flags, level_of, parse_level, why_not


@dataclass(frozen=True)
class Detection:
    cpu_level: Level  # what the CPU can run
    level: Level  # what depotdelivery will use (after cap and override)
    reason: str  # one line: why this level
    source: str  # the cpuinfo file read


def read_cpuinfo(path: str | None = None, environ: Mapping[str, str] = os.environ) -> tuple[str, str]:
    path = path or environ.get("DEPOTDELIVERY_CPUINFO") or "/proc/cpuinfo"
    try:
        return read_first_cpu(path).decode("utf-8", "replace"), path
    except OSError as e:
        raise UsageError(f"cannot read cpuinfo {path}: {e.strerror}; "
                         "check --cpuinfo / DEPOTDELIVERY_CPUINFO") from None


def decide(cpuinfo_text: str, source: str, *, cap: Level | None = None,
           override: str = "") -> Detection:
    """Pure: cpuinfo text + site cap + user override -> the level to use.
    The override may only lower the level: never above the CPU (refused,
    75) and never above the site's cap (held at the cap)."""
    want = parse_level(override) if override else None  # a bad name is the user's (64), checked first
    flags = cpu_flags(cpuinfo_text)
    cpu = level_of(flags)
    if cpu is None:
        raise RunElsewhere(f"{source}: no x86-64 CPU flags found; this node cannot run "
                           "x86-64 images (or pass a valid --cpuinfo file)")
    level, reason = cpu, f"CPU supports {cpu}"
    if cap is not None and cap < level:
        level, reason = cap, f"CPU supports {cpu}, site caps at {cap}"
    if want is not None:
        if want > cpu:
            raise RunElsewhere(f"DEPOTDELIVERY_LEVEL={override} refused: {why_not(want, flags)}; "
                               f"this node runs up to {cpu}")
        if cap is not None and want > cap:
            reason = f"DEPOTDELIVERY_LEVEL={want} held at the site's max_level {cap} (CPU supports {cpu})"
        else:
            level, reason = want, f"DEPOTDELIVERY_LEVEL={want} (CPU supports {cpu})"
    return Detection(cpu_level=cpu, level=level, reason=reason, source=source)


def detect(*, cpuinfo: str | None = None, cap: Level | None = None,
           environ: Mapping[str, str] = os.environ) -> Detection:
    text, source = read_cpuinfo(cpuinfo, environ)
    return decide(text, source, cap=cap, override=environ.get("DEPOTDELIVERY_LEVEL", ""))


def detect_level() -> Level | None:
    """The CPU's own level, or None when it cannot be read (best effort)."""
    try:
        text, _ = read_cpuinfo("/proc/cpuinfo", {})
    except UsageError:
        return None
    return level_of(cpu_flags(text))
