"""A launch plan, and the one function that turns it into the exec of a job.

The full path (launch.prepare) decides a plan after verifying; the fast
path (fastpath.try_exec) re-uses a stored one.  Both build the job's argv
and environment here and exec here, so they cannot drift apart (a test
proves they give the same argv and environment for the same request).

Built-in modules only: the fast path imports this on every launch.

A plan, as stored (marshal) and as passed around:
    {"argv": (julia, "-J", sysimage, "--project=..."),   # the julia prefix
     "env": {NAME: VALUE},                                # set for the job
     "path": "<depot>/bin"}                               # put first on PATH
"""

from __future__ import annotations

import os
import sys

from . import timing

TYPE_CHECKING = False  # the typing module costs milliseconds; mypy sets this itself
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

# The job's PATH is extended, never replaced: "path" goes first (its `julia`
# runs the verified image), the job's own PATH follows.
DEFAULT_PATH = "/usr/bin:/bin"


def compose(plan: Mapping[str, Any], command: Sequence[str], environ: Mapping[str, str]
            ) -> tuple[list[str], dict[str, str]]:
    """-> (argv, env) for running `command` under `plan` (pure)."""
    if is_julia(command):
        argv = list(plan["argv"]) + list(command[1:])
    else:
        argv = list(command)
    env = dict(environ)
    env.update(plan["env"])
    env["PATH"] = plan["path"] + os.pathsep + environ.get("PATH", DEFAULT_PATH)
    return argv, env


def is_julia(command: Sequence[str]) -> bool:
    """`julia ...` is replaced by the image's Julia; anything else runs as is
    and finds that `julia` first on PATH."""
    return bool(command) and os.path.basename(command[0]) == "julia"


def execute(argv: list[str], env: dict[str, str], way: str) -> None:
    """exec; returns only by raising OSError.  `way` (fast, peer, full)
    names the path that decided, for DEPOTDELIVERY_TIMING."""
    timing.mark("exec")
    timing.flush(way)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.path.isabs(argv[0]):
        os.execve(argv[0], argv, env)
    os.execvpe(argv[0], argv, env)
