"""How an error leaves the process: one line on stderr, the reason in
HTCondor's wrapper error file when there is one, and the exit code."""

import os
import sys


def report(err) -> int:
    line = f"depotdelivery: {err.kind}: {err.message}"
    print(line, file=sys.stderr, flush=True)
    path = os.environ.get("_CONDOR_WRAPPER_ERROR_FILE")
    if path:
        try:
            with open(path, "a") as f:
                f.write(f"depotdelivery exit {err.exit_code} ({err.kind}): {err.message}\n")
        except OSError:
            pass
    return err.exit_code
