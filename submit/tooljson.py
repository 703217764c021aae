"""Running a batch system's command-line tool that prints JSON (sinfo,
squeue, condor_status, condor_q): one place for how a missing tool, a
failing tool and output that is not JSON are reported (exit 69: the batch
system is unavailable, not our data)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from depotdelivery.errors import StoreUnavailable


def one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def run_json(argv: list[str], *, hint: str, empty: Any = None) -> Any:
    """The tool's JSON document; `empty` when it prints nothing at all (the
    HTCondor tools print nothing, not "[]", when no ad matches).  `hint`
    says what to check when the tool cannot run."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise StoreUnavailable(f"cannot run {argv[0]}: {e}; {hint}") from None
    if p.returncode != 0:
        raise StoreUnavailable(f"{argv[0]} failed: {one_line(p.stderr or p.stdout)}")
    out = p.stdout.strip()
    if not out and empty is not None:
        return empty
    try:
        return json.loads(out)
    except ValueError:
        raise StoreUnavailable(f"{argv[0]} printed no JSON: {one_line(out)}") from None
