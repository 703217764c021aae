"""A slim base for the system images: Base and only the standard libraries
the project needs, built from Julia's own sources.

Debian's (and Julia's) own system image holds every standard library; most
of its 188 MB are their serialized code, and every job maps it.  Julia
builds that image in two steps from the sources it ships
(``<prefix>/share/julia/base``): ``compiler/compiler.jl`` into
``corecompiler.ji``, then ``sysimg.jl``, which loads Base and a fixed list of
standard libraries, into ``sys.ji`` (no native code).  Rewriting that list
(PackageCompiler's "filter_stdlibs") gives a base with only what is needed;
each variant's compile then generates all native code over it, as it
already does over the stock image.

Which standard libraries are kept (`choose_stdlibs`, pure): those in the
project's manifest, those the traced workload names, SHA (the A/B
fingerprint script uses it), those the site or project names to keep, and
everything these depend on.  The rest are left out: a job that loads one
gets it from Julia's own files (compiled into the node-local depot the
first time) and is told so once on stderr (sysimage.jl).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from typing import Iterable, Mapping

from depotdelivery.errors import BuildError

# The A/B fingerprint (wrapper/julia/fingerprint.jl) runs inside the image.
ALWAYS_KEPT = ("SHA",)

# The list in Julia's sysimg.jl: `stdlibs = [ :Name, ... ]` (1.5 to 1.8).
_STDLIB_LIST = re.compile(r"stdlibs = \[[^\]]*\]", re.S)


@dataclass(frozen=True)
class StdlibChoice:
    kept: tuple[str, ...]      # in load order: every library after its dependencies
    left_out: tuple[str, ...]  # sorted
    why: Mapping[str, str]     # kept name -> the reason it is kept

    def why_kept(self, name: str) -> str:
        return self.why.get(name, "left out: neither the project nor the workload loads it")


def read_stdlib_deps(stdlib_dir: str) -> dict[str, tuple[str, ...]]:
    """name -> the standard libraries it depends on, from each one's Project.toml."""
    deps: dict[str, tuple[str, ...]] = {}
    for name in sorted(os.listdir(stdlib_dir)):
        path = os.path.join(stdlib_dir, name, "Project.toml")
        if not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as f:
                deps[name] = tuple(sorted(tomllib.load(f).get("deps", {})))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise BuildError(f"{path}: cannot read this standard library's dependencies ({e}); "
                             "reinstall Julia") from None
    return deps


def named_in_trace(trace_text: str, available: Iterable[str]) -> set[str]:
    """Standard libraries a traced precompile statement names (`Dates.Date`,
    not Base's own `Base.Unicode`)."""
    return {n for n in available if re.search(rf"(?<![\w.]){re.escape(n)}\.", trace_text)}


def choose_stdlibs(available: Mapping[str, tuple[str, ...]], *, project: Iterable[str],
                   traced: Iterable[str], keep: Iterable[str]) -> StdlibChoice:
    why: dict[str, str] = {}
    for reason, names in (("the project's manifest", project), ("the traced workload", traced),
                          ("the A/B fingerprint", ALWAYS_KEPT), ("asked to keep", keep)):
        for n in names:
            if n not in available:
                raise BuildError(f"standard library {n} ({reason}) is not one of this Julia's: "
                                 f"{', '.join(sorted(available))}; check the name")
            why.setdefault(n, reason)
    order: list[str] = []

    def visit(name: str, needed_by: str) -> None:
        if name in order:
            return
        why.setdefault(name, f"needed by {needed_by}")
        for dep in available[name]:
            if dep in available:
                visit(dep, name)
        order.append(name)

    for n in sorted(why):
        visit(n, n)
    return StdlibChoice(kept=tuple(order), left_out=tuple(sorted(set(available) - set(order))),
                        why={n: why[n] for n in order})


def rewrite_sysimg(text: str, stdlibs: Iterable[str]) -> str:
    """Julia's sysimg.jl with its standard library list replaced."""
    new, n = _STDLIB_LIST.subn("stdlibs = [" + ", ".join(f":{s}" for s in stdlibs) + "]", text, count=1)
    if n != 1:
        raise BuildError("Julia's sysimg.jl has no `stdlibs = [...]` list: this Julia cannot be slimmed "
                         "by this release; build with --stdlibs all")
    # Julia's own build leaves nothing to run at exit of the image build.
    return new + "\nempty!(Base.atexit_hooks)\n"
