"""A small image made in Python (no Julia): real files, real hashes, a real
signed manifest, published with the real publisher.  Its "system images"
are not Julia's, so it serves every test of verification, plans and records
that does not run Julia itself; `julia` on such a node is a stand-in that
prints its arguments."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from depotdelivery.model import FileEntry, ImageManifest, PackagePin, Variant

H = "0" * 64
UUID_A = "7876af07-990d-54b4-ab0e-23690620f79a"
FILES = {
    ("image", "variants/x86-64/sys.so"): b"\x7fELF baseline system image",
    ("image", "variants/x86-64-v3/sys.so"): b"\x7fELF haswell system image",
    ("image", "project/Project.toml"): b'[deps]\nA = "' + UUID_A.encode() + b'"\n',
    ("image", "project/Manifest.toml"): b'[[A]]\nuuid = "' + UUID_A.encode() + b'"\n',
    ("image", "depot/compiled/v1.5/A/QnyPs_E2Cxe.ji"): b"ji cache of A",
    ("pool", "packages/A/QnyPs/Project.toml"): b'name = "A"\n',
    ("pool", "packages/A/QnyPs/src/A.jl"): b"module A\nend\n",
}


def salted_files(name: str, salt: str, sysimage_bytes: int) -> dict:
    """Another image per (name, salt): its own project, pool slug and a
    system image of the given size (incompressible, for disk-full tests)."""
    slug = hashlib.sha256(f"{name}{salt}".encode()).hexdigest()[:5]
    return {
        ("image", "project/Project.toml"): f'name = "{name}"\n'.encode(),
        ("image", "project/Manifest.toml"): f"# {salt}\n".encode(),
        ("image", "variants/x86-64/sys.so"): os.urandom(sysimage_bytes),
        ("image", "depot/compiled/v1.5/Synth/abcd.ji"): b"ji" * 100,
        ("pool", f"packages/Synth/{slug}/src/Synth.jl"): b"module Synth end\n",
    }


def manifest_for(files: dict, *, name: str = "synthetic", store_path: str = "/cvmfs/x/depots") -> ImageManifest:
    entries = []
    for (root, rel), data in sorted(files.items()):
        variant = rel.split("/")[1] if rel.startswith("variants/") else ""
        entries.append(FileEntry(root, rel, hashlib.sha256(data).hexdigest(), len(data),
                                 0o755 if rel.endswith(".so") else 0o644, 946684800 * 10**9, variant))
    return ImageManifest(
        name=name, created="2026-11-30T00:00:00Z", julia_version="1.5.3", store_path=store_path,
        project_sha256=H, manifest_sha256=H, workload_sha256="",
        packages=(PackagePin("A", UUID_A, "0.1.0", "a" * 40),),
        variants=tuple(Variant(lvl, target, f"variants/{lvl}/sys.so")
                       for lvl, target in (("x86-64", "x86-64"), ("x86-64-v3", "haswell"))
                       if ("image", f"variants/{lvl}/sys.so") in files),
        files=tuple(entries))


def write_build(out: str, files: dict = FILES, **kw) -> ImageManifest:
    """A build folder as `depotdelivery build` leaves it."""
    m = manifest_for(files, **kw)
    for e in m.files:
        p = os.path.join(out, "image" if e.root == "image" else "pool", e.path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(files[(e.root, e.path)])
        os.chmod(p, e.mode)
        os.utime(p, ns=(e.mtime_ns, e.mtime_ns))
    with open(os.path.join(out, "manifest.json"), "wb") as f:
        f.write(m.canonical())
    os.chmod(out, 0o755)
    return m


@dataclass
class Published:
    store: str
    image_id: str
    manifest: ImageManifest


def publish(build: str, store: str, key, channel: str = "stable") -> Published:
    from depotdelivery.builder.publish import load_build, publish as do_publish
    from depotdelivery.progress import Reporter
    from depotdelivery.stores import open_store
    res = do_publish(build, open_store(store), key, channel=channel, reporter=Reporter(quiet=True))
    return Published(store, res.image_id, load_build(build)[0])
