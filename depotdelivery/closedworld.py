"""The closed world of one image variant: every store path a job's Julia can
reach, and what must be true of each.  Pure: manifest in, rules out.

A signature over the files a manifest lists says nothing about the paths
Julia's loader probes that the manifest does not list (Julia 1.5,
base/loading.jl and initdefs.jl), so the wrapper makes those finite and
checks all of them:

* the job's environment fixes where Julia looks (JULIA_LOAD_PATH="@:@stdlib":
  no `@v#.#` environments inside depots; JULIA_PROJECT = the image's
  project; JULIA_DEPOT_PATH = node-local depot, image depot, store pool);
* every folder of the image (``images/<id>/...``) and of every package or
  artifact tree the image uses (``pool/packages/<Name>/<slug>/...``) is
  *closed*: its listing must be exactly what the manifest implies, so an
  extra ``JuliaProject.toml``, ``JuliaManifest.toml``, ``.ji``, ``.so`` or
  folder is refused, and every name Julia probes there is either a verified
  file or proven absent;
* the pool itself is shared by all images, so its top level may hold only
  the folders publish writes (packages, artifacts, dev): a planted
  ``pool/compiled``, ``pool/registries``, ``pool/environments``,
  ``pool/config``, ``pool/artifacts/Overrides.toml`` ... is refused;
* the shared folders between (``pool/packages``, ``pool/packages/<Name>``,
  ...) hold other images' entries, which Julia never probes for this image,
  except the 4-character package slug it tries before the 5-character one
  (``version_slug(uuid, tree, 4)``, a prefix of the 5-character slug): that
  path must be absent.

`World.explain(path)` says why a path is covered (or None): the tracing
test checks every path Julia touched with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .model import FileEntry, ImageManifest

POOL_TOP = frozenset({"packages", "artifacts", "dev"})
# Names the CVMFS publisher adds to an image folder (nested catalog marker,
# empty); Julia never opens them.
IMAGE_MARKERS = frozenset({".cvmfscatalog"})
# How deep a pool tree's root sits below pool/: packages/<Name>/<slug>,
# dev/<Name>/<tree>, artifacts/<tree>.
_TREE_DEPTH = {"packages": 3, "dev": 3, "artifacts": 2}


@dataclass(frozen=True)
class World:
    image_id: str
    level: str
    files: tuple[FileEntry, ...]  # to hash: every file a job on `level` may read
    verified: frozenset[str]  # their store-relative paths
    file_paths: frozenset[str]  # store-relative paths of every listed file (all levels)
    closed: Mapping[str, frozenset[str]]  # dir -> its exact listing
    subset: Mapping[str, frozenset[str]]  # dir -> names its listing may hold (pool/)
    shared: tuple[str, ...]  # dirs checked for identity only (other images' entries)
    absent: tuple[str, ...]  # paths that must not exist
    markers: Mapping[str, frozenset[str]]  # dir -> allowed empty marker files

    def dirs(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.closed) | set(self.subset) | set(self.shared)))

    def explain(self, rel: str) -> str | None:
        """Why store-relative `rel` is safe for Julia to touch, or None."""
        rel = rel.strip("/")
        if rel in self.file_paths:
            return "verified file" if rel in self.verified else "signed file of another variant"
        if rel in self.closed or rel in self.subset or rel in self.shared or rel == "":
            return "verified folder"
        if rel in self.absent:
            return "proven absent (named in the closed world)"
        parts = rel.split("/")
        for i in range(len(parts) - 1, 0, -1):
            parent, child = "/".join(parts[:i]), parts[i]
            if parent in self.closed:
                if child in self.closed[parent] or child in self.markers.get(parent, ()):
                    return None  # listed child: must itself be covered above
                return f"proven absent (listing of {parent} is closed)"
            if parent in self.subset:
                if child in self.subset[parent]:
                    continue
                return f"proven absent (listing of {parent} allows only {', '.join(sorted(self.subset[parent]))})"
        return None


def closed_world(manifest: ImageManifest, image_id: str, level: str) -> World:
    """The rules for a job on `level` of image `image_id` (pure)."""
    def rel(f: FileEntry) -> str:
        return f"pool/{f.path}" if f.root == "pool" else f"images/{image_id}/{f.path}"

    image_dir = f"images/{image_id}"
    closed: dict[str, set[str]] = {image_dir: {"manifest.json", "manifest.sig"}}
    shared: set[str] = {"images"}
    absent: set[str] = set()
    paths = [rel(f) for f in manifest.files]
    for p in paths:
        parts = p.split("/")
        if parts[0] == "images":
            top = 2  # images/<id> and below are closed
        else:
            depth = _TREE_DEPTH.get(parts[1])
            if depth is None or len(parts) <= depth:
                raise ValueError(f"{p}: not inside a pool tree (packages/, dev/, artifacts/)")
            top = depth + 1  # the tree root, e.g. pool/packages/<Name>/<slug>
            for i in range(2, top):
                shared.add("/".join(parts[:i]))
            if parts[1] == "packages":
                slug = parts[3]
                if len(slug) == 5:
                    absent.add("/".join(parts[:3] + [slug[:4]]))
        for i in range(top, len(parts)):
            closed.setdefault("/".join(parts[:i]), set()).add(parts[i])
    # Every tree root must also appear in its shared parent (it does: the
    # parent is shared, so no listing rule), and the image dir's files are
    # reached through the closed image_dir entry above.
    # Julia's artifact overrides would redirect any artifact: never allowed.
    absent.add("pool/artifacts/Overrides.toml")
    files = manifest.files_for(level)
    return World(
        image_id=image_id, level=level, files=files, verified=frozenset(rel(f) for f in files),
        file_paths=frozenset(rel(f) for f in manifest.files).union(
            {f"{image_dir}/manifest.json", f"{image_dir}/manifest.sig"}),
        closed={d: frozenset(c) for d, c in closed.items()},
        subset={"pool": POOL_TOP},
        shared=tuple(sorted(shared - set(closed))),
        absent=tuple(sorted(absent)),
        markers={image_dir: IMAGE_MARKERS},
    )
