"""The trust core: bytes in, a typed decision or a typed error out.

Every room of depotdelivery that believes a channel record or an image
manifest (the job wrapper, root's `verify`, `slurm-index`,
`condor-channels`, the startd cron's node ads, `ls`, `channel show`) goes
through these functions, so freshness and revocation are judged the same way
everywhere.

Pure on purpose (python-tuf's trusted metadata set): no file, network or
clock access.  The caller reads the bytes, passes one reference time `now`
for every expiry check of a run, and the highest channel version this node
has seen.  Steps run in a fixed order, and the cheap checks that need no
parsing (length, hash, signature) come before any large parse:

    channel record:  length -> signature (trusted, not revoked) -> parse ->
                     name/version match -> rollback -> expiry
    image manifest:  length -> sha256 = image id -> signature -> parse ->
                     canonical bytes

Errors: ImageInvalid (exit 65) for anything the store served wrongly;
ConfigError (exit 78) for anchors that cannot verify anything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping

from .errors import ConfigError, ImageInvalid
from .model import ChannelRecord, ImageManifest, parse_manifest
from .signing import PublicKey, check_signatures, open_envelope

MAX_RECORD_BYTES = 1 << 20
MAX_MANIFEST_BYTES = 64 << 20
MAX_SIGNATURE_BYTES = 1 << 20


@dataclass(frozen=True)
class TrustAnchors:
    """The keys a site trusts, with revoked ones already removed.

    Built only through `from_keys`, so a revoked key can never slip in by a
    caller forgetting to filter; an empty set fails closed at construction."""

    keys: Mapping[str, PublicKey]
    revoked: frozenset[str]

    @classmethod
    def from_keys(cls, keys: Iterable[PublicKey], revoked: Iterable[str] = (), *,
                  where: str = "the site config") -> "TrustAnchors":
        revoked = frozenset(revoked)
        usable = {k.keyid: k for k in keys if k.keyid not in revoked}
        if not usable:
            raise ConfigError(f"{where}: no trusted_keys (or all revoked): nothing can be verified; "
                              "list the publisher's .pub files in trusted_keys")
        return cls(keys=usable, revoked=revoked)


def open_channel_record(data: bytes, anchors: TrustAnchors, *, name: str, version: int) -> ChannelRecord:
    """Signature, then parse, then name and version as the file name says.
    No freshness: a record that is merely old still proves that its version
    existed (node-wide rollback state relies on that)."""
    what = f"channel {name} version {version}"
    if len(data) > MAX_RECORD_BYTES:
        raise ImageInvalid(f"{what}: record larger than {MAX_RECORD_BYTES} bytes; republish the channel")
    signed, _keyid = open_envelope(data, dict(anchors.keys), what=what)
    try:
        rec = ChannelRecord.from_json(json.loads(signed))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise ImageInvalid(f"{what}: malformed record; republish the channel") from None
    if rec.channel != name or rec.version != version:
        # A validly signed record of another channel or version placed here
        # is a mix-and-match or replay attempt.
        raise ImageInvalid(f"{what}: record is for channel {rec.channel} version "
                           f"{rec.version} (replayed or moved record); do not run it")
    return rec


def check_freshness(rec: ChannelRecord, *, now: datetime, highest_seen: int) -> ChannelRecord:
    """Rollback (a version below one this node has seen), then freeze (expired)."""
    if rec.version < highest_seen:
        raise ImageInvalid(
            f"channel {rec.channel}: version {rec.version} is older than version "
            f"{highest_seen} this node has seen (rollback); republish the channel")
    if rec.expired(now):
        raise ImageInvalid(
            f"channel {rec.channel}: record version {rec.version} expired at "
            f"{rec.expires} (stale or frozen store); republish or refresh the channel")
    return rec


def verify_channel_record(data: bytes, anchors: TrustAnchors, *, name: str, version: int,
                          now: datetime, highest_seen: int) -> ChannelRecord:
    """The one judgement of a channel record, in the fixed order."""
    rec = open_channel_record(data, anchors, name=name, version=version)
    return check_freshness(rec, now=now, highest_seen=highest_seen)


def verify_manifest(data: bytes, signature: bytes, anchors: TrustAnchors, *, image_id: str
                    ) -> tuple[ImageManifest, str]:
    """-> (manifest, signing key id).  The id is the sha256 of exactly these
    bytes; the signature is checked before the (large) parse."""
    what = f"image {image_id[:12]}"
    if len(data) > MAX_MANIFEST_BYTES:
        raise ImageInvalid(f"{what}: manifest.json larger than {MAX_MANIFEST_BYTES} bytes; republish")
    if len(signature) > MAX_SIGNATURE_BYTES:
        raise ImageInvalid(f"{what}: manifest.sig larger than {MAX_SIGNATURE_BYTES} bytes; republish")
    if hashlib.sha256(data).hexdigest() != image_id:
        raise ImageInvalid(f"{what}: manifest.json does not hash to the image id "
                           "(tampered or truncated); republish the image")
    signer = check_signatures(data, signature, dict(anchors.keys), what=what)
    return parse_manifest(data, expected_id=image_id), signer
