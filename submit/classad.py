"""Reading the few job-ad attributes depotdelivery needs, without the
HTCondor bindings (the wrapper runs on execute nodes that may lack them).

A job ad file (``_CONDOR_JOB_AD``) has one ``Name = value`` per line; string
values are double-quoted with backslash escapes.
"""

from __future__ import annotations

PIN_ATTR = "JuliaImageId"
REF_ATTR = "JuliaImage"


def parse_ad(text: str) -> dict[str, str]:
    """Attribute name (lower-cased) -> raw value text.  Malformed lines are skipped."""
    out = {}
    for line in text.splitlines():
        name, eq, value = line.partition("=")
        name = name.strip()
        if not eq or not name or not name.replace("_", "").replace(".", "").isalnum():
            continue
        out[name.lower()] = value.strip()
    return out


def string_value(raw: str) -> str | None:
    """A ClassAd string literal -> its text; None if `raw` is not one."""
    if len(raw) < 2 or raw[0] != '"' or raw[-1] != '"':
        return None
    body, out, i = raw[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(body[i + 1])
            i += 2
            continue
        if c == '"':
            return None
        out.append(c)
        i += 1
    return "".join(out)


