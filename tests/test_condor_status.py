"""`depotdelivery status --condor` without a pool: ads (as condor_status -json
prints them) -> views -> table and JSON; the command's errors and its
fallback to the command-line tools (stand-ins that print recorded JSON).
The real pool, through the bindings and the tools: tests/test_condor.py."""

from __future__ import annotations

import json
import os
import stat

import pytest

from conftest import DD, run

from depotdelivery.submit import condor_status as cs

A, B, C = "a" * 64, "b" * 64, "c" * 64
V3 = {"Machine": "node-v3", "Microarch": "x86_64-v4", "DepotDeliveryLevel": 3, "DepotDeliveryLevelName": "x86-64-v3",
      "DepotDeliveryCpuLevel": 4, "DepotDeliveryStores": "/cvmfs/julia.example.org/depots",
      "DepotDeliveryImages": f"{A},{B}"}
SLOT_ADS = [
    # A partitionable slot and the dynamic slot a running job got from it: one node.
    {"Name": "slot1@node-v3", "SlotType": "Partitionable", "State": "Unclaimed", "Activity": "Idle", **V3},
    {"Name": "slot1_1@node-v3", "SlotType": "Dynamic", "State": "Claimed", "Activity": "Busy", **V3},
    {"Name": "slot1@base@node-base", "Machine": "node-base", "SlotType": "Static", "State": "Unclaimed",
     "Activity": "Idle", "Microarch": "x86_64-v1", "DepotDeliveryLevel": 1, "DepotDeliveryLevelName": "x86-64",
     "DepotDeliveryCpuLevel": 1, "DepotDeliveryStores": "/cvmfs/julia.example.org/depots", "DepotDeliveryImages": A},
    # A node whose store is gone: the cron advertises the error and no store.
    {"Name": "slot1@node-broken", "Machine": "node-broken", "State": "Unclaimed", "Activity": "Idle",
     "DepotDeliveryLevel": 2, "DepotDeliveryStores": "", "DepotDeliveryImages": "",
     "DepotDeliveryError": "none of the configured stores is readable: /cvmfs/julia.example.org/depots"},
    # Not running the startd cron at all; and an expression the ad could not evaluate.
    {"Name": "slot1@plain", "Machine": "plain", "State": "Owner", "Activity": "Idle",
     "DepotDeliveryLevel": "/Expr(UNDEFINED_THING)/"},
]
JOB_ADS = [
    {"ClusterId": 12, "ProcId": 0, "Owner": "alice", "JobStatus": 2, "JuliaImage": "stable", "JuliaImageId": A,
     "JuliaImageLevel": 1, "RemoteHost": "slot1_1@node-v3"},
    {"ClusterId": 9, "ProcId": 1, "Owner": "bob", "JobStatus": 1, "JuliaImage": "v4only", "JuliaImageId": C,
     "JuliaImageLevel": 4},
    {"ClusterId": 10, "ProcId": 0, "Owner": "bob", "JobStatus": 5, "JuliaImage": "tamperme", "JuliaImageId": B,
     "HoldReason": "depotdelivery exit 65 (image-invalid): sys.so does not match"},
    # Left out: completed, and not asking for an image.
    {"ClusterId": 8, "ProcId": 0, "Owner": "bob", "JobStatus": 4, "JuliaImage": "stable", "JuliaImageId": A},
    {"ClusterId": 7, "ProcId": 0, "Owner": "carol", "JobStatus": 2, "RemoteHost": "slot1@base@node-base"},
]


def _status(**kw) -> cs.PoolStatus:
    return cs.PoolStatus(pool=kw.get("pool", "cm:9618"), via=kw.get("via", cs.VIA_BINDINGS),
                         slots=cs.slots(SLOT_ADS), jobs=cs.jobs(JOB_ADS, "ap1"), problems=kw.get("problems", []))


