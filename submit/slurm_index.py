"""The small index job_submit.lua reads: what a job's `julia-image=REF` pins to.

job_submit.lua runs inside slurmctld under its locks: no network, no Python,
no signature checks.  So the checking happens here, where the store is
readable and time is cheap: every channel record and image manifest is
verified against the site's trusted keys, and only what verified goes into a
plain-text file the Lua side parses with string patterns.  Something that
failed verification is listed as `broken` with the reason, so a job asking
for it is refused with that reason rather than "unknown".

Format (one record per line, fields separated by one space)::

    depotdelivery-slurm-index 1
    # comment lines
    channel <name> <image-id> <levels> <expires-epoch>
    image <image-id> <levels> <created-epoch>
    name <image-name> <image-id>
    broken <ref> <reason text...>
    end <number of records above>

`levels` is comma-separated, lowest first.  The `end` line makes a truncated
or half-copied file detectable: the Lua side then refuses image requests
with a clear message instead of guessing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

from depotdelivery import channels
from depotdelivery.errors import DepotDeliveryError, UsageError
from depotdelivery.levels import LEVEL_NAMES, parse_level
from depotdelivery.model import is_channel_name, is_image_id, parse_utc, utc_text
from depotdelivery.trust import TrustAnchors

HEADER = "depotdelivery-slurm-index 1"
DEFAULT_NAME = "depotdelivery-index.txt"  # beside job_submit.lua, where it looks first


@dataclass(frozen=True)
class ImageEntry:
    image_id: str
    levels: tuple[str, ...]  # lowest first
    created: int  # epoch seconds
    name: str = ""


@dataclass(frozen=True)
class ChannelEntry:
    name: str
    image_id: str
    levels: tuple[str, ...]
    expires: int  # epoch seconds


@dataclass
class Index:
    channels: dict[str, ChannelEntry] = field(default_factory=dict)
    images: dict[str, ImageEntry] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # image name -> newest image id
    broken: dict[str, str] = field(default_factory=dict)  # channel or image id -> reason


def needed_feature(levels: tuple[str, ...]) -> str:
    """The node Feature a job on this image needs: its lowest variant's level
    (a node's Features list every level its CPU runs, lower ones included)."""
    return levels[0]


def _sorted_levels(names) -> tuple[str, ...]:
    return tuple(l.name for l in sorted({parse_level(n) for n in names}))


def _levels_field(text: str) -> tuple[str, ...]:
    """An index `levels` field: exact level names only, as the Lua side reads them."""
    names = text.split(",")
    if not all(n in LEVEL_NAMES for n in names):
        raise ValueError(f"bad levels {text[:80]!r}")
    return _sorted_levels(names)


def _epoch(utc: str) -> int:
    return int(parse_utc(utc).timestamp())


def build_index(store_root: str, keys: TrustAnchors, *, now: datetime | None = None) -> Index:
    """Verify every channel and image manifest of a store (signatures and
    hashes, not the image files: those are the execute node's job)."""
    from depotdelivery.wrapper.verify import read_manifest
    idx = Index()
    images_dir = os.path.join(store_root, "images")
    try:
        ids = sorted(n for n in os.listdir(images_dir) if is_image_id(n))
    except FileNotFoundError:
        ids = []
    for image_id in ids:
        try:
            m = read_manifest(store_root, image_id, keys).manifest
        except DepotDeliveryError as e:
            idx.broken[image_id] = _one_line(e.message)
            continue
        entry = ImageEntry(image_id, _sorted_levels(v.level for v in m.variants), _epoch(m.created),
                           m.name if is_channel_name(m.name) else "")
        idx.images[image_id] = entry
        if entry.name:
            old = idx.images.get(idx.names.get(entry.name, ""))
            if old is None or (entry.created, entry.image_id) > (old.created, old.image_id):
                idx.names[entry.name] = image_id
    for name in channels.channel_names(store_root):
        if not is_channel_name(name):
            continue
        try:
            rec, _ = channels.latest(store_root, name, keys, now=now or datetime.now(timezone.utc))
        except DepotDeliveryError as e:
            idx.broken[name] = _one_line(e.message)
            continue
        img = idx.images.get(rec.image)
        if img is None:
            why = idx.broken.get(rec.image, "the image is not in the store")
            idx.broken[name] = _one_line(f"channel {name} points at image {rec.image[:12]}: {why}")
            continue
        idx.channels[name] = ChannelEntry(name, rec.image, img.levels, _epoch(rec.expires))
    return idx


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def render(idx: Index, *, source: str, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    lines = [HEADER,
             f"# written {utc_text(now)} by `depotdelivery slurm-index` from store {source};",
             "# read by job_submit.lua on every submission; do not edit, re-run the command."]
    body = []
    for c in sorted(idx.channels.values(), key=lambda c: c.name):
        body.append(f"channel {c.name} {c.image_id} {','.join(c.levels)} {c.expires}")
    for i in sorted(idx.images.values(), key=lambda i: i.image_id):
        body.append(f"image {i.image_id} {','.join(i.levels)} {i.created}")
    for n, image_id in sorted(idx.names.items()):
        if n not in idx.channels:  # a channel of the same name wins; do not list both
            body.append(f"name {n} {image_id}")
    for ref, why in sorted(idx.broken.items()):
        body.append(f"broken {ref} {why}")
    return "\n".join(lines + body + [f"end {len(body)}"]) + "\n"


def parse(text: str) -> Index:
    """The Python twin of job_submit.lua's parser (for `status` and tests):
    any doubt is a ValueError, never a partial index."""
    lines = text.split("\n")
    if not lines or lines[0] != HEADER:
        raise ValueError("not a depotdelivery slurm index (bad first line)")
    idx, count, ended = Index(), 0, False
    for line in lines[1:]:
        if not line or line.startswith("#"):
            continue
        if ended:
            raise ValueError("text after the end line")
        f = line.split(" ")
        kind = f[0]
        if kind == "end" and len(f) == 2:
            if f[1] != str(count):
                raise ValueError(f"end line says {f[1]} records, found {count} (truncated?)")
            ended = True
            continue
        count += 1
        if kind == "channel" and len(f) == 5 and is_channel_name(f[1]) and is_image_id(f[2]) and f[4].isdigit():
            idx.channels[f[1]] = ChannelEntry(f[1], f[2], _levels_field(f[3]), int(f[4]))
        elif kind == "image" and len(f) == 4 and is_image_id(f[1]) and f[3].isdigit():
            idx.images[f[1]] = ImageEntry(f[1], _levels_field(f[2]), int(f[3]))
        elif kind == "name" and len(f) == 3 and is_channel_name(f[1]) and is_image_id(f[2]):
            idx.names[f[1]] = f[2]
        elif kind == "broken" and len(f) >= 3:
            idx.broken[f[1]] = " ".join(f[2:])
        else:
            raise ValueError(f"malformed line {line[:80]!r}")
    if not ended:
        raise ValueError("no end line (truncated?)")
    return idx


def write(path: str, text: str) -> bool:
    """Replace `path` atomically (job_submit.lua may read it at any moment);
    leave it alone when nothing changed.  -> True if written."""
    from depotdelivery.fsutil import replace_file
    try:
        with open(path, encoding="utf-8") as f:
            old = f.read()
    except OSError:
        old = None
    if old is not None and _body(old) == _body(text):
        return False
    replace_file(path, text.encode("utf-8"), 0o644)
    return True


def _body(text: str) -> list[str]:
    return [l for l in text.split("\n") if not l.startswith("#")]


def read(path: str) -> Index:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(4 << 20)
    except OSError as e:
        raise UsageError(f"cannot read slurm index {path}: {e.strerror}; "
                         "write it with `depotdelivery slurm-index`") from None
    try:
        return parse(text)
    except ValueError as e:
        raise UsageError(f"slurm index {path} is corrupt ({e}); re-run `depotdelivery slurm-index`") from None
