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
from depotdelivery.model import is_image_id, parse_manifest
from depotdelivery.trust import TrustAnchors, verify_channel_record, verify_manifest
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


PIN = "0123456789abcdef" * 4
ad_name = st.sampled_from([b"JuliaImageId", b"juliaimageid", b"  JULIAIMAGEID\t", b"JuliaImage", b"Owner",
                           b"MyJuliaImageId", b"JuliaImageIdX"])
ad_value = st.one_of(
    st.just(b'"' + PIN.encode() + b'"'),
    st.text("0123456789abcdefABCDEF", min_size=63, max_size=65).map(lambda h: b'"' + h.encode() + b'"'),
    st.binary(max_size=70).map(lambda b: b.replace(b"\n", b"")))
ad_line = st.one_of(
    st.builds(lambda n, a, v, b: n + a + b"=" + b + v, ad_name, st.sampled_from([b"", b" "]), ad_value,
              st.sampled_from([b"", b" ", b"\t"])),
    st.builds(lambda n, v: n + v, ad_name, ad_value),  # no '='
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")))


def _write(tmp_path_factory, data: bytes) -> str:
    p = os.path.join(tmp_path_factory.mktemp("fz"), "f")
    with open(p, "wb") as f:
        f.write(data)
    return p


def _names(data: bytes) -> list[bytes]:
    return [line.partition(b"=")[0].strip().lower() for line in data.split(b"\n")]


@FUZZ
@given(st.lists(ad_line, max_size=8), st.booleans())
def test_fast_path_job_ad_reader(tmp_path_factory, lines, pin_first):
    """The wrapper's one job-ad reader: only a plain quoted 64-hex-digit
    JuliaImageId pins, the first JuliaImageId line decides, and an ad names
    an image exactly when it has a JuliaImage or JuliaImageId attribute."""
    if pin_first:
        lines = [b'JuliaImageId = "' + PIN.encode() + b'"'] + lines
    data = b"\n".join(lines)
    p = _write(tmp_path_factory, data)
    pin = fastpath.condor_ad_pin(p)
    if pin_first:
        assert pin == PIN
    assert pin == "" or (is_image_id(pin) and b'"' + pin.encode() + b'"' in data)
    first = next((line for line in data.split(b"\n")
                  if b"=" in line and line.partition(b"=")[0].strip().lower() == b"juliaimageid"), None)
    if first is None or not is_image_id(first.partition(b"=")[2].strip()[1:-1].decode("latin-1")) \
            or first.partition(b"=")[2].strip()[:1] != b'"' or first.partition(b"=")[2].strip()[-1:] != b'"':
        assert pin == ""
    else:
        assert pin == first.partition(b"=")[2].strip()[1:-1].decode()
    wants = fastpath.condor_job_wants_image({"_CONDOR_JOB_AD": p})
    assert wants is (b"juliaimage" in _names(data) or b"juliaimageid" in _names(data))


toml_line = st.one_of(
    st.sampled_from(['cache_dir = "/var/cache/dd"', "cache_dir = '/x'", 'cache_dir="/y"', 'cache_dir = "/a\\"b"',
                     'cache_dir = "/z" # note', 'stores = ["/s"]', "[julia]", 'executable = "julia"',
                     'cache_dir = ""', "# comment", "", "max_level = 'x86-64-v3'", 'cache_dir_x = "/q"']),
    st.text(string.printable, max_size=40).map(lambda t: t.replace("\n", " ")))


@FUZZ
@given(st.lists(toml_line, max_size=6))
def test_fast_path_config_reader_agrees_with_the_config_parser(tmp_path_factory, lines):
    """Whenever the fast path names a cache folder other than the default,
    it is the one the full config parser reads (else plans would be looked
    up where the full wrapper never writes them)."""
    text = "\n".join(lines)
    p = _write(tmp_path_factory, text.encode())
    fast = fastpath.config_cache_dir(p)
    try:
        full = parse_config(text, p).cache_dir
    except ConfigError:
        return
    assert fast is None or fast == full or (fast == fastpath.DEFAULT_CACHE_DIR and "cache_dir" not in text)


@FUZZ
@given(st.binary(max_size=300))
def test_fast_path_readers_take_any_bytes(tmp_path_factory, data):
    p = _write(tmp_path_factory, data)
    pin = fastpath.condor_ad_pin(p)
    assert pin == "" or is_image_id(pin)
    fast = fastpath.config_cache_dir(p)
    assert fast is None or isinstance(fast, str)


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
