"""Where a launch's time goes, for `make bench` and for a site chasing a
slow start: with DEPOTDELIVERY_TIMING=FILE each launch appends one JSON line
to FILE just before it execs (or fails): the moments it reached each phase,
on the wall clock, so a benchmark that notes when it spawned the process
(DEPOTDELIVERY_T0, seconds since the epoch) sees Python's own start too.

Phases: `main` (Python started and ran the wrapper), `lock` (waited for a
peer verifying the same request), `plan` (a plan was found), `verify`
(verification done), `hydrate` (writable depot ready), `exec`.

Built-in modules only, and nothing at all unless the variable is set.
"""

from __future__ import annotations

import os
import time

_FILE = os.environ.get("DEPOTDELIVERY_TIMING", "")
_marks: dict[str, float] = {}


def mark(phase: str) -> None:
    if _FILE:
        _marks[phase] = time.time()


def flush(path: str) -> None:
    """Append this launch's line (`path`: which way it went: fast, peer, full)."""
    if not _FILE:
        return
    import json
    line = {"pid": os.getpid(), "path": path, "t0": float(os.environ.get("DEPOTDELIVERY_T0", "0") or 0),
            **_marks}
    try:
        with open(_FILE, "a") as f:
            f.write(json.dumps(line) + "\n")
    except OSError:
        pass
