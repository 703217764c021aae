"""Channel records in a store: read (verify) and append (sign, publish).

A channel is an append-only folder of signed records, one file per version
(`channels/<name>/0000000003.json`).  The current record is the highest
version; rollback to an older image is a *new* version pointing at it, so a
node that has seen version N never accepts a record below N.
"""

from __future__ import annotations

import errno
import os
import re
from datetime import datetime, timedelta, timezone

from . import trust
from .errors import ImageInvalid, PublishError, StoreUnavailable, UsageError
from .model import ChannelRecord, check_channel_name, utc_text
from .signing import SecretKey, envelope
from .trust import TrustAnchors

# One fixed width and range: version 1 .. 9999999999 is `%010d.json`.  A
# name of any other shape (planted, or 11 digits) is not a version: readers
# and `channel set` ignore it alike, so it can neither hide newer records
# nor make `channel set` write one that readers would skip.
_RECORD_NAME = re.compile(r"^(\d{10})\.json$")
MAX_VERSION = 10**10 - 1


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
    return sorted(v for n in names if (m := _RECORD_NAME.match(n)) and (v := int(m.group(1))) >= 1)


def channel_names(root: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(os.path.join(root, "channels"))
                      if not n.startswith("."))
    except FileNotFoundError:
        return []


def read_record(root: str, name: str, version: int) -> bytes:
    """The record's bytes (one byte past the core's size limit, so it can
    refuse an oversized record rather than judge a truncated one)."""
    try:
        with open(record_path(root, name, version), "rb") as f:
            return f.read(trust.MAX_RECORD_BYTES + 1)
    except (FileNotFoundError, OSError) as e:
        if isinstance(e, (IsADirectoryError, PermissionError)) or e.errno == errno.ELOOP:
            raise ImageInvalid(f"channel {name} version {version} is not a readable record "
                               f"({e.strerror}); republish the channel") from None
        raise StoreUnavailable(f"cannot read channel {name} version {version}: "
                               f"{e.strerror}") from None


def latest(root: str, name: str, anchors: TrustAnchors, *, now: datetime,
           highest_seen: int = 0) -> tuple[ChannelRecord, bytes]:
    """The channel's newest record, judged by the trust core (signature,
    rollback against `highest_seen`, expiry at `now`)."""
    version, data = _newest(root, name)
    return trust.verify_channel_record(data, anchors, name=name, version=version, now=now,
                                       highest_seen=highest_seen), data


def latest_signed(root: str, name: str, anchors: TrustAnchors) -> ChannelRecord:
    """The newest record, signature checked but freshness not judged (for
    listings that show an expired record as expired)."""
    version, data = _newest(root, name)
    return trust.open_channel_record(data, anchors, name=name, version=version)


def _newest(root: str, name: str) -> tuple[int, bytes]:
    check_channel_name(name)
    vs = versions(root, name)
    if not vs:
        raise UsageError(f"unknown channel {name!r} in store {root}; "
                         "`depotdelivery ls --store ...` lists the channels")
    return vs[-1], read_record(root, name, vs[-1])


def new_record(root: str, name: str, image_id: str, levels: tuple[str, ...], *,
               expires_in: timedelta, now: datetime | None = None) -> ChannelRecord:
    now = now or datetime.now(timezone.utc)
    vs = versions(root, name)
    version = vs[-1] + 1 if vs else 1
    if version > MAX_VERSION:
        raise PublishError(f"channel {name} in {root} is at its highest version {MAX_VERSION}; "
                           "start a new channel name")
    return ChannelRecord(channel=name, image=image_id, version=version,
                         expires=utc_text(now + expires_in), published=utc_text(now),
                         levels=levels)


def write_record(root: str, rec: ChannelRecord, key: SecretKey) -> str:
    """Write a new version without ever replacing one: a hard link to the
    final name fails if another publisher took that version first."""
    from .fsutil import write_new_file
    path = record_path(root, rec.channel, rec.version)
    write_new_file(path, envelope(rec.canonical(), [key]))
    return path
