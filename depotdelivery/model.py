"""The image data model every part of depotdelivery shares.

Small immutable types with validating constructors (an invalid object cannot
be built) and one producer of the bytes that are signed and hashed:
`canonical_bytes`.  The image id is the sha256 of the manifest's canonical
bytes; consumers hash the bytes they *received*, never a re-serialization.

Store layout (a directory store and a CVMFS repository hold the same tree)::

    pool/packages/<Name>/<slug>/...      package sources, shared by images;
    pool/artifacts/<tree-hash>/...       Julia content-addresses these paths
    images/<image-id>/manifest.json      canonical manifest (hash = image id)
    images/<image-id>/manifest.sig       detached Ed25519 signatures
    images/<image-id>/project/           Project.toml + Manifest.toml
    images/<image-id>/variants/<level>/sys.so
    images/<image-id>/depot/compiled/    .ji caches of this build
    channels/<channel>/<version>.json    signed channel records, append-only

Paths in a manifest are relative to the image directory ("image" root) or to
the store root ("pool" root).  Nothing under images/ or pool/ is modified
once published, so a running job never sees a path change under it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from .errors import ImageInvalid
from .levels import Level, parse_level

MANIFEST_SCHEMA = "depotdelivery/image-manifest/v1"
CHANNEL_SCHEMA = "depotdelivery/channel-record/v1"

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# The one rule for a channel name (also what the Slurm index accepts as an
# image name; job_submit.lua's is_name spells it in Lua, and
# tests/test_slurm_index.py checks the two agree).  NAME_PATTERN is for
# regular expressions that embed a name (CVMFS tags).
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_CHANNEL_NAME = re.compile(NAME_PATTERN)
ROOTS = ("image", "pool")


def canonical_bytes(obj: Any) -> bytes:
    """The one serialization that is hashed and signed: sorted keys, no
    insignificant whitespace, UTF-8, integers only (floats are refused
    because their text form is not canonical)."""
    _refuse_floats(obj)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


def _refuse_floats(obj: Any) -> None:
    if isinstance(obj, float):
        raise TypeError("floats are not allowed in canonical JSON")
    if isinstance(obj, dict):
        for v in obj.values():
            _refuse_floats(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _refuse_floats(v)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_image_id(text: str) -> bool:
    return bool(_HEX64.match(text))


def is_channel_name(text: object) -> bool:
    """Letters, digits, '.', '_', '-', at most 64, not starting with a
    punctuation mark (a whole-string match: no trailing newline slips in)."""
    return isinstance(text, str) and _CHANNEL_NAME.fullmatch(text) is not None


def check_relpath(path: str) -> str:
    """A relative POSIX path that cannot climb out of its root."""
    if (not isinstance(path, str) or not path or path.startswith("/")
            or "\\" in path or "\x00" in path):
        raise ValueError(f"bad relative path {path!r}")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise ValueError(f"bad relative path {path!r}")
    return path


def utc_text(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        raise ValueError(f"bad UTC time {text!r} (want YYYY-MM-DDTHH:MM:SSZ)") from None


@dataclass(frozen=True)
class FileEntry:
    """One published file: where it lives, and what its bytes must be."""

    root: str  # "image" or "pool"
    path: str
    sha256: str
    size: int
    mode: int  # 0o644 or 0o755; nothing else is published
    mtime_ns: int  # preserved on publish: Julia's .ji caches check mtimes
    variant: str = ""  # level name if only that variant reads the file

    def __post_init__(self) -> None:
        if self.root not in ROOTS:
            raise ValueError(f"bad file root {self.root!r}")
        check_relpath(self.path)
        if not _HEX64.match(self.sha256):
            raise ValueError(f"bad sha256 for {self.path}")
        if not (isinstance(self.size, int) and self.size >= 0):
            raise ValueError(f"bad size for {self.path}")
        if self.mode not in (0o644, 0o755):
            raise ValueError(f"bad mode {self.mode:o} for {self.path}")
        if not (isinstance(self.mtime_ns, int) and self.mtime_ns >= 0):
            raise ValueError(f"bad mtime for {self.path}")
        if self.variant:
            parse_level(self.variant)

    def to_json(self) -> dict[str, Any]:
        d = {"root": self.root, "path": self.path, "sha256": self.sha256,
             "size": self.size, "mode": self.mode, "mtime_ns": self.mtime_ns}
        if self.variant:
            d["variant"] = self.variant
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "FileEntry":
        return cls(root=d["root"], path=d["path"], sha256=d["sha256"],
                   size=d["size"], mode=d["mode"], mtime_ns=d["mtime_ns"],
                   variant=d.get("variant", ""))


@dataclass(frozen=True)
class Variant:
    """A system image for one CPU level."""

    level: str
    cpu_target: str  # the --cpu-target string Julia built it with
    sysimage: str  # image-relative path
    fingerprint: str = ""  # image-relative path of the build's fingerprint
    # A multi-target image (one image, a clone per level): the highest level
    # it holds code for.  Selected like any variant, by `level`, its lowest.
    up_to: str = ""

    def __post_init__(self) -> None:
        if self.up_to and parse_level(self.up_to) < parse_level(self.level):
            raise ValueError(f"variant up_to {self.up_to} is below its level {self.level}")
        parse_level(self.level)
        check_relpath(self.sysimage)
        if self.fingerprint:
            check_relpath(self.fingerprint)
        if not self.cpu_target or not isinstance(self.cpu_target, str):
            raise ValueError("empty cpu_target")

    @property
    def level_obj(self) -> Level:
        return parse_level(self.level)

    def to_json(self) -> dict[str, Any]:
        d = {"level": self.level, "cpu_target": self.cpu_target, "sysimage": self.sysimage}
        if self.fingerprint:
            d["fingerprint"] = self.fingerprint
        if self.up_to:
            d["up_to"] = self.up_to
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Variant":
        return cls(level=d["level"], cpu_target=d["cpu_target"],
                   sysimage=d["sysimage"], fingerprint=d.get("fingerprint", ""), up_to=d.get("up_to", ""))


@dataclass(frozen=True)
class PackagePin:
    name: str
    uuid: str
    version: str  # "" for path-tracked packages without a version
    tree_sha1: str  # "" for path-tracked packages

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "uuid": self.uuid, "version": self.version,
                "tree_sha1": self.tree_sha1}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "PackagePin":
        return cls(d["name"], d["uuid"], d.get("version", ""), d.get("tree_sha1", ""))


@dataclass(frozen=True)
class ImageManifest:
    name: str
    created: str  # UTC text
    julia_version: str
    store_path: str  # absolute path where nodes see the store (baked into .ji)
    project_sha256: str
    manifest_sha256: str
    workload_sha256: str  # "" without a workload
    packages: tuple[PackagePin, ...]
    variants: tuple[Variant, ...]
    files: tuple[FileEntry, ...]
    builder: str = ""

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError("image without a name")
        parse_utc(self.created)
        if not self.store_path.startswith("/"):
            raise ValueError("store_path must be absolute")
        for digest in (self.project_sha256, self.manifest_sha256):
            if not _HEX64.match(digest):
                raise ValueError("bad project digest")
        if not self.variants:
            raise ValueError("image without variants")
        levels = [v.level for v in self.variants]
        if len(set(levels)) != len(levels):
            raise ValueError("two variants for one level")
        keys = [(f.root, f.path) for f in self.files]
        if len(set(keys)) != len(keys):
            raise ValueError("a file listed twice")
        listed = {f.path for f in self.files if f.root == "image"}
        for v in self.variants:
            if v.sysimage not in listed:
                raise ValueError(f"variant {v.level} names an unlisted system image")

    # -- queries -------------------------------------------------------------
    def variant(self, level: str) -> Variant:
        for v in self.variants:
            if v.level == level:
                return v
        raise KeyError(level)

    def levels(self) -> tuple[Level, ...]:
        return tuple(sorted(v.level_obj for v in self.variants))

    def files_for(self, level: str) -> tuple[FileEntry, ...]:
        """Every file a job on `level` may read: shared files and that variant's."""
        return tuple(f for f in self.files if not f.variant or f.variant == level)

    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    # -- bytes ---------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "schema": MANIFEST_SCHEMA,
            "name": self.name,
            "created": self.created,
            "julia_version": self.julia_version,
            "store_path": self.store_path,
            "project_sha256": self.project_sha256,
            "manifest_sha256": self.manifest_sha256,
            "workload_sha256": self.workload_sha256,
            "builder": self.builder,
            "packages": [p.to_json() for p in self.packages],
            "variants": [v.to_json() for v in self.variants],
            "files": [f.to_json() for f in sorted(self.files, key=lambda f: (f.root, f.path))],
        }

    def canonical(self) -> bytes:
        return canonical_bytes(self.to_json())

    @property
    def image_id(self) -> str:
        return sha256_hex(self.canonical())

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "ImageManifest":
        if d.get("schema") != MANIFEST_SCHEMA:
            raise ValueError(f"not a {MANIFEST_SCHEMA} document")
        return cls(
            name=d["name"], created=d["created"], julia_version=d["julia_version"],
            store_path=d["store_path"], project_sha256=d["project_sha256"],
            manifest_sha256=d["manifest_sha256"], workload_sha256=d.get("workload_sha256", ""),
            builder=d.get("builder", ""),
            packages=tuple(PackagePin.from_json(p) for p in d["packages"]),
            variants=tuple(Variant.from_json(v) for v in d["variants"]),
            files=tuple(FileEntry.from_json(f) for f in d["files"]),
        )


