"""How a kept channel record is named in a node's cache folder:
``seen-<crc32 of the store root>-<channel>-<version, 10 digits>-<16 hex>``.

Built-in modules only: the fast path (fastpath.py) reads these names on every
launch without paying for the trust core, and seen.py writes and reads them
with the same two functions, so both agree on which file names a version.
"""

from __future__ import annotations

import zlib


def prefix(store_root: str, channel: str) -> str:
    return "seen-%08x-%s-" % (zlib.crc32(store_root.encode()) & 0xFFFFFFFF, channel)


def name(pre: str, version: int, digest: str) -> str:
    return "%s%010d-%s" % (pre, version, digest)


def version_in(name: str, pre: str) -> int:
    """The version a file name claims for the channel of prefix `pre`, or -1
    when the name is not one of its records.  A channel's prefix is also the
    start of longer channels' names (`x-` of `x-test-...`): only exactly
    ten digits, a dash and a 16-character digest make a version."""
    if not name.startswith(pre):
        return -1
    version, _, digest = name[len(pre):].partition("-")
    if len(version) == 10 and version.isdigit() and version.isascii() and len(digest) == 16:
        return int(version)
    return -1
