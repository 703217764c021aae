"""Which Julia runs, and what changes with its version: one search order for
every command that runs Julia, one table of version rules, and a Julia that
crashes is reported as a crash.  No real Julia runs here: fake "julia"
scripts stand in for it."""

import json
import signal

import pytest

from conftest import DD, run
from depotdelivery.builder.pipeline import julia_failure
from depotdelivery.config import SiteConfig, parse_config
from depotdelivery.errors import ConfigError
from depotdelivery.julia import (JuliaInstall, JuliaVersion, checkout_from_direct_url, choose_julia,
                                 cpu_target, crash_report, exit_description, find_julia, rules_for,
                                 source_checkout)
from depotdelivery.levels import LEVELS, parse_level

V1, V2, V3, V4 = LEVELS

# What Julia 1.5.3 printed when bookworm's libunwind made it crash while
# adding a registry: a success line, then its own crash report.
CRASH_LOG = """\
     Added registry `LocalRegistry` to `/srv/depots/pool/registries/LocalRegistry`

signal (11): Segmentation fault
in expression starting at /x/build/julia/instantiate.jl:17
_ULx86_64_step at /lib/x86_64-linux-gnu/libunwind.so.8 (unknown line)
Allocations: 3018513 (Pool: 3017504; Big: 1009); GC: 3
"""


def fake_julia(path, body):
    """An executable shell script standing in for Julia."""
    path.write_text("#!/bin/sh\nulimit -c 0\n" + body)
    path.chmod(0o755)
    return str(path)


# -- the search order ------------------------------------------------------------
def test_the_flag_wins_over_everything():
    j = choose_julia("/opt/j/bin/julia", {"DEPOTDELIVERY_JULIA": "/env/julia"}, config_executable="/cfg/julia",
                     checkout_julia="/checkout/julia")
    assert (j.executable, j.source) == ("/opt/j/bin/julia", "--julia")


def test_then_the_environment_variable():
    j = choose_julia("", {"DEPOTDELIVERY_JULIA": "/env/julia"}, config_executable="/cfg/julia",
                     checkout_julia="/checkout/julia")
    assert (j.executable, j.source) == ("/env/julia", "DEPOTDELIVERY_JULIA")


def test_then_the_site_config_with_its_environment():
    j = choose_julia("", {}, config_executable="/cfg/julia", config_env={"LD_LIBRARY_PATH": "/opt/lib"},
                     config_path="/etc/depotdelivery/site.toml", checkout_julia="/checkout/julia")
    assert j.executable == "/cfg/julia" and dict(j.env) == {"LD_LIBRARY_PATH": "/opt/lib"}
    assert "site.toml" in j.source


def test_then_what_make_installed_then_path():
    j = choose_julia("", {}, checkout_julia="/checkout/.deps/julia/bin/julia")
    assert j.executable == "/checkout/.deps/julia/bin/julia" and "make" in j.source
    j = choose_julia("", {})
    assert (j.executable, j.source) == ("julia", "julia on PATH")


def test_a_config_without_an_executable_does_not_choose():
    cfg = parse_config('[julia.env]\nJULIA_PKG_SERVER = ""\n', "/etc/depotdelivery/site.toml")
    assert cfg.julia_executable == "" and cfg.julia == "julia"
    j = find_julia("", environ={}, config=cfg, checkout="/nonexistent")
    assert j.source == "julia on PATH"


def test_the_checkout_julia_counts_only_if_it_is_installed(tmp_path):
    cfg = SiteConfig(path="/etc/depotdelivery/site.toml")
    assert find_julia("", environ={}, config=cfg, checkout=str(tmp_path)).source == "julia on PATH"
    bindir = tmp_path / ".deps" / "julia" / "bin"
    bindir.mkdir(parents=True)
    exe = fake_julia(bindir / "julia", "")
    assert find_julia("", environ={}, config=cfg, checkout=str(tmp_path)).executable == exe