def parse_manifest(data: bytes, *, expected_id: str | None = None) -> ImageManifest:
    """Bytes -> manifest.  The hash is checked on the received bytes before
    parsing; anything malformed is ImageInvalid (the store served bad data)."""
    if expected_id is not None and sha256_hex(data) != expected_id:
        raise ImageInvalid(
            f"image {expected_id[:12]}: manifest.json does not hash to the image id "
            "(tampered or truncated); republish the image")
    try:
        manifest = ImageManifest.from_json(json.loads(data))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        raise ImageInvalid(f"malformed image manifest ({_why(e)}); republish the image") from None
    if expected_id is not None and manifest.canonical() != data:
        raise ImageInvalid(f"image {expected_id[:12]}: manifest.json is not canonical; "
                           "republish the image")
    return manifest


@dataclass(frozen=True)
class ChannelRecord:
    """channel name -> image id, with a version that only ever increases and
    an expiry time, so nodes refuse rollback and freeze attacks."""

    channel: str
    image: str
    version: int
    expires: str  # UTC text
    published: str  # UTC text
    levels: tuple[str, ...] = field(default=())  # the image's variants, for submit-side hooks

    def __post_init__(self) -> None:
        if not is_channel_name(self.channel):
            raise ValueError(f"bad channel name {self.channel!r}")
        if not isinstance(self.image, str) or not _HEX64.match(self.image):
            raise ValueError("bad image id in channel record")
        if not (isinstance(self.version, int) and not isinstance(self.version, bool)
                and self.version >= 1):
            raise ValueError("bad channel version")
        parse_utc(self.expires)
        parse_utc(self.published)
        for lvl in self.levels:
            parse_level(lvl)

    def expired(self, now: datetime) -> bool:
        return now >= parse_utc(self.expires)

    def to_json(self) -> dict[str, Any]:
        return {"schema": CHANNEL_SCHEMA, "channel": self.channel, "image": self.image,
                "version": self.version, "expires": self.expires,
                "published": self.published, "levels": list(self.levels)}

    def canonical(self) -> bytes:
        return canonical_bytes(self.to_json())

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "ChannelRecord":
        if d.get("schema") != CHANNEL_SCHEMA:
            raise ValueError(f"not a {CHANNEL_SCHEMA} document")
        return cls(channel=d["channel"], image=d["image"], version=d["version"],
                   expires=d["expires"], published=d["published"],
                   levels=tuple(d.get("levels", ())))


def check_channel_name(name: str) -> str:
    from .errors import UsageError
    if not is_channel_name(name):
        raise UsageError(f"bad channel name {name!r}: letters, digits, '.', '_', '-' (max 64)")
    return name


def _why(e: BaseException) -> str:
    if isinstance(e, KeyError):
        return f"missing field {e.args[0]!r}"
    return str(e).splitlines()[0][:200] if str(e) else type(e).__name__
