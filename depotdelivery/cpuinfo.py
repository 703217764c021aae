"""Reading /proc/cpuinfo up to the first processor's flags, which is all a
level needs (levels.cpu_flags reads the first processor's).

The kernel makes /proc/cpuinfo one processor at a time as it is read, and a
record costs it a frequency sample per CPU: on a node with hundreds of
hardware threads the whole file is hundreds of KB and milliseconds, paid by
every launch.  Reading only up to the first `flags` line costs one or two
records.  Built-in modules only: the wrapper's fast path uses it too, so both
paths see the same bytes.
"""

from __future__ import annotations

import os

_CHUNK = 4096
_LIMIT = 4 << 20  # a recorded file without flags is not read without end


def first_flags(text: str) -> str | None:
    """The value of the first `flags` line of a cpuinfo text (the first
    processor's), or None.  The one rule for which line that is."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            return value
    return None


def read_first_cpu(path: str) -> bytes:
    """The start of a cpuinfo file up to and including the line that
    `first_flags` picks (or the whole file, up to 4 MiB, when it has none).
    OSError as open and read raise it."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = b""
        while len(data) < _LIMIT:
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                break
            data += chunk
            # Whole lines only: a flags line cut by the chunk is not its value.
            whole = data[:data.rfind(b"\n") + 1]
            if whole and first_flags(whole.decode("utf-8", "replace")) is not None:
                break
        return data
    finally:
        os.close(fd)
