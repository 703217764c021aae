"""Every parser of outside input, fuzzed: nothing escapes but the project's
own one-line errors."""

import os
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from depotdelivery import signing
from depotdelivery.config import parse_config
from depotdelivery.detect import decide
from datetime import datetime, timezone

from depotdelivery.errors import ConfigError, DepotDeliveryError, ImageInvalid, RunElsewhere, UsageError
from depotdelivery.levels import parse_level
from depotdelivery.model import parse_manifest
from depotdelivery.trust import TrustAnchors, verify_channel_record, verify_manifest
from depotdelivery.submit.classad import parse_ad, string_value
from depotdelivery.wrapper import fastpath
from depotdelivery.wrapper.validate import parse as parse_fingerprint

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(allow_nan=False),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=5),
    max_leaves=20)


def only(error, fn, *args, **kw):
    """`fn` either succeeds or raises exactly `error` (the one class whose
    exit code fits that input), with a one-line message."""
    try:
        fn(*args, **kw)
    except DepotDeliveryError as e:
        assert type(e) is error, f"{type(e).__name__} (exit {e.exit_code}), want {error.__name__}: {e}"
        assert "\n" not in e.message
    except Exception as e:  # pragma: no cover - the failure being looked for
        pytest.fail(f"{type(e).__name__}: {e}")


@FUZZ
@given(st.binary(max_size=400) | json_like.map(lambda o: __import__("json").dumps(o).encode()))
def test_manifest_parser(data):
    only(ImageInvalid, parse_manifest, data)
    only(ImageInvalid, parse_manifest, data, expected_id="0" * 64)
    only(ImageInvalid, verify_manifest, data, b'{"signatures":[]}', ANCHORS, image_id="0" * 64)


KEY = signing.generate()
ANCHORS = TrustAnchors.from_keys([KEY.public()])


@FUZZ
@given(json_like)
def test_channel_record_parser(obj):
    import json
    from depotdelivery.model import canonical_bytes
    try:
        signed = canonical_bytes(obj)
    except TypeError:
        signed = json.dumps(obj).encode()
    now = datetime(2026, 11, 30, tzinfo=timezone.utc)
    for data in (signing.envelope(signed, [KEY]), signed):
        only(ImageInvalid, verify_channel_record, data, ANCHORS, name="stable", version=1, now=now,
             highest_seen=0)


@FUZZ
@given(st.text(max_size=300))
def test_site_config_parser(text):
    only(ConfigError, parse_config, text, "/etc/depotdelivery/site.toml")


@FUZZ
@given(st.lists(st.sampled_from(["flags\t\t:", "processor\t: 0", "sse4_2", "avx2", "avx512f", "cx16", "popcnt",
                                 "ssse3", "lahf_lm", "\n", "fma", "bmi2", ":", "abm", "movbe"]), max_size=40),
       st.sampled_from(["", "x86-64", "x86-64-v4", "v9", "3", "haswell"]))
def test_cpuinfo_parser(parts, override):
    # A level name that does not exist is the user's mistake (64); a CPU
    # without the flags a level needs, or an override above the CPU, is
    # this node's (75).
    try:
        parse_level(override) if override else None
        expected = RunElsewhere
    except UsageError:
        expected = UsageError
    only(expected, decide, " ".join(parts), "fuzz.txt", override=override)


@FUZZ
@given(st.text(max_size=300))
def test_job_ad_parser(text):
    ad = parse_ad(text)
    for v in ad.values():
        string_value(v)


@FUZZ
@given(st.binary(max_size=300))
def test_fast_path_job_ad_and_config_readers(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("fz")
    p = os.path.join(d, "f")
    with open(p, "wb") as f:
        f.write(data)
    pin = fastpath.condor_ad_pin(p)
    assert pin == "" or len(pin) == 64
    fastpath.config_cache_dir(p)


@FUZZ
@given(st.binary(max_size=400) | json_like.map(lambda o: __import__("json").dumps(o).encode()))
def test_fingerprint_parser(data):
    # A fingerprint file is what the user passes to `validate`: bad is 64.
    only(UsageError, parse_fingerprint, data, source="fuzz.json")


@FUZZ
@given(st.text(alphabet=string.printable, max_size=200), st.text(alphabet=string.printable, max_size=200))
def test_project_and_manifest_parser(tmp_path_factory, project, manifest):
    from depotdelivery.builder.project import read_project
    d = tmp_path_factory.mktemp("proj")
    (d / "Project.toml").write_text(project)
    (d / "Manifest.toml").write_text(manifest)
    only(UsageError, read_project, str(d))
