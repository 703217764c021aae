"""CPU levels: recorded cpuinfo files select the right level (the expected
level is part of each fixture's file name), caps and overrides behave."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depotdelivery.cpuinfo import read_first_cpu
from depotdelivery.detect import decide, detect
from depotdelivery.errors import RunElsewhere, UsageError
from depotdelivery.levels import LEVELS, cpu_flags, level_of, parse_level, parse_levels, why_not

CPUINFO_DIR = os.path.join(os.path.dirname(__file__), "cpuinfo")
FIXTURES = sorted(f for f in os.listdir(CPUINFO_DIR) if f.endswith(".txt"))


def expected_level(filename):
    return filename[: -len(".txt")].rsplit(".", 1)[1]


def read(name):
    with open(os.path.join(CPUINFO_DIR, name)) as f:
        return f.read()


def test_fixture_names_carry_a_level_and_cover_every_level_for_both_vendors():
    for f in FIXTURES:
        parse_level(expected_level(f))
    for lvl in LEVELS:
        vendors = {f.split("-")[0] if not f.startswith("recorded") else f.split("-")[1]
                   for f in FIXTURES if expected_level(f) == lvl.name}
        assert {"intel", "amd"} <= vendors, f"{lvl}: need an Intel and an AMD fixture"


@pytest.mark.parametrize("name", FIXTURES)
def test_recorded_cpu_gets_its_level(name):
    assert decide(read(name), name).level.name == expected_level(name)


def test_cap_lowers_the_level_and_says_why():
    d = decide(read("intel-skylake-gold-6148.x86-64-v4.txt"), "x", cap=parse_level("x86-64-v3"))
    assert d.level.name == "x86-64-v3" and d.cpu_level.name == "x86-64-v4"
    assert "caps" in d.reason


def test_override_within_the_cpu_is_used():
    d = decide(read("amd-zen2-epyc-7702.x86-64-v3.txt"), "x", override="x86-64-v2")
    assert d.level.name == "x86-64-v2"


def test_override_the_cpu_lacks_is_refused_naming_the_missing_features():
    with pytest.raises(RunElsewhere) as e:
        decide(read("intel-nehalem-x5550.x86-64-v2.txt"), "x", override="x86-64-v3")
    assert "avx2" in str(e.value) and e.value.exit_code == 75


def test_unknown_override_is_a_usage_error():
    with pytest.raises(UsageError):
        decide(read("intel-nehalem-x5550.x86-64-v2.txt"), "x", override="x86-64-v9")


def test_cpuinfo_without_flags_cannot_run_anything():
    with pytest.raises(RunElsewhere):
        decide("processor : 0\nvendor_id : ARM\n", "arm.txt")


def test_replay_through_the_environment(monkeypatch):
    monkeypatch.setenv("DEPOTDELIVERY_CPUINFO", os.path.join(CPUINFO_DIR, "intel-core2-merom.x86-64.txt"))
    monkeypatch.delenv("DEPOTDELIVERY_LEVEL", raising=False)
    assert detect().level.name == "x86-64"


def test_level_names_and_aliases():
    assert parse_level("x86_64_v3") == parse_level("x86_64-v3") == parse_level("3") == parse_level("x86-64-v3")
    assert [l.name for l in parse_levels("x86-64-v3,x86-64,x86-64-v3")] == ["x86-64", "x86-64-v3"]
    with pytest.raises(UsageError):
        parse_levels("haswell")


def test_why_not_names_missing_flags():
    flags = cpu_flags(read("intel-nehalem-x5550.x86-64-v2.txt"))
    assert level_of(flags).name == "x86-64-v2"
    assert "avx2" in why_not(parse_level("x86-64-v3"), flags)
    assert why_not(parse_level("x86-64-v2"), flags) == ""


# -- reading /proc/cpuinfo ------------------------------------------------------------------------

def big_node(name, n):
    """A recorded processor repeated as on a node with `n` hardware threads."""
    record = read(name).split("\n\n")[0].strip("\n") + "\n\n"
    return "".join(record.replace("processor\t: 0", f"processor\t: {i}", 1) for i in range(n))


def test_only_the_first_processor_is_read(tmp_path):
    text = big_node("amd-zen4-epyc-9654.x86-64-v4.txt", 384)  # 2 x 96 cores x 2 threads
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    head = read_first_cpu(str(path))
    assert len(head) <= 4096 < len(text) // 40  # one read of the kernel's, not 43
    assert cpu_flags(head.decode()) == cpu_flags(text) and decide(head.decode(), "x").level.name == "x86-64-v4"


lines = st.lists(st.one_of(
    st.sampled_from(["flags\t\t: sse2 avx2", "  flags : lm cx16", "flagsx : avx512f", "bugs : x",
                     "processor\t: 1", "", "flags", "\r", "flags\r: avx", "vmx flags\t: ept"]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40).filter(lambda t: "\n" not in t),
    st.text("flags: \t\r\x0b\x1c", max_size=12)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(lines, st.integers(0, 5000))
def test_reading_the_start_gives_the_flags_of_the_whole_file(tmp_path_factory, body, pad):
    text = "x" * pad + "\n" + "\n".join(body)
    path = tmp_path_factory.mktemp("cpuinfo") / "cpuinfo"
    path.write_bytes(text.encode())
    head = read_first_cpu(str(path))
    assert text.encode().startswith(head)
    assert cpu_flags(head.decode("utf-8", "replace")) == cpu_flags(text)
