"""The Slurm index (what job_submit.lua reads) and the status view, without
a cluster: the text round-trips, damage is detected rather than half-read,
a node runs the highest variant at or below its CPU level, and the rules
job_submit.lua must repeat in Lua (level ranks, names) are the Python ones."""

import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depotdelivery.levels import LEVEL_RANK
from depotdelivery.model import is_channel_name
from depotdelivery.submit import slurm_index, slurm_status
from depotdelivery.submit.slurm_index import ChannelEntry, ImageEntry, Index

with open(os.path.join(os.path.dirname(slurm_index.__file__), "job_submit.lua"), encoding="utf-8") as _f:
    JOB_SUBMIT_LUA = _f.read()

A, B = "a" * 64, "b" * 64


def sample() -> Index:
    idx = Index()
    idx.images[A] = ImageEntry(A, ("x86-64", "x86-64-v3"), 100, "hep")
    idx.images[B] = ImageEntry(B, ("x86-64-v3",), 200, "tiny")
    idx.channels["stable"] = ChannelEntry("stable", A, ("x86-64", "x86-64-v3"), 2 ** 31)
    idx.names["tiny"] = B
    idx.broken["bad"] = "channel bad version 2: not signed by a key this site trusts"
    return idx


def test_render_and_parse_round_trip():
    text = slurm_index.render(sample(), source="/store")
    back = slurm_index.parse(text)
    assert back.channels == sample().channels and back.names == {"tiny": B}
    assert back.broken == sample().broken
    assert {i: e.levels for i, e in back.images.items()} == {A: ("x86-64", "x86-64-v3"), B: ("x86-64-v3",)}
    assert slurm_index.needed_feature(back.images[B].levels) == "x86-64-v3"


@pytest.mark.parametrize("damage", [
    lambda t: t[: t.rindex("end ")],  # truncated
    lambda t: t.replace("channel stable", "channel stable extra"),
    lambda t: t.replace("x86-64-v3", "x86-64-v9", 1),
    lambda t: "hello\n" + t,
    lambda t: t + "channel late " + A + " x86-64 1\n",
])
def test_any_damage_is_an_error_not_half_an_index(damage):
    with pytest.raises(ValueError):
        slurm_index.parse(damage(slurm_index.render(sample(), source="/store")))


def test_write_leaves_an_unchanged_index_alone(tmp_path):
    path = str(tmp_path / "index.txt")
    assert slurm_index.write(path, slurm_index.render(sample(), source="/store"))
    # Only the comment (its time stamp) differs: not rewritten.
    assert not slurm_index.write(path, slurm_index.render(sample(), source="/elsewhere"))


SINFO = {"nodes": [
    {"name": "n1", "features": "x86-64,x86-64-v2,x86-64-v3", "active_features": "x86-64,x86-64-v2,x86-64-v3",
     "state": "idle", "state_flags": []},
    {"name": "n2", "features": "x86-64,bigmem", "active_features": "x86-64,bigmem", "state": "idle",
     "state_flags": ["DRAIN"], "reason": "depotdelivery: unavailable: store gone"},
    {"name": "n3", "features": "", "active_features": "", "state": "down", "state_flags": []},
]}


def test_status_matrix_from_sinfo_json():
    nodes = slurm_status.nodes(SINFO)
    assert [(n.name, n.level, n.state) for n in nodes] == [
        ("n1", "x86-64-v3", "idle"), ("n2", "x86-64", "idle+drain"), ("n3", "", "down")]
    idx = sample()
    idx.channels["tiny"] = ChannelEntry("tiny", B, ("x86-64-v3",), 2 ** 31)
    assert slurm_status.matrix(idx, nodes) == {"stable": {"n1": "x86-64-v3", "n2": "x86-64", "n3": ""},
                                               "tiny": {"n1": "x86-64-v3", "n2": "", "n3": ""}}
    text = slurm_status.render(idx, nodes, [])
    assert "store gone" in text and "runs on 2 node(s)" in text


def test_status_jobs_from_squeue_json():
    doc = {"jobs": [{"job_id": 7, "user_name": "u", "job_state": "PENDING", "nodes": "",
                     "comment": f"julia-image=stable julia-image-id={A} julia-image-level=x86-64 note"},
                    {"job_id": 8, "comment": "not ours"}]}
    [j] = slurm_status.jobs(doc)
    assert (j.job_id, j.ref, j.image_id) == (7, "stable", A)


# -- job_submit.lua's copies of Python rules -------------------------------------
def test_lua_level_ranks_are_the_python_table():
    table = re.search(r"^local LEVEL_RANK = \{(.*)\}$", JOB_SUBMIT_LUA, re.M)
    assert table, "job_submit.lua has no one-line LEVEL_RANK table"
    lua = {name: int(rank) for name, rank in re.findall(r'\["([^"]+)"\]\s*=\s*(\d+)', table.group(1))}
    assert lua == LEVEL_RANK


def _lua_is_name():
    """job_submit.lua's is_name, as a Python function: its length limit and
    its Lua pattern translated (the classes it uses; C locale)."""
    m = re.search(r'local function is_name\(s\)\s*return s ~= nil and #s <= (\d+) and s:match\("([^"]+)"\) ~= nil',
                  JOB_SUBMIT_LUA)
    assert m, "job_submit.lua's is_name has changed shape: update this test"
    limit, pattern = int(m.group(1)), m.group(2)
    assert pattern.startswith("^") and pattern.endswith("$")
    classes = {"w": "A-Za-z0-9", "d": "0-9", "a": "A-Za-z"}
    out, in_class, i = [], False, 1
    while i < len(pattern) - 1:
        c = pattern[i]
        if c == "%":
            name = pattern[i + 1]
            cls = classes.get(name)
            out.append(re.escape(name) if cls is None else cls if in_class else f"[{cls}]")
            i += 2
            continue
        in_class = {"[": True, "]": False}.get(c, in_class)
        out.append(c)
        i += 1
    regex = re.compile("".join(out))
    return lambda s: len(s.encode()) <= limit and regex.fullmatch(s) is not None


LUA_IS_NAME = _lua_is_name()


@pytest.mark.parametrize("name", ["stable", "a", "v1.2_rc-3", "x" * 64, "x" * 65, ".hidden", "-x", "_x",
                                  "a b", "stable\n", "", "caf\u00e9", "a/b"])
def test_lua_names_are_the_python_channel_names(name):
    assert LUA_IS_NAME(name) == is_channel_name(name)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="aZ09._-/ \n\u00e9", max_size=70))
def test_lua_names_are_the_python_channel_names_fuzzed(name):
    assert LUA_IS_NAME(name) == is_channel_name(name)