def test_ads_become_views_with_levels_images_and_pins():
    slots = {s.name: s for s in cs.slots(SLOT_ADS)}
    assert slots["slot1_1@node-v3"].node == "node-v3" and slots["slot1@base@node-base"].node == "base@node-base"
    nodes = {n.name: n for n in cs.nodes(list(slots.values()))}
    assert list(nodes) == ["base@node-base", "node-broken", "node-v3", "plain"]
    v3, base, broken, plain = (nodes[n] for n in ("node-v3", "base@node-base", "node-broken", "plain"))
    assert (v3.level, v3.level_name, v3.cpu_level, v3.images) == (3, "x86-64-v3", 4, (A, B))
    assert (v3.slots, v3.claimed) == (("slot1@node-v3", "slot1_1@node-v3"), 1)
    assert (base.level, base.images, base.stores, base.claimed) == (1, (A,), ("/cvmfs/julia.example.org/depots",), 0)
    # The name follows from the number when the ad lacks it.
    assert broken.level_name == "x86-64-v2" and broken.stores == ()
    assert "none of the configured stores is readable" in broken.error
    assert plain.level is None and plain.level_name == "" and plain.images == ()
    jobs = {j.job_id: j for j in cs.jobs(JOB_ADS, "ap1")}
    assert set(jobs) == {"12.0", "9.1", "10.0"}
    assert (jobs["12.0"].status, jobs["12.0"].image_id, jobs["12.0"].node) == ("Running", A, "node-v3")
    assert jobs["10.0"].status == "Held" and "exit 65" in jobs["10.0"].hold_reason and jobs["10.0"].node == ""
    assert jobs["9.1"].level == 4 and jobs["9.1"].schedd == "ap1"


def test_the_table_says_which_node_offers_what_and_where_each_job_is():
    text = cs.render(_status())
    lines = text.splitlines()
    header = next(l.split() for l in lines if l.strip().startswith("NODE"))
    assert header == ["NODE", "CLAIMED", "LEVEL", "MICROARCH", "IMAGES"]
    row = {l.split()[0]: l.split() for l in lines if l.startswith("  ") and l.split()[0] in
           ("node-v3", "base@node-base", "node-broken", "plain")}
    assert row["node-v3"][1:] == ["1/2", "3", "x86-64-v3", "x86_64-v4", f"{A[:12]},{B[:12]}"]
    assert row["base@node-base"][1:] == ["0/1", "1", "x86-64", "x86_64-v1", A[:12]]
    assert row["plain"][1:] == ["0/1", "-", "-", "-"]
    assert "ERROR: none of the configured stores is readable" in text
    assert "no DepotDeliveryLevel: is the startd cron" in text
    assert "store /cvmfs/julia.example.org/depots: readable on 2 of 4 node(s)" in text
    assert f"  {A[:12]}  2 node(s): base@node-base, node-v3" in text
    jobs = [l.split() for l in lines[lines.index("jobs asking for an image (JuliaImage -> pinned JuliaImageId):") + 1:]
            if l.startswith("  ")]
    # Sorted by job id; each with its pin and where it runs, or why it does not.
    assert [j[0] for j in jobs] == ["9.1", "10.0", "12.0"]
    assert jobs[2][1:] == ["alice", "Running", "stable", "->", A[:12], "on", "slot1_1@node-v3"]
    assert " ".join(jobs[0][6:]) == "advertised by no node (DepotDeliveryImages)"
    assert " ".join(jobs[1][6:]).startswith("held: depotdelivery exit 65")
    assert text.startswith("HTCondor pool cm:9618 via htcondor2 bindings")


