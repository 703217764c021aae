"""A/B validation: does a node run exactly what CI built?

A fingerprint (julia/fingerprint.jl) records the module graph and the method
cache of a Julia started exactly as the wrapper starts it.  The build
records one per variant inside the signed image; `compare` is the pure diff
of that and a node's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from depotdelivery.errors import DepotDeliveryError, UsageError

SCHEMA = "depotdelivery/fingerprint/v1"


@dataclass(frozen=True)
class Fingerprint:
    julia_version: str
    image_id: str
    variant: str
    cpu_target: str
    node_level: str
    modules: dict[tuple[str, str], tuple[str, str]]  # (name, uuid) -> (build_id, origin)
    methods: frozenset
    digest: str


def parse(data: bytes, *, source: str, error: type[DepotDeliveryError] = UsageError) -> Fingerprint:
    """Bytes -> Fingerprint, refusing truncated or hand-edited files: a
    user's file is a usage error (64); `error=ImageInvalid` for the one
    inside a signed image (bad store data, 65)."""
    try:
        d = json.loads(data)
        if d.get("schema") != SCHEMA:
            raise ValueError("not a fingerprint")
        sigs = d["methods"]["signatures"]
        if not isinstance(sigs, list) or not all(isinstance(s, str) for s in sigs):
            raise ValueError("bad signatures")
        mods = {(m["name"], m["uuid"]): (m["build_id"], m["origin"]) for m in d["modules"]}
        fp = Fingerprint(julia_version=str(d["julia_version"]), image_id=str(d["image_id"]),
                         variant=str(d["variant"]), cpu_target=str(d["cpu_target"]),
                         node_level=str(d["node_level"]), modules=mods, methods=frozenset(sigs),
                         digest=str(d["methods"]["digest"]))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise error(f"{source} is truncated or not a depotdelivery fingerprint; "
                         "make it again with `depotdelivery fingerprint`") from None
    if digest_of(sorted(fp.methods)) != fp.digest or len(fp.methods) != d["methods"].get("count"):
        raise error(f"{source} was edited by hand (its method digest does not match its "
                         "signatures); make it again with `depotdelivery fingerprint`")
    return fp


def digest_of(sorted_sigs: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted_sigs).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Comparison:
    differences: tuple[str, ...]
    summary: str

    @property
    def identical(self) -> bool:
        return not self.differences


def compare(build: Fingerprint, node: Fingerprint, *, limit: int = 25) -> Comparison:
    """Pure: name every difference between the build's fingerprint and a node's."""
    if node.image_id and build.image_id and node.image_id != build.image_id:
        raise UsageError(f"the node fingerprint is for image {node.image_id[:12]}, not {build.image_id[:12]}; "
                         "fingerprint the same image on the node")
    diffs: list[str] = []
    if build.julia_version != node.julia_version:
        diffs.append(f"Julia version: CI {build.julia_version}, node {node.julia_version}")
    if build.variant != node.variant:
        diffs.append(f"variant: CI {build.variant}, node {node.variant}")
    for key in sorted(set(build.modules) | set(node.modules)):
        name = key[0]
        b, n = build.modules.get(key), node.modules.get(key)
        if b is None and n is not None:
            diffs.append(f"module {name}: loaded on the node ({n[1]}), not in CI")
        elif n is None and b is not None:
            diffs.append(f"module {name}: loaded in CI ({b[1]}), not on the node")
        elif b is not None and n is not None and b != n:
            what = "build id" if b[0] != n[0] else "origin"
            diffs.append(f"module {name}: {what} differs (CI {b[0]} from {b[1]}, node {n[0]} from {n[1]})")
    extra = sorted(node.methods - build.methods)
    missing = sorted(build.methods - node.methods)
    for label, sigs in (("compiled on the node, not in CI", extra), ("in CI, not on the node", missing)):
        if sigs:
            shown = "; ".join(sigs[:limit]) + (f"; ... {len(sigs) - limit} more" if len(sigs) > limit else "")
            diffs.append(f"{len(sigs)} method(s) {label}: {shown}")
    summary = (f"identical: {len(node.modules)} modules, {len(node.methods)} compiled methods "
               f"(digest {node.digest[:16]}), variant {node.variant}") if not diffs else \
        f"{len(diffs)} difference(s) between CI and the node"
    return Comparison(tuple(diffs), summary)
