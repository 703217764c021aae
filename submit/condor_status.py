"""Which HTCondor slot offers which level and images, which job runs which
image: `depotdelivery status --condor`.

Two halves:

* pure: ``slots()``/``jobs()`` turn ads (plain dicts, as ``condor_status
  -json`` prints them) into the views below, ``render()``/``to_json()`` turn
  views into text or a document.  No pool needed to test them.
* the edge: ``query()`` gets those ads, through HTCondor's Python bindings
  (``htcondor2``/``classad2``, the ``htcondor`` extra) when they import, else
  through ``condor_status``/``condor_q``.  Both paths hand over the same
  JSON-shaped dicts (the bindings' ``printJson`` is the tools' ``-json``), so
  what is shown never depends on the path taken.

Only queries are made (collector and schedd reads), which a 23.9 pool
answers without authentication; nothing here needs a token.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field

from depotdelivery.errors import ConfigError, StoreUnavailable, UsageError
from depotdelivery.levels import LEVEL_NAMES

from .tooljson import one_line, run_json

# What the startd cron (condor_node.py) and the schedd transform
# (50-depotdelivery.conf) put into ads, plus HTCondor's own attributes.
SLOT_ATTRS = ("Name", "Machine", "SlotType", "State", "Activity", "Microarch", "DepotDeliveryLevel",
              "DepotDeliveryLevelName", "DepotDeliveryCpuLevel", "DepotDeliveryStores",
              "DepotDeliveryImages", "DepotDeliveryError")
JOB_ATTRS = ("ClusterId", "ProcId", "Owner", "JobStatus", "JuliaImage", "JuliaImageId",
             "JuliaImageLevel", "RemoteHost", "HoldReason")
# Jobs that ask for an image and are still in the queue's working states:
# removed (3) and completed (4) jobs are on their way out of the queue.
JOB_CONSTRAINT = ("((JuliaImage isnt undefined) || (JuliaImageId isnt undefined))"
                  " && JobStatus =!= 3 && JobStatus =!= 4")
JOB_STATUS = {1: "Idle", 2: "Running", 3: "Removed", 4: "Completed", 5: "Held",
              6: "Transferring", 7: "Suspended"}
# Set to 1 to skip the bindings even where they import (to compare both
# paths, or when an installed wheel misbehaves against an older pool).
NO_BINDINGS_ENV = "DEPOTDELIVERY_CONDOR_NO_BINDINGS"
VIA_BINDINGS = "htcondor2 bindings"
VIA_TOOLS = "condor_status/condor_q"
INSTALL_HINT = ("install the bindings (pip install 'depotdelivery[htcondor]', i.e. htcondor >= 25) "
                "or HTCondor's command-line tools (condor_status, condor_q)")


# -- views (plain data) ---------------------------------------------------------
@dataclass(frozen=True)
class SlotView:
    name: str  # slot1@host, slot1_3@host (a dynamic slot), slot1@startd@host
    machine: str
    slot_type: str  # "Partitionable", "Dynamic", "Static" ("" if not advertised)
    state: str  # State/Activity, e.g. "Claimed/Busy"
    microarch: str  # HTCondor's own CPU level ("x86_64-v4"), "" if not advertised
    level: int | None  # DepotDeliveryLevel: what jobs run at here (site cap applied); None: no cron output
    level_name: str
    cpu_level: int | None
    stores: tuple[str, ...]
    images: tuple[str, ...]  # DepotDeliveryImages: image ids verified here with a variant this slot runs
    error: str  # DepotDeliveryError, "" if none

    @property
    def node(self) -> str:
        return node_of(self.name)


@dataclass(frozen=True)
class NodeView:
    """One execute node (one startd): what its slots advertise, once.  The
    startd cron runs per startd, so all its slots carry the same values."""

    name: str  # "host", or "startd@host" for a named startd
    level: int | None
    level_name: str
    cpu_level: int | None
    microarch: str
    stores: tuple[str, ...]
    images: tuple[str, ...]
    error: str
    slots: tuple[str, ...]
    claimed: int  # slots in State Claimed (running or about to run a job)


@dataclass(frozen=True)
class JobView:
    job_id: str  # "cluster.proc"
    schedd: str
    owner: str
    status: str  # "Idle", "Running", "Held", ...
    ref: str  # JuliaImage: what the user asked for
    image_id: str  # JuliaImageId: the pin ("" if the transform did not pin it)
    level: int | None  # JuliaImageLevel: lowest level the pinned image has a variant for
    remote_host: str  # the slot it runs on ("" unless running)
    hold_reason: str

    @property
    def node(self) -> str:
        return node_of(self.remote_host) if self.remote_host else ""


@dataclass(frozen=True)
class PoolStatus:
    pool: str  # the collector asked ("" = the configured default)
    via: str  # VIA_BINDINGS or VIA_TOOLS
    slots: list[SlotView]
    jobs: list[JobView]
    problems: list[str] = field(default_factory=list)  # e.g. a schedd that did not answer


# -- ads -> views (pure) --------------------------------------------------------------
def node_of(slot_name: str) -> str:
    """slot1_2@baseline@host -> baseline@host: a slot's name is
    slotN[_M]@ before the startd's own name."""
    head, at, rest = slot_name.partition("@")
    return rest if at and head.startswith("slot") else slot_name