def test_a_broken_site_config_does_not_stop_an_explicit_choice(monkeypatch, tmp_path):
    monkeypatch.setenv("DEPOTDELIVERY_CONFIG", str(tmp_path / "missing.toml"))
    assert find_julia("/opt/julia").executable == "/opt/julia"
    with pytest.raises(ConfigError, match="not found"):
        find_julia("", environ={})


def test_the_source_checkout_is_where_pip_installed_from(tmp_path):
    checkout = tmp_path / "src"
    (checkout / "depotdelivery").mkdir(parents=True)
    (checkout / "setup.cfg").write_text("")
    site = tmp_path / "site-packages"
    (site / "depotdelivery").mkdir(parents=True)
    assert source_checkout(str(site / "depotdelivery")) is None
    info = site / "depotdelivery-0.1.0.dist-info"
    info.mkdir()
    (info / "direct_url.json").write_text(json.dumps({"url": checkout.as_uri(), "dir_info": {}}))
    assert source_checkout(str(site / "depotdelivery")) == str(checkout)
    # Run from the source tree itself (or an editable install): that tree.
    assert source_checkout(str(checkout / "depotdelivery")) == str(checkout)


@pytest.mark.parametrize("text,expected", [
    ('{"url": "file:///work/dd", "dir_info": {}}', "/work/dd"),
    ('{"url": "file:///work/dd%20x", "dir_info": {"editable": true}}', "/work/dd x"),
    ('{"url": "https://example.org/dd.tar.gz", "archive_info": {}}', None),
    ('{"url": "file:///tmp/dd.tar.gz", "archive_info": {}}', None),
    ('{"url": "git+https://example.org/dd", "vcs_info": {"vcs": "git"}}', None),
    ("not json", None),
])
def test_direct_url_json(text, expected):
    assert checkout_from_direct_url(text) == expected


def test_every_step_is_named_in_the_build_help():
    out = run([DD, "build", "--help"], check=True).stdout
    text = " ".join(out.split())
    for step in ("--julia", "$DEPOTDELIVERY_JULIA", "[julia] executable", "[julia.env]",
                 ".deps/julia/bin/julia", "julia` on PATH"):
        assert step in text, step


# -- a Julia that crashes ------------------------------------------------------------
def test_a_julia_killed_by_a_signal_is_reported_as_a_crash_with_its_report():
    line = julia_failure("add registries", -11, CRASH_LOG, "/b/out.failed-logs/add-registries.log")
    assert line.startswith("add registries: Julia was killed by SIGSEGV")
    assert "signal (11): Segmentation fault | in expression starting at" in line
    assert "Added registry" not in line
    assert line.endswith("full log in /b/out.failed-logs/add-registries.log")


def test_a_crash_without_a_report_quotes_nothing_from_the_log():
    line = julia_failure("add registries", -11, "     Added registry `X` to `/y`\n", "/l.log")
    assert "killed by SIGSEGV" in line and "no crash report" in line and "Added registry" not in line


def test_a_kill_by_the_kernel_points_at_memory():
    assert "out-of-memory" in julia_failure("compile system image x86-64", -signal.SIGKILL, "", "/l.log")


def test_a_crash_under_a_shell_is_still_a_crash():
    line = julia_failure("instantiate", 139, CRASH_LOG, "/l.log")
    assert "exit 139 (128+SIGSEGV" in line and "signal (11)" in line and "Added registry" not in line


def test_an_ordinary_failure_quotes_the_error_never_a_success_line():
    line = julia_failure("workload w.jl (stdout to file)", 1, "hello\nERROR: LoadError: boom\nStacktrace:\n", "/l")
    assert line.startswith("workload w.jl (stdout to file) failed (exit 1): ERROR: LoadError: boom")
    line = julia_failure("instantiate", 1, "     Added registry `X` to `/y`\n", "/l")
    assert "no error message" in line and "Added registry" not in line


def test_our_own_scripts_errors_come_first():
    out = "ERROR: something\nDD-ERROR: unknown DD_STEP \"x\": expected registries\n"
    assert julia_failure("precompile", 3, out, "/l") == 'precompile: unknown DD_STEP "x": expected registries'


