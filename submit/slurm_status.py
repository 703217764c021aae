"""Which Slurm node can run which published image, from Slurm's own JSON.

`sinfo --json` and `squeue --json` (Slurm 22.05; pyslurm has no release for
it) give the nodes' Features and the jobs' comments; the slurm index (or a
store verified the same way) gives each channel's image and variants.  The
functions here are pure: documents in, rows out.
"""

from __future__ import annotations

from dataclasses import dataclass

from depotdelivery.errors import StoreUnavailable
from depotdelivery.levels import LEVEL_RANK

from .slurm_index import Index
from .tooljson import run_json


@dataclass(frozen=True)
class NodeView:
    name: str
    state: str  # sinfo's state, with flags: "idle", "idle+drain", "mixed"...
    reason: str
    level: str  # highest CPU level among its Features; "" if none
    features: tuple[str, ...]


@dataclass(frozen=True)
class JobView:
    job_id: int
    user: str
    state: str
    nodes: str
    ref: str  # julia-image=REF from the comment
    image_id: str  # julia-image-id=ID: the pin


def slurm_json(argv: list[str]) -> dict:
    """Run `sinfo --json` or `squeue --json` (in 22.05 --json ignores -n/-t/-j
    filters: callers filter the document themselves)."""
    doc = run_json(argv, hint="is Slurm installed and SLURM_CONF set? (--json needs Slurm 21.08 or newer)")
    if not isinstance(doc, dict):
        raise StoreUnavailable(f"{' '.join(argv)} printed JSON that is not an object")
    return doc


def nodes(sinfo: dict) -> list[NodeView]:
    out = []
    for n in sinfo.get("nodes", []):
        feats = tuple(f for f in str(n.get("active_features") or n.get("features") or "").split(",") if f)
        levels = sorted((f for f in feats if f in LEVEL_RANK), key=LEVEL_RANK.__getitem__)
        flags = [str(f).lower() for f in n.get("state_flags") or []]
        out.append(NodeView(name=str(n.get("name", "?")), state="+".join([str(n.get("state", "?"))] + flags),
                            reason=str(n.get("reason") or ""), level=levels[-1] if levels else "",
                            features=feats))
    return sorted(out, key=lambda v: v.name)


# Slurm 22.05's job states after which a job no longer runs (squeue and
# scontrol spell them alike); tests/harness_slurm.py waits for them too.
FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
                      "BOOT_FAIL", "DEADLINE", "PREEMPTED"})


def jobs(squeue: dict) -> list[JobView]:
    """Pending and running jobs that ask for an image (22.05's --json also
    lists finished jobs for MinJobAge, whatever -t says)."""
    out = []
    for j in squeue.get("jobs", []):
        words = dict(w.split("=", 1) for w in str(j.get("comment") or "").split() if "=" in w)
        if "julia-image" not in words or str(j.get("job_state", "")) in FINISHED:
            continue
        out.append(JobView(job_id=int(j.get("job_id", 0)), user=str(j.get("user_name", "")),
                           state=str(j.get("job_state", "")), nodes=str(j.get("nodes") or ""),
                           ref=words["julia-image"], image_id=words.get("julia-image-id", "")))
    return sorted(out, key=lambda v: v.job_id)


def variant_on(levels: tuple[str, ...], node_level: str) -> str:
    """The variant a node of `node_level` runs ('' if none): the highest one
    at or below it, as the wrapper selects."""
    if node_level not in LEVEL_RANK:
        return ""
    ok = [l for l in levels if LEVEL_RANK[l] <= LEVEL_RANK[node_level]]
    return ok[-1] if ok else ""


def matrix(index: Index, node_views: list[NodeView]) -> dict[str, dict[str, str]]:
    """channel -> node -> variant ('' where the image cannot run)."""
    return {c.name: {n.name: variant_on(c.levels, n.level) for n in node_views}
            for c in sorted(index.channels.values(), key=lambda c: c.name)}


def render(index: Index, node_views: list[NodeView], job_views: list[JobView]) -> str:
    chans = sorted(index.channels.values(), key=lambda c: c.name)
    grid = matrix(index, node_views)
    width = max([len(n.name) for n in node_views] + [4])
    cols = [max(len(c.name), 10) for c in chans]
    lines = ["published images (channel -> image, variants):"]
    for c in chans:
        where = [n for n, v in grid[c.name].items() if v]
        lines.append(f"  {c.name:12s} -> {c.image_id[:12]}  {','.join(c.levels):22s} "
                     + (f"runs on {len(where)} node(s)" if where else
                        f"NO node offers {c.levels[0]}: jobs are refused at submit"))
    for ref, why in sorted(index.broken.items()):
        lines.append(f"  {ref[:12]:12s} BROKEN: {why}")
    lines.append("")
    lines.append("nodes (sinfo --json): the variant each channel runs there ('-': cannot run)")
    lines.append(f"  {'NODE':{width}s}  {'STATE':12s} {'LEVEL':10s}  "
                 + "  ".join(f"{c.name:{w}s}" for c, w in zip(chans, cols, strict=True)))
    for n in node_views:
        cells = "  ".join(f"{grid[c.name][n.name] or '-':{w}s}" for c, w in zip(chans, cols, strict=True))
        lines.append(f"  {n.name:{width}s}  {n.state:12s} {n.level or '-':10s}  {cells}"
                     + (f"  ({n.reason})" if n.reason else ""))
    if job_views:
        lines.append("")
        lines.append("jobs asking for an image (squeue --json):")
        for j in job_views:
            lines.append(f"  {j.job_id:<8d} {j.user:10s} {j.state:10s} {j.nodes or '-':12s} "
                         f"julia-image={j.ref} -> {j.image_id[:12] or 'NOT PINNED'}")
    return "\n".join(lines)


def to_json(index: Index, node_views: list[NodeView], job_views: list[JobView]) -> dict:
    return {
        "channels": {c.name: {"image": c.image_id, "levels": list(c.levels), "expires": c.expires}
                     for c in index.channels.values()},
        "broken": dict(index.broken),
        "nodes": [{"name": n.name, "state": n.state, "reason": n.reason, "level": n.level,
                   "features": list(n.features)} for n in node_views],
        "runs": matrix(index, node_views),
        "jobs": [{"job_id": j.job_id, "user": j.user, "state": j.state, "nodes": j.nodes,
                  "ref": j.ref, "image": j.image_id} for j in job_views],
    }