def _text(value) -> str:
    """An attribute's value as text; JSON null (undefined) and expressions
    the ad could not evaluate to a string are "" rather than guessed."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, str):
        # condor_*-json (and printJson) write unevaluated expressions as
        # "/Expr(...)/": not a value this attribute should have.
        return "" if value.startswith("/Expr(") and value.endswith(")/") else value
    return str(value)


def _int(value) -> int | None:
    if isinstance(value, bool):  # True is an int to Python, not to a ClassAd level
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _list(value) -> tuple[str, ...]:
    """A ClassAd string list ("a,b" or "a, b")."""
    return tuple(x.strip() for x in _text(value).split(",") if x.strip())


def _level_name(number: int | None, name: str) -> str:
    if name:
        return name
    if number is not None and 1 <= number <= len(LEVEL_NAMES):
        return LEVEL_NAMES[number - 1]
    return ""


def slots(ads: list[dict]) -> list[SlotView]:
    out = []
    for ad in ads:
        level = _int(ad.get("DepotDeliveryLevel"))
        state = "/".join(x for x in (_text(ad.get("State")), _text(ad.get("Activity"))) if x)
        out.append(SlotView(name=_text(ad.get("Name")) or "?", machine=_text(ad.get("Machine")),
                            slot_type=_text(ad.get("SlotType")),
                            state=state, microarch=_text(ad.get("Microarch")), level=level,
                            level_name=_level_name(level, _text(ad.get("DepotDeliveryLevelName"))),
                            cpu_level=_int(ad.get("DepotDeliveryCpuLevel")),
                            stores=_list(ad.get("DepotDeliveryStores")),
                            images=_list(ad.get("DepotDeliveryImages")),
                            error=_text(ad.get("DepotDeliveryError"))))
    return sorted(out, key=lambda s: (s.node, s.name))


def nodes(slot_views: list[SlotView]) -> list[NodeView]:
    by_node: dict[str, list[SlotView]] = {}
    for s in slot_views:
        by_node.setdefault(s.node, []).append(s)
    out = []
    for name, group in sorted(by_node.items()):
        # The partitionable (or static) slot speaks for the node: dynamic
        # slots come and go with the jobs carved out of it.
        first = sorted(group, key=lambda s: (s.slot_type == "Dynamic", s.name))[0]
        out.append(NodeView(name=name, level=first.level, level_name=first.level_name, cpu_level=first.cpu_level,
                            microarch=first.microarch, stores=first.stores, images=first.images, error=first.error,
                            slots=tuple(s.name for s in group),
                            claimed=sum(s.state.startswith("Claimed") for s in group)))
    return out


def jobs(ads: list[dict], schedd: str) -> list[JobView]:
    out = []
    for ad in ads:
        status = _int(ad.get("JobStatus"))
        ref, pin = _text(ad.get("JuliaImage")), _text(ad.get("JuliaImageId"))
        # The constraint is the schedd's; a hand-written or older query may
        # return more, so the same rule is applied here.
        if (not ref and not pin) or status in (3, 4):
            continue
        cluster, proc = _int(ad.get("ClusterId")), _int(ad.get("ProcId"))
        out.append(JobView(job_id=f"{cluster if cluster is not None else '?'}.{proc if proc is not None else 0}",
                           schedd=schedd, owner=_text(ad.get("Owner")),
                           status=JOB_STATUS.get(status, str(status)) if status is not None else "?",
                           ref=ref, image_id=pin, level=_int(ad.get("JuliaImageLevel")),
                           remote_host=_text(ad.get("RemoteHost")), hold_reason=_text(ad.get("HoldReason"))))
    return out


def _job_key(j: JobView) -> tuple:
    c, _, p = j.job_id.partition(".")
    return (j.schedd, int(c) if c.isdigit() else -1, int(p) if p.isdigit() else -1)


def offered_by(node_views: list[NodeView]) -> dict[str, list[str]]:
    """image id -> the nodes whose DepotDeliveryImages list it."""
    out: dict[str, list[str]] = {}
    for n in node_views:
        for image in n.images:
            out.setdefault(image, []).append(n.name)
    return dict(sorted(out.items()))


def _where(j: JobView, offers: dict[str, list[str]]) -> str:
    if j.remote_host:
        return f"on {j.remote_host}"
    if j.status == "Held":
        return "held: " + (j.hold_reason or "no reason given")
    if not j.image_id:
        return "NOT PINNED (JuliaImage must be a quoted channel or image id)"
    n = len(offers.get(j.image_id, []))
    # Advice, not a verdict: DepotDeliveryImages lists channel images only,
    # while a job may pin any image id the access point offers.
    return f"advertised by {n} node(s)" if n else "advertised by no node (DepotDeliveryImages)"


def render(st: PoolStatus) -> str:
    node_views = nodes(st.slots)
    offers = offered_by(node_views)
    lines = [f"HTCondor pool {st.pool or '(configured collector)'} via {st.via}", ""]
    if node_views:
        width = max(len(n.name) for n in node_views)
        lines.append("execute nodes (startd ads; LEVEL and IMAGES from depotdelivery's startd cron):")
        lines.append(f"  {'NODE':{width}s}  {'CLAIMED':8s} {'LEVEL':14s} {'MICROARCH':10s} IMAGES")
        for n in node_views:
            level = f"{n.level} {n.level_name}" if n.level is not None else "-"
            busy = f"{n.claimed}/{len(n.slots)}"  # of its slots (a running job adds a dynamic one)
            images = ",".join(i[:12] for i in n.images) or "-"
            lines.append(f"  {n.name:{width}s}  {busy:8s} {level:14s} {n.microarch or '-':10s} {images}")
            if n.level is None:
                lines.append(f"  {'':{width}s}  no DepotDeliveryLevel: is the startd cron of "
                             "50-depotdelivery.conf installed here?")
            if n.error:
                lines.append(f"  {'':{width}s}  ERROR: {n.error}")
        for store in sorted({x for n in node_views for x in n.stores}):
            k = sum(store in n.stores for n in node_views)
            lines.append(f"  store {store}: readable on {k} of {len(node_views)} node(s)")
    else:
        lines.append("execute nodes: none in the collector")
    if offers:
        lines.append("")
        lines.append("images advertised (DepotDeliveryImages -> nodes):")
        for image, names in offers.items():
            lines.append(f"  {image[:12]}  {len(names)} node(s): {', '.join(names)}")
    lines.append("")
    if st.jobs:
        lines.append("jobs asking for an image (JuliaImage -> pinned JuliaImageId):")
        width = max(len(j.job_id) for j in st.jobs)
        for j in sorted(st.jobs, key=_job_key):
            lines.append(f"  {j.job_id:{width}s}  {j.owner or '?':10s} {j.status:12s} "
                         f"{j.ref or '?'} -> {j.image_id[:12] or 'NOT PINNED'}  {_where(j, offers)}")
    else:
        lines.append("jobs asking for an image: none queued")
    for p in st.problems:
        lines.append(f"warning: {p}")
    return "\n".join(lines)


def to_json(st: PoolStatus) -> dict:
    node_views = nodes(st.slots)
    offers = offered_by(node_views)
    return {
        "pool": st.pool, "via": st.via,
        "nodes": [{"name": n.name, "level": n.level, "level_name": n.level_name, "cpu_level": n.cpu_level,
                   "microarch": n.microarch, "stores": list(n.stores), "images": list(n.images), "error": n.error,
                   "slots": list(n.slots), "claimed": n.claimed} for n in node_views],
        "slots": [{"name": s.name, "node": s.node, "type": s.slot_type, "state": s.state, "level": s.level,
                   "images": list(s.images)} for s in st.slots],
        "images": offers,
        "jobs": [{"id": j.job_id, "schedd": j.schedd, "owner": j.owner, "status": j.status, "ref": j.ref,
                  "image": j.image_id, "level": j.level, "remote_host": j.remote_host, "node": j.node,
                  "hold_reason": j.hold_reason, "offered_by": offers.get(j.image_id, [])}
                 for j in sorted(st.jobs, key=_job_key)],
        "problems": list(st.problems),
    }


# -- the edge: ads from the pool ------------------------------------------------------
_POOL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")


def check_pool(pool: str) -> str:
    """HOST[:PORT] (an IPv6 host in brackets) -> itself; else UsageError.
    Checked here so a typo is a usage error, not a 20 s connection timeout."""
    host, port = pool, ""
    if pool.startswith("["):
        host, _, rest = pool.partition("]")
        host += "]"
        port = rest[1:] if rest.startswith(":") else ("" if not rest else "x")
    elif ":" in pool:
        host, _, port = pool.rpartition(":")
    ok = bool(_POOL.fullmatch(host)) and (not port or (port.isdigit() and 0 < int(port) < 65536))
    if not ok:
        raise UsageError(f"--pool {pool!r} is not HOST[:PORT]: give the collector, e.g. --pool cm.example.org:9618")
    return pool


def _load_bindings():
    """-> the htcondor2 module, or None with the reason it cannot be used."""
    if os.environ.get(NO_BINDINGS_ENV, "") not in ("", "0"):
        return None, f"{NO_BINDINGS_ENV} is set"
    try:
        import htcondor2
    except ImportError as e:
        # Also a wheel whose native part fails to load: the tools may still work.
        return None, f"the HTCondor Python bindings are not installed ({e.msg})"
    return htcondor2, ""


def query(pool: str) -> tuple[PoolStatus, str]:
    """-> (the pool's status, a note for stderr when the tools stood in for
    the bindings ("" otherwise))."""
    htcondor2, why = _load_bindings()
    if htcondor2 is not None:
        return _query_bindings(htcondor2, pool), ""
    if shutil.which("condor_status") and shutil.which("condor_q"):
        return _query_tools(pool), f"{why}; using condor_status and condor_q instead"
    raise StoreUnavailable(f"cannot ask HTCondor: {why} and condor_status/condor_q are not on PATH; {INSTALL_HINT}")


def _where_text(pool: str) -> str:
    return f"the collector {pool}" if pool else "the configured collector (COLLECTOR_HOST)"


def _query_bindings(htcondor2, pool: str) -> PoolStatus:
    if not pool and not htcondor2.param.get("COLLECTOR_HOST"):
        raise ConfigError("no HTCondor collector configured: pass --pool HOST[:PORT], or set COLLECTOR_HOST "
                          "in the file CONDOR_CONFIG names")
    # What the wheel raises besides its own exception (a bad address, a
    # reply it cannot parse) is a pool that could not be read all the same.
    failed = (htcondor2.HTCondorException, RuntimeError, ValueError, OSError)
    try:
        coll = htcondor2.Collector(pool or None)
        slot_ads = coll.query(htcondor2.AdType.Startd, projection=list(SLOT_ATTRS))
        schedds = coll.locateAll(htcondor2.DaemonType.Schedd)
    except failed as e:
        raise StoreUnavailable(f"{_where_text(pool)} did not answer ({one_line(str(e))}); "
                               "is the pool up and --pool right?") from None
    job_views: list[JobView] = []
    problems = [] if schedds else ["no schedd (access point) in the collector: no jobs to show"]
    for loc in schedds:
        name = str(loc.get("Name", "?"))
        try:
            ads = htcondor2.Schedd(loc).query(JOB_CONSTRAINT, list(JOB_ATTRS))
        except failed as e:
            # One access point down must not hide the slots and the others.
            problems.append(f"schedd {name} did not answer: {one_line(str(e))}")
            continue
        job_views += jobs([json.loads(ad.printJson()) for ad in ads], name)
    return PoolStatus(pool=pool, via=VIA_BINDINGS, slots=slots([json.loads(ad.printJson()) for ad in slot_ads]),
                      jobs=job_views, problems=problems)


def _tool_json(argv: list[str]) -> list[dict]:
    doc = run_json(argv, hint="is the pool up and are HTCondor's tools installed?", empty=[])
    if not isinstance(doc, list) or not all(isinstance(a, dict) for a in doc):
        raise StoreUnavailable(f"{argv[0]} printed JSON that is not a list of ads")
    return doc


def _query_tools(pool: str) -> PoolStatus:
    where = ["-pool", pool] if pool else []
    slot_ads = _tool_json(["condor_status", *where, "-json", "-attributes", ",".join(SLOT_ATTRS)])
    schedd_ads = _tool_json(["condor_status", *where, "-schedd", "-json", "-attributes", "Name,MyAddress"])
    job_views: list[JobView] = []
    problems = [] if schedd_ads else ["no schedd (access point) in the collector: no jobs to show"]
    for loc in schedd_ads:
        name = _text(loc.get("Name"))
        if not name:
            continue
        # The schedd's address from its ad, as the bindings use it: `-name`
        # would look the name up again, and fails where the host name is
        # not fully qualified ("unknown host").
        addr = _text(loc.get("MyAddress"))
        which = ["-addr", addr] if addr else [*where, "-name", name]
        try:
            ads = _tool_json(["condor_q", *which, "-allusers", "-json", "-constraint", JOB_CONSTRAINT,
                              "-attributes", ",".join(JOB_ATTRS)])
        except StoreUnavailable as e:
            problems.append(f"schedd {name} did not answer: {e.message}")
            continue
        job_views += jobs(ads, name)
    return PoolStatus(pool=pool, via=VIA_TOOLS, slots=slots(slot_ads), jobs=job_views, problems=problems)