def test_exit_descriptions():
    assert exit_description(-11) == "killed by SIGSEGV"
    assert exit_description(-6) == "killed by SIGABRT"
    assert exit_description(1) == "exit 1"
    assert crash_report("no report here\n") == ""


def test_a_julia_that_crashes_on_version_is_a_config_error_naming_the_signal(tmp_path):
    exe = fake_julia(tmp_path / "julia", 'echo "julia version 1.5.3"; kill -SEGV $$\n')
    with pytest.raises(ConfigError) as e:
        JuliaInstall(exe, source="--julia").version()
    assert "killed by SIGSEGV" in str(e.value) and "--julia" in str(e.value)


def test_a_julia_that_is_not_julia(tmp_path):
    exe = fake_julia(tmp_path / "julia", 'echo "hello"\n')
    with pytest.raises(ConfigError, match="printed no version"):
        JuliaInstall(exe).version()


# -- version rules: one test per range julia.py claims ---------------------------------
def v(text):
    return JuliaVersion.parse(text)


def test_julia_1_5_is_the_verified_release():
    r = rules_for(v("1.5.3"), lowest=V1)
    assert r.verified
    # --output-o runs no __init__: stdio, load path (which also sets the
    # project in 1.5) and depot path are set up by the build script.
    assert r.output_o_init == ("reinit_stdio", "init_load_path", "init_depot_path")
    assert dict(r.env) == {} and r.caches_tied_to_path
    assert [r.cpu_target(l) for l in LEVELS] == ["x86-64", "nehalem", "haswell", "skylake-avx512"]


def test_from_1_6_the_active_project_is_set_up_separately():
    for text in ("1.6.7", "1.8.5", "1.10.4", "1.12.0"):
        r = rules_for(v(text), lowest=V1)
        assert not r.verified
        assert "init_active_project" in r.output_o_init and "reinit_stdio" in r.output_o_init


def test_from_1_9_package_caches_are_compiled_for_the_lowest_level_built():
    assert dict(rules_for(v("1.8.5"), lowest=V3).env) == {}
    assert dict(rules_for(v("1.9.0"), lowest=V3).env) == {"JULIA_CPU_TARGET": "haswell"}
    assert dict(rules_for(v("1.10.4"), lowest=V1).env) == {"JULIA_CPU_TARGET": "x86-64"}


def test_from_1_11_caches_are_not_tied_to_the_depot_path():
    assert rules_for(v("1.10.4")).caches_tied_to_path
    assert not rules_for(v("1.11.0")).caches_tied_to_path


def test_cpu_targets_are_model_names_on_every_version():
    # Julia's own CPU table decides which names work, not LLVM's list: the
    # model names are the ones every version knows (julia.py).
    for text in ("1.5.3", "1.7.3", "1.9.0", "1.11.2"):
        assert cpu_target(parse_level("x86-64-v3"), v(text)) == "haswell"
        assert cpu_target(V4, v(text)) == "skylake-avx512"


def test_a_julia_older_than_1_5_is_refused():
    with pytest.raises(ConfigError, match="older than 1.5"):
        rules_for(v("1.4.2"))
    with pytest.raises(ConfigError, match="older than 1.5"):
        cpu_target(V1, v("1.0.5"))


def test_slim_bases_are_built_on_the_verified_minor_version_only():
    assert rules_for(v("1.5.3")).slim_base
    assert not any(rules_for(v(t)).slim_base for t in ("1.6.7", "1.9.0", "1.11.2"))


def test_a_multi_target_image_clones_every_higher_level_in_full_after_the_lowest():
    r = rules_for(v("1.5.3"))
    assert r.multi_cpu_target((parse_level("x86-64-v3"), V1)) == "x86-64;haswell,clone_all"
    assert r.multi_cpu_target((V1, parse_level("x86-64-v2"), V4)) == \
        "x86-64;nehalem,clone_all;skylake-avx512,clone_all"
    assert r.multi_cpu_target((V4,)) == "skylake-avx512"
