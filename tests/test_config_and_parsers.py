"""Parsers of outside input: the site config, Project/Manifest files, job
ads and the fast path's reading of the config; each bad input is one clear
error, never a traceback."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depotdelivery.builder.project import read_project
from depotdelivery.config import load_config, parse_config, parse_size, render_site_config
from depotdelivery.defaults import DEFAULT_CACHE_DIR
from depotdelivery.errors import ConfigError, UsageError
from depotdelivery.wrapper import fastpath

EXAMPLE_SITE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "site-configs", "site.toml")


def test_the_documented_example_site_config_parses():
    cfg = load_config(EXAMPLE_SITE)
    assert cfg.stores == ("/cvmfs/julia.example.org/depots",)
    assert cfg.max_level.name == "x86-64-v3"
    assert cfg.trusted_keys[0].endswith("site-configs/keys/ci.pub")
    assert cfg.julia_env["JULIA_PKG_SERVER"] == ""
    # The fast path finds the same cache folder without a TOML parser.
    assert fastpath.config_cache_dir(EXAMPLE_SITE) == cfg.cache_dir


@pytest.mark.parametrize("text,words", [
    ("stores = [", "not valid TOML"),
    ("stores = 'x'", "stores must be a list"),
    ("max_level = 'x86-64-v9'", "unknown CPU level"),
    ("bogus = 1", "unknown setting"),
    ("cache_max_bytes = 'lots'", "bad size"),
    ("[julia]\nenv = 3", "[julia.env]"),
])
def test_bad_site_configs_are_one_line_config_errors(text, words):
    with pytest.raises(ConfigError) as e:
        parse_config(text, "/etc/depotdelivery/site.toml")
    assert words in str(e.value) and "\n" not in str(e.value)


def test_missing_config_named_by_the_environment_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DEPOTDELIVERY_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="not found"):
        load_config()


def test_the_config_and_the_fast_path_share_their_defaults():
    from depotdelivery import config, defaults
    assert config.config_path({}) == defaults.DEFAULT_CONFIG == fastpath.DEFAULT_CONFIG
    assert config.SiteConfig(path="x").cache_dir == defaults.DEFAULT_CACHE_DIR == fastpath.DEFAULT_CACHE_DIR
    assert parse_config("", "x").cache_dir == defaults.DEFAULT_CACHE_DIR


def test_the_fast_path_imports_only_built_in_modules_and_its_own():
    import subprocess
    import sys
    code = ("import sys; before = set(sys.modules); import depotdelivery.wrapper.fastpath; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    # cwd /tmp: the installed package, not the checkout's folders.
    new = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd="/tmp").stdout.split()
    ours = {"depotdelivery", "depotdelivery.cpuinfo", "depotdelivery.defaults", "depotdelivery.wrapper",
            "depotdelivery.wrapper.fastpath", "depotdelivery.wrapper.plan", "depotdelivery.wrapper.seennames",
            "depotdelivery.wrapper.timing"}
    assert ours <= set(new)
    others = set(new) - ours
    # __future__: the annotations switch, a few lines of Python.
    assert all(m in sys.builtin_module_names or m in {"zlib", "marshal", "time", "__future__"} for m in others), others


path_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(st.lists(path_text, max_size=3), st.lists(path_text, max_size=3), st.one_of(st.just(""), path_text),
       st.sampled_from(["", "x86-64", "x86-64-v3"]), st.lists(st.text("0123456789abcdef", max_size=8), max_size=2),
       st.dictionaries(path_text, path_text, max_size=3))
def test_rendered_site_configs_read_back_the_same(tmp_path_factory, stores, keys, cache_dir, max_level, revoked,
                                                  env):
    keys = ["/k/" + k for k in keys]  # absolute: relative ones are resolved against the config's folder
    text = render_site_config(stores=stores, trusted_keys=keys, cache_dir=cache_dir, max_level=max_level,
                              revoked_keys=revoked, julia="/opt/julia/bin/julia", julia_env=env)
    path = str(tmp_path_factory.mktemp("site") / "site.toml")
    cfg = parse_config(text, path)
    assert (cfg.stores, cfg.trusted_keys, cfg.revoked_keys) == (tuple(stores), tuple(keys), frozenset(revoked))
    assert cfg.cache_dir == (cache_dir or DEFAULT_CACHE_DIR) and cfg.julia == "/opt/julia/bin/julia"
    assert (cfg.max_level.name if cfg.max_level else "") == max_level and dict(cfg.julia_env) == env
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    if '"' not in cache_dir and "\\" not in cache_dir and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in cache_dir):
        assert fastpath.config_cache_dir(path) == cfg.cache_dir  # a plain string: the fast path reads it too


def test_sizes():
    assert parse_size("20G") == 20 << 30 and parse_size("512M") == 512 << 20 and parse_size(10) == 10


@pytest.mark.parametrize("line,expected", [
    ('cache_dir = "/var/cache/dd"', "/var/cache/dd"),
    ("cache_dir = '/x'", None),  # unusual: the full wrapper decides
    ('cache_dir = "/a\\"b"', None),
    ('# nothing', fastpath.DEFAULT_CACHE_DIR),
])
def test_fast_path_reads_only_plain_cache_dir_lines(tmp_path, line, expected):
    p = tmp_path / "site.toml"
    p.write_text(line + "\n[julia]\ncache_dir = \"/not/top/level\"\n")
    assert fastpath.config_cache_dir(str(p)) == expected


@pytest.mark.parametrize("text", ['"cache_dir" = "/x"\n', 'default_channel = """\n[x\n"""\ncache_dir = "/x"\n',
                                  "'cache_dir' = '/x'\n"])
def test_fast_path_never_names_another_cache_dir_than_the_config(tmp_path, text):
    p = tmp_path / "site.toml"
    p.write_text(text)
    assert fastpath.config_cache_dir(str(p)) in (None, parse_config(text, str(p)).cache_dir)


def test_job_ad_pin_must_be_a_plain_image_id(tmp_path):
    ad = tmp_path / "ad"
    ad.write_text('JuliaImage = "stable"\nJuliaImageId = "' + "ab" * 32 + '"\n')
    assert fastpath.condor_ad_pin(str(ad)) == "ab" * 32
    ad.write_text('JuliaImageId = "../../etc"\n')
    assert fastpath.condor_ad_pin(str(ad)) == ""
    assert fastpath.job_ref("", "", {"_CONDOR_JOB_AD": str(ad), "DEPOTDELIVERY_CHANNEL": "dev"}) == ("dev", "")
    assert fastpath.job_ref("", "", {"DEPOTDELIVERY_PIN": "cd" * 32, "DEPOTDELIVERY_CHANNEL": "dev"}) == ("", "cd" * 32)


def test_job_ad_names_an_image_or_not(tmp_path):
    ad = tmp_path / "ad"
    for text, wants in (('Owner = "u"\nJuliaImage = "stable"\n', True), ('juliaimageid = "x"\n', True),
                        ('Owner = "u"\nCmd = "/bin/true"\n', False), ('MyJuliaImage = "x"\n', False)):
        ad.write_text(text)
        assert fastpath.condor_job_wants_image({"_CONDOR_JOB_AD": str(ad)}) is wants, text
    assert fastpath.condor_job_wants_image({}) is None
    assert fastpath.condor_job_wants_image({"_CONDOR_JOB_AD": str(tmp_path / "missing")}) is None


def test_project_errors_name_the_file(tmp_path):
    with pytest.raises(UsageError, match="not a folder"):
        read_project(str(tmp_path / "missing"))
    (tmp_path / "Project.toml").write_text("[deps]\nA = \"u\"\n")
    with pytest.raises(UsageError, match="Manifest.toml not found"):
        read_project(str(tmp_path))
    (tmp_path / "Manifest.toml").write_text("[A]\nuuid = 1\n")
    with pytest.raises(UsageError, match="Manifest.toml"):
        read_project(str(tmp_path))


def test_both_manifest_formats_are_read(tmp_path):
    (tmp_path / "Project.toml").write_text('[deps]\nA = "u1"\n')
    (tmp_path / "Manifest.toml").write_text('manifest_format = "2.0"\n[[deps.A]]\nuuid = "u1"\n'
                                            'version = "1.0.0"\ngit-tree-sha1 = "abc"\n')
    p = read_project(str(tmp_path))
    assert p.entry("A").is_registered and p.entry("A").version == "1.0.0"
