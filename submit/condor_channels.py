"""The channel table an HTCondor access point reads at submit time.

The schedd transform in site-configs/htcondor/50-depotdelivery.conf turns a
job's ``JuliaImage = "stable"`` into ``JuliaImageId = "<image id>"`` plus
Requirements on the slot's CPU level and store.  It cannot read a store, so
this module writes what it needs as plain config macros, from the store's
*verified* channel records and image manifests::

    DEPOTDELIVERY_NAME_stable  = "stable"        # exact spelling (see below)
    DEPOTDELIVERY_IMAGE_stable = "<image id>"    # the pin
    DEPOTDELIVERY_LEVEL_stable = 1               # lowest variant's level number
    DEPOTDELIVERY_STORE_stable = "/cvmfs/..."    # where nodes see the store

Every channel gets such an entry, and so does every image id (a job may name
an id directly).  A reference that cannot be used (expired record, untrusted
signature, ...) gets ``DEPOTDELIVERY_REFUSED_<key> = "<why>"`` instead, and
condor_submit shows that text.

HTCondor macro names ignore case and allow only letters, digits and ``_``:
channel names are encoded (``_`` -> ``_5f``, ``-`` -> ``_2d``, ``.`` ->
``_2e``, the same rule the transform applies with ``replaceall``), the exact
name is kept in ``DEPOTDELIVERY_NAME_<key>`` and compared case-sensitively,
and names that differ only in case are refused rather than guessed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone

from depotdelivery import channels
from depotdelivery.errors import DepotDeliveryError
from depotdelivery.model import is_image_id, utc_text
from depotdelivery.trust import TrustAnchors

PREFIX = "DEPOTDELIVERY_"
DEFAULT_TABLE = "/etc/condor/config.d/51-depotdelivery-channels.conf"


@dataclass(frozen=True)
class Entry:
    """One reference a job may put in JuliaImage: a channel or an image id."""

    ref: str
    image: str = ""  # the pinned image id; "" when refused
    level: int = 0  # lowest CPU level number among the image's variants
    store: str = ""  # the store path execute nodes see (the manifest's store_path)
    refused: str = ""  # one line: why jobs may not use this reference

    @property
    def usable(self) -> bool:
        return bool(self.image) and not self.refused


def condor_key(ref: str) -> str:
    """Channel name -> config macro suffix; the transform computes the same
    with replaceall (order matters: '_' first, so the encoding is reversible)."""
    return ref.replace("_", "_5f").replace("-", "_2d").replace(".", "_2e")


def quote(text: str) -> str:
    """A ClassAd string literal that is also safe as a config macro value: a
    '$' would start a macro expansion and a newline would end the value."""
    clean = text.replace("$", "S").replace("\n", " ").replace("\r", " ")
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _verified_image(store_root: str, ref: str, image_id: str,
                    keys: TrustAnchors) -> Entry:
    from depotdelivery.wrapper.verify import read_manifest
    try:
        img = read_manifest(store_root, image_id, keys)
    except DepotDeliveryError as e:
        return Entry(ref, refused=f"depotdelivery: {ref}: {e.message}")
    store = os.path.normpath(img.manifest.store_path)
    if any(c in store for c in ',"$\n'):
        return Entry(ref, refused=f"depotdelivery: {ref}: store path {store!r} cannot be "
                                  "matched in HTCondor (no ',', '\"' or '$' allowed)")
    return Entry(ref, image=image_id, level=img.manifest.levels()[0].number, store=store)


def _channel_entry(store_root: str, name: str, keys: TrustAnchors,
                   now: datetime) -> Entry:
    try:
        rec, _ = channels.latest(store_root, name, keys, now=now)
    except DepotDeliveryError as e:
        return Entry(name, refused=f"depotdelivery: {e.message}")
    return _verified_image(store_root, name, rec.image, keys)


def table_entries(store_root: str, keys: TrustAnchors, *,
                  now: datetime | None = None) -> list[Entry]:
    """Every channel and every image of the store, verified (no I/O but reads)."""
    now = now or datetime.now(timezone.utc)
    entries = []
    for name in channels.channel_names(store_root):
        if is_image_id(name):
            entries.append(Entry(name, refused=f"depotdelivery: channel {name} is named like "
                                               "an image id; rename the channel"))
            continue
        entries.append(_channel_entry(store_root, name, keys, now))
    idir = os.path.join(store_root, "images")
    for name in sorted(os.listdir(idir)) if os.path.isdir(idir) else []:
        if is_image_id(name):
            entries.append(_verified_image(store_root, name, name, keys))
    return _refuse_case_collisions(entries)


def _refuse_case_collisions(entries: list[Entry]) -> list[Entry]:
    """Config macro names ignore case: 'Stable' and 'stable' would share one
    slot in the table, so neither is offered."""
    by_key: dict[str, list[Entry]] = {}
    for e in entries:
        by_key.setdefault(condor_key(e.ref).lower(), []).append(e)
    out = []
    for group in by_key.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        names = ", ".join(e.ref for e in group)
        out.extend(Entry(e.ref, refused=f"depotdelivery: channels {names} differ only in case; "
                                        "HTCondor cannot tell them apart, rename one")
                   for e in group)
    return out


def render(entries: list[Entry], *, source: str, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    lines = [f"# Written by `depotdelivery condor-channels` from store {source} at {utc_text(now)}.",
             "# Do not edit: re-run it after every publish or channel change, then condor_reconfig.",
             "# Read by JOB_TRANSFORM_DepotDelivery (site-configs/htcondor/50-depotdelivery.conf).", ""]
    for e in entries:
        key = condor_key(e.ref)
        lines.append(f"{PREFIX}NAME_{key} = {quote(e.ref)}")
        if e.usable:
            lines += [f"{PREFIX}IMAGE_{key} = {quote(e.image)}",
                      f"{PREFIX}LEVEL_{key} = {e.level}",
                      f"{PREFIX}STORE_{key} = {quote(e.store)}"]
        else:
            lines.append(f"{PREFIX}REFUSED_{key} = {quote(e.refused)}")
    return "\n".join(lines) + "\n"


def write_table(path: str, text: str) -> None:
    """Atomically: the schedd may re-read config.d at any moment.  The
    temporary file starts with '.', which HTCondor skips in config.d."""
    from depotdelivery.fsutil import replace_file
    replace_file(path, text.encode("utf-8"), mode=0o644)