def test_the_json_document_carries_the_same_facts():
    doc = cs.to_json(_status(problems=["schedd ap2 did not answer: timeout"]))
    json.dumps(doc)  # plain data only
    assert doc["via"] == cs.VIA_BINDINGS and doc["pool"] == "cm:9618"
    assert [(n["name"], n["level"], n["images"], n["claimed"]) for n in doc["nodes"]] == [
        ("base@node-base", 1, [A], 0), ("node-broken", 2, [], 0), ("node-v3", 3, [A, B], 1), ("plain", None, [], 0)]
    assert [(s["name"], s["node"], s["type"]) for s in doc["slots"]][-3:] == [
        ("slot1@node-v3", "node-v3", "Partitionable"), ("slot1_1@node-v3", "node-v3", "Dynamic"),
        ("slot1@plain", "plain", "")]
    assert doc["images"] == {A: ["base@node-base", "node-v3"], B: ["node-v3"]}
    assert [(j["id"], j["status"], j["image"], j["node"], j["offered_by"]) for j in doc["jobs"]] == [
        ("9.1", "Idle", C, "", []), ("10.0", "Held", B, "", ["node-v3"]),
        ("12.0", "Running", A, "node-v3", ["base@node-base", "node-v3"])]
    assert doc["problems"] == ["schedd ap2 did not answer: timeout"]
    assert "warning: schedd ap2 did not answer" in cs.render(_status(problems=["schedd ap2 did not answer: x"]))


def test_an_empty_pool_renders_without_guessing():
    text = cs.render(cs.PoolStatus(pool="", via=cs.VIA_TOOLS, slots=[], jobs=[]))
    assert "execute nodes: none in the collector" in text and "jobs asking for an image: none queued" in text
    assert "(configured collector)" in text


def test_odd_values_in_ads_are_not_taken_for_levels_or_pins():
    [s] = cs.slots([{"Name": "x", "DepotDeliveryLevel": True, "DepotDeliveryImages": None}])
    assert s.level is None and s.images == ()
    [j] = cs.jobs([{"ClusterId": 1, "JobStatus": 1, "JuliaImage": "stable", "JuliaImageId": None}], "ap")
    assert j.image_id == "" and "NOT PINNED" in cs.render(cs.PoolStatus("", cs.VIA_TOOLS, [], [j]))


@pytest.mark.parametrize("pool", ["cm.example.org", "cm.example.org:9618", "127.0.0.1:9618", "[::1]:9618", "cm"])
def test_pool_addresses_that_are_accepted(pool):
    assert cs.check_pool(pool) == pool


# -- the command: one line and the documented code --------------------------------------
def _dd(*args, env=None):
    return run([DD, *args], env=env)


def _one_line(p, kind: str) -> str:
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"depotdelivery: {kind}: "), p.stderr
    assert "Traceback" not in p.stderr
    return lines[0]


@pytest.mark.parametrize("args,words", [
    (["status", "--condor", "--pool", "cm:notaport"], "is not HOST[:PORT]"),
    (["status", "--condor", "--pool", "cm:70000"], "is not HOST[:PORT]"),
    (["status", "--condor", "--pool", "bad host"], "is not HOST[:PORT]"),
    (["status", "--condor", "--slurm"], "--slurm cannot go with --condor"),
    (["status", "--condor", "--store", "/srv/depots"], "--store cannot go with --condor"),
    (["status", "--pool", "cm:9618"], "--pool goes with --condor"),
    (["status"], "--slurm (or --condor)"),
])
def test_bad_command_lines_are_usage_errors(args, words):
    p = _dd(*args)
    assert p.returncode == 64 and words in _one_line(p, "usage")


def _no_tools_path(tmp_path) -> str:
    """A PATH on which no condor_* tool exists (the host has none anyway;
    this keeps the test true on a machine that has them)."""
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    return str(d)


def test_neither_bindings_nor_tools_is_unavailable_naming_what_to_install(tmp_path):
    p = _dd("status", "--condor", "--pool", "127.0.0.1:9618",
            env={cs.NO_BINDINGS_ENV: "1", "PATH": _no_tools_path(tmp_path)})
    line = _one_line(p, "unavailable")
    assert p.returncode == 69 and p.stdout == ""
    assert "pip install 'depotdelivery[htcondor]'" in line and "condor_status" in line


def test_a_collector_that_does_not_answer_is_unavailable():
    # Port 1 on loopback: refused at once, no pool needed.
    p = _dd("status", "--condor", "--pool", "127.0.0.1:1", "--json")
    assert p.returncode == 69 and "127.0.0.1:1 did not answer" in _one_line(p, "unavailable") and p.stdout == ""


