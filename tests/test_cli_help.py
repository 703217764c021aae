"""Every `--help` example parses with the real parser (the examples in the
help texts cannot drift from the options), and a bad command line is one
line with exit 64, never argparse's exit 2 or a traceback."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from conftest import DD
from depotdelivery.cli import _parser
from depotdelivery.wrapper import entry


def help_examples(text: str) -> list[list[str]]:
    """The `depotdelivery ...` commands of a help text (continuation lines
    joined, comments dropped)."""
    out, joined = [], ""
    for raw in (text or "").splitlines():
        line = raw.strip()
        if joined:
            line, joined = joined + " " + line, ""
        if line.endswith("\\"):
            joined = line[:-1].strip()
            continue
        first = line.split()[:1]
        if not first or not (first[0] == "depotdelivery" or first[0].startswith("DEPOTDELIVERY_")):
            continue  # prose
        words = shlex.split(line, comments=True)
        if len(words) >= 2 and words[0] == "depotdelivery":
            out.append(words[1:])
        elif len(words) >= 2 and words[0].startswith("DEPOTDELIVERY_") and "depotdelivery" in words:
            out.append(words[words.index("depotdelivery") + 1:])
    return out


def all_examples() -> list[tuple[str, list[str]]]:
    registered: dict = {}
    _parser(registered)
    found = [(name, ex) for name, sp in registered.items() for ex in help_examples(sp.epilog)]
    found += [("run", ex) for ex in help_examples(entry.USAGE)]
    return found


def test_every_command_shows_an_example():
    registered: dict = {}
    _parser(registered)
    commands = {name.split()[0] for name in registered}
    shown = {name.split()[0] for name, _ in all_examples()}
    assert commands - shown == set()


@pytest.mark.parametrize("name,argv", all_examples(), ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_the_help_example_parses(name, argv):
    if argv[0] == "run":
        opts, command = entry.parse(argv[1:])
        assert command, argv
        return
    args = _parser().parse_args(argv)
    assert args.func is not None


@pytest.mark.parametrize("argv", [["channel", "show"], ["build", "--levels"], ["nosuch"], ["publish", "--bogus"],
                                  ["status", "--condor", "--pool"], ["ls", "--store"]])
def test_a_bad_command_line_is_one_line_and_exit_64(argv):
    p = subprocess.run([DD, *argv], capture_output=True, text=True)
    assert p.returncode == 64, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("depotdelivery: usage: ") and "Traceback" not in p.stderr
