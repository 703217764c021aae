"""Channel records in a store: read (verify) and append (sign, publish).

A channel is an append-only folder of signed records, one file per version
(`channels/<name>/0000000003.json`).  The current record is the highest
version; rollback to an older image is a *new* version pointing at it, so a
node that has seen version N never accepts a record below N.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone

from .errors import ImageInvalid, StoreUnavailable, UsageError
from .model import ChannelRecord, check_channel_name, utc_text
from .signing import PublicKey, SecretKey, envelope, open_envelope

_RECORD_NAME = re.compile(r"^(\d{10})\.json$")


def channel_dir(root: str, name: str) -> str:
    return os.path.join(root, "channels", name)


def record_path(root: str, name: str, version: int) -> str:
    return os.path.join(channel_dir(root, name), f"{version:010d}.json")


def versions(root: str, name: str) -> list[int]:
    try:
        names = os.listdir(channel_dir(root, name))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise StoreUnavailable(f"cannot list channel {name} in {root}: {e.strerror}") from None
    return sorted(int(m.group(1)) for n in names if (m := _RECORD_NAME.match(n)))


def channel_names(root: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(os.path.join(root, "channels"))
                      if not n.startswith("."))
    except FileNotFoundError:
        return []


def parse_record(data: bytes, trusted: dict[str, PublicKey], *, name: str,
                 version: int | None = None) -> tuple[ChannelRecord, str]:
    """Pure: verify a record's signature, then parse it.  -> (record, keyid)."""
    import json
    what = f"channel {name}" + (f" version {version}" if version else "")
    signed, keyid = open_envelope(data, trusted, what=what)
    try:
        rec = ChannelRecord.from_json(json.loads(signed))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ImageInvalid(f"{what}: malformed record; republish the channel") from None
    if rec.channel != name or (version is not None and rec.version != version):
        # A validly signed record for another channel or version placed here
        # is a mix-and-match or replay attempt.
        raise ImageInvalid(f"{what}: record is for channel {rec.channel} version "
                           f"{rec.version} (replayed or moved record); do not run it")
    return rec, keyid


def read_record(root: str, name: str, version: int) -> bytes:
    try:
        with open(record_path(root, name, version), "rb") as f:
            return f.read(1 << 20)
    except OSError as e:
        raise StoreUnavailable(f"cannot read channel {name} version {version}: "
                               f"{e.strerror}") from None


def latest(root: str, name: str, trusted: dict[str, PublicKey]) -> tuple[ChannelRecord, bytes]:
    check_channel_name(name)
    vs = versions(root, name)
    if not vs:
        raise UsageError(f"unknown channel {name!r} in store {root}; "
                         "`depotdelivery ls --store ...` lists the channels")
    data = read_record(root, name, vs[-1])
    rec, _ = parse_record(data, trusted, name=name, version=vs[-1])
    return rec, data


def check_freshness(rec: ChannelRecord, *, now: datetime, highest_seen: int) -> None:
    """Pure: refuse freeze (expired) and rollback (version below one seen)."""
    if rec.version < highest_seen:
        raise ImageInvalid(
            f"channel {rec.channel}: version {rec.version} is older than version "
            f"{highest_seen} this node has seen (rollback); republish the channel")
    if rec.expired(now):
        raise ImageInvalid(
            f"channel {rec.channel}: record version {rec.version} expired at "
            f"{rec.expires} (stale or frozen store); republish or refresh the channel")


def new_record(root: str, name: str, image_id: str, levels: tuple[str, ...], *,
               expires_in: timedelta, now: datetime | None = None) -> ChannelRecord:
    now = now or datetime.now(timezone.utc)
    vs = versions(root, name)
    return ChannelRecord(channel=name, image=image_id, version=(vs[-1] + 1 if vs else 1),
                         expires=utc_text(now + expires_in), published=utc_text(now),
                         levels=levels)


def write_record(root: str, rec: ChannelRecord, key: SecretKey) -> str:
    """Write a new version without ever replacing one: a hard link to the
    final name fails if another publisher took that version first."""
    from .fsutil import write_new_file
    path = record_path(root, rec.channel, rec.version)
    write_new_file(path, envelope(rec.canonical(), [key]))
    return path