def test_no_collector_configured_is_a_configuration_error(tmp_path):
    empty = tmp_path / "condor_config"
    empty.write_text("# nothing: no COLLECTOR_HOST\n")
    p = _dd("status", "--condor", env={"CONDOR_CONFIG": str(empty)})
    assert p.returncode == 78 and "pass --pool HOST[:PORT]" in _one_line(p, "config")


# -- the command-line tools, when the bindings are missing ------------------------------
def _tool(d, name: str, script: str) -> None:
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\necho \"$0 $*\" >> \"$(dirname \"$0\")/calls\"\n" + script)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _stand_ins(tmp_path, *, schedds: list[str], jobs_text: str, failing_schedd: str = "") -> str:
    d = tmp_path / "tools"
    d.mkdir()
    (d / "slots.json").write_text(json.dumps(SLOT_ADS))
    # The first schedd with its address (asked by it), the others by name only.
    (d / "schedds.json").write_text(json.dumps([{"Name": n, **({"MyAddress": f"<127.0.0.1:9618?sock={n}>"} if not i else {})}
                                                for i, n in enumerate(schedds)]))
    (d / "jobs.json").write_text(jobs_text)
    _tool(str(d), "condor_status", 'case "$*" in *-schedd*) cat "$(dirname "$0")/schedds.json";;\n'
                                   '  *) cat "$(dirname "$0")/slots.json";; esac\n')
    fail = (f'case "$*" in *"-name {failing_schedd} "*) echo "Failed to connect to schedd" >&2; exit 1;; esac\n'
            if failing_schedd else "")
    _tool(str(d), "condor_q", fail + 'cat "$(dirname "$0")/jobs.json"\n')
    return str(d)


def test_without_bindings_the_tools_stand_in_and_stderr_says_so(tmp_path):
    tools = _stand_ins(tmp_path, schedds=["ap1", "ap2"], jobs_text=json.dumps(JOB_ADS[:1]), failing_schedd="ap2")
    p = _dd("status", "--condor", "--json", "--pool", "cm.example.org",
            env={cs.NO_BINDINGS_ENV: "1", "PATH": f"{tools}:/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    [note] = p.stderr.strip().splitlines()
    assert note.startswith("depotdelivery: note: ") and "using condor_status and condor_q instead" in note
    doc = json.loads(p.stdout)
    assert doc["via"] == cs.VIA_TOOLS and len(doc["slots"]) == 5 and len(doc["nodes"]) == 4
    assert [(j["id"], j["schedd"], j["image"]) for j in doc["jobs"]] == [("12.0", "ap1", A)]
    assert doc["problems"] == ["schedd ap2 did not answer: condor_q failed: Failed to connect to schedd"]
    calls = open(os.path.join(tools, "calls")).read()
    # Every tool asked the named collector, and condor_q every user's jobs.
    status_calls, q_calls = [[c for c in calls.splitlines() if f"/{tool} " in c] for tool in ("condor_status", "condor_q")]
    assert len(status_calls) == 2 and all("-pool cm.example.org" in c for c in status_calls)
    assert len(q_calls) == 2 and all("-allusers" in c for c in q_calls)
    assert "-addr <127.0.0.1:9618?sock=ap1>" in q_calls[0] and "-pool cm.example.org -name ap2" in q_calls[1]


def test_tools_that_print_nothing_mean_no_ads(tmp_path):
    tools = _stand_ins(tmp_path, schedds=["ap1"], jobs_text="")
    p = _dd("status", "--condor", env={cs.NO_BINDINGS_ENV: "1", "PATH": f"{tools}:/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    assert "jobs asking for an image: none queued" in p.stdout and "  node-v3 " in p.stdout


def test_a_tool_that_fails_for_the_collector_is_unavailable(tmp_path):
    d = tmp_path / "tools"
    d.mkdir()
    _tool(str(d), "condor_status", 'echo "Error: communication error" >&2\nexit 1\n')
    _tool(str(d), "condor_q", "exit 0\n")
    p = _dd("status", "--condor", env={cs.NO_BINDINGS_ENV: "1", "PATH": f"{d}:/usr/bin:/bin"})
    assert p.returncode == 69 and "communication error" in _one_line(p, "unavailable")
