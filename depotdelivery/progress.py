"""Progress for long steps: a live spinner on a terminal (rich), plain
timestamped log lines otherwise (batch logs, CI), nothing with --json."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Iterator, TextIO


class Reporter:
    def __init__(self, stream: TextIO = sys.stderr, *, quiet: bool = False):
        self.stream = stream
        self.quiet = quiet
        self.live = (not quiet) and stream.isatty()
        self.timings: dict[str, float] = {}

    def info(self, text: str) -> None:
        if not self.quiet:
            print(f"depotdelivery: {text}", file=self.stream, flush=True)

    def warn(self, text: str) -> None:
        print(f"depotdelivery: warning: {text}", file=self.stream, flush=True)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        t0 = time.monotonic()
        if self.live:
            from rich.console import Console
            console = Console(file=self.stream)
            with console.status(f"{name} ..."):
                yield
            dt = time.monotonic() - t0
            console.print(f"[green]done[/green] {name} ({dt:.1f} s)")
        else:
            self.info(f"{name} ...")
            yield
            dt = time.monotonic() - t0
            self.info(f"{name}: done in {dt:.1f} s")
        self.timings[name] = round(dt, 2)
