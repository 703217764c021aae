"""The pure parts of `make bench` and `make demo` (tools/checkout.py,
bench/report.py), without building or running anything: the bench itself
takes ~15 minutes and is run by hand."""

import copy
import importlib.util
import json
import os
import subprocess
import sys

import pytest

import checkout  # tools/, put on sys.path by conftest

BENCH = os.path.join(checkout.REPO, "bench")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", os.path.join(BENCH, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


report = _load("report")


def test_the_bench_modules_import():
    # As `make bench` runs them (bench/ first on sys.path), from /tmp: no
    # checkout folder may shadow the installed package.
    p = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {BENCH!r}); "
                        "import run, measure, report; print(run.measure is measure)"],
                       capture_output=True, text=True, cwd="/tmp")
    assert p.returncode == 0 and p.stdout.strip() == "True", p.stderr


def reference():
    with open(os.path.join(BENCH, "results-reference.json")) as f:
        return json.load(f)


def test_summarize_reproduces_the_reference_figures():
    ref = reference()
    figures, checks = report.summarize({k: v for k, v in ref.items() if k != "figures"})
    for key in ("wrapper_overhead_ms", "cached_verification_ms", "first_verification_gbs",
                "concurrent_p50_s", "concurrent_p99_s"):
        assert figures[key] == pytest.approx(ref["figures"][key]), key
    for name, f in ref["figures"]["projects"].items():
        for key, value in f.items():
            assert figures["projects"][name][key] == pytest.approx(value), (name, key)
    assert {what: ok for what, _, _, ok in checks} == ref["figures"]["met"]


def test_checks_fail_when_a_figure_misses_its_target():
    results = {k: v for k, v in reference().items() if k != "figures"}
    slow = copy.deepcopy(results)
    slow["verification"]["first_s"] = [s * 100 for s in slow["verification"]["first_s"]]
    slow["concurrent"]["codes"][0] = 65
    _, checks = report.summarize(slow)
    met = {what: ok for what, _, _, ok in checks}
    assert not met["first verification (hashing only)"]
    assert not met[f"{len(slow['concurrent']['latency_s'])} concurrent first launches"]


def test_render_shows_every_project_the_variant_and_the_checks():
    results = {k: v for k, v in reference().items() if k != "figures"}
    results["projects"]["hep-analysis"]["variant"] = "x86-64-v3"
    figures, checks = report.summarize(results)
    text = report.render(results, figures, checks)
    assert "hep-analysis:" in text and "heavy-analysis:" in text and "(variant x86-64-v3, as the wrapper picked)" in text
    assert sum(line.endswith((" met", " NOT MET")) for line in text.splitlines()) == len(checks)


def test_percentiles_by_nearest_rank():
    xs = list(range(1, 101))
    assert report.pct(xs, 50) == 51 and report.pct(xs, 99) == 99 and report.pct([3], 99) == 3


def test_the_variant_the_wrapper_picks_is_read_from_its_dry_run():
    assert checkout.dry_run_variant("image " + "a" * 64 + " variant x86-64-v3 (cpu x86-64-v4, capped)\n"
                                    "exec julia -J ...\n") == "x86-64-v3"
    for bad in ("", "depotdelivery: usage: ...", "image abc\n"):
        with pytest.raises(ValueError):
            checkout.dry_run_variant(bad)


def test_stock_julia_gets_the_packages_without_any_compile_cache(tmp_path):
    build = tmp_path / "build"
    for rel in ("pool/packages/A/s1/src/A.jl", "pool/compiled/v1.5/A/x.ji", "image/project/Project.toml"):
        (build / rel).parent.mkdir(parents=True, exist_ok=True)
        (build / rel).write_text(rel)
    argv, env = checkout.stock_julia(str(build), str(tmp_path / "work"), "-t")
    depot, project = env["JULIA_DEPOT_PATH"], argv[-1].removeprefix("--project=")
    assert argv[0] == checkout.JULIA and env["JULIA_PKG_SERVER"] == ""
    assert os.path.isfile(os.path.join(depot, "packages/A/s1/src/A.jl"))
    assert not os.path.exists(os.path.join(depot, "compiled"))
    assert os.path.isfile(os.path.join(project, "Project.toml"))
    # Again: a fresh set-up, not one on top of the last.
    (tmp_path / "work" / "stock-depot-t" / "compiled").mkdir()
    checkout.stock_julia(str(build), str(tmp_path / "work"), "-t")
    assert not os.path.exists(os.path.join(depot, "compiled"))


def shapes_results(default_bytes, default_e_nothing):
    """Made-up side-by-side figures of the example built each way."""
    def shape(node_bytes, e_nothing, variants):
        return {"variants": {lvl: {"cpu_target": t, "bytes": node_bytes, "up_to": ""} for lvl, t in variants},
                "node_variant": variants[-1][0], "node_bytes": node_bytes, "build_s": 300.0,
                "stdlibs": ["SHA"], "runtime_compiled": {"x86-64": 0}, "e_nothing_s": [e_nothing] * 3,
                "workload_s": [0.7] * 3, "workload_baseline_cpu_s": [0.75] * 3}
    per_level = [("x86-64", "x86-64"), ("x86-64-v3", "haswell")]
    return {"stock_sysimage_bytes": 188 * 2**20, "stock_e_nothing_s": [0.20] * 3, "shapes": {
        report.DEFAULT_SHAPE: shape(default_bytes, default_e_nothing, per_level),
        "multi-target, slim": shape(default_bytes * 1.4, 0.2, [("x86-64", "x86-64;haswell,clone_all")])}}


@pytest.mark.parametrize("bytes_, e_nothing, bytes_met, start_met", [
    (80 * 2**20, 0.18, True, True), (100 * 2**20, 0.18, False, True), (80 * 2**20, 0.25, True, False)])
def test_the_slim_image_is_judged_on_bytes_and_start_against_stock_julia(bytes_, e_nothing, bytes_met, start_met):
    results = {k: v for k, v in reference().items() if k != "figures"}
    results["image_shapes"] = shapes_results(bytes_, e_nothing)
    figures, checks = report.summarize(results)
    met = {what: ok for what, _, _, ok in checks}
    assert met["example image bytes vs Julia's own image"] is bytes_met
    assert met["julia -J image -e nothing vs stock julia -e nothing"] is start_met
    text = report.render(results, figures, checks)
    assert "multi-target, slim" in text and report.DEFAULT_SHAPE in text


@pytest.mark.parametrize("with_shapes", [True, False])
def test_the_chart_draws_launch_times_and_the_example_built_each_way(tmp_path, with_shapes):
    results = {k: v for k, v in reference().items() if k != "figures"}
    results.pop("image_shapes", None)
    if with_shapes:
        results["image_shapes"] = shapes_results(80 * 2**20, 0.18)
    report.chart(results, str(tmp_path / "chart.png"))
    from PIL import Image
    with Image.open(tmp_path / "chart.png") as png:
        width, height = png.size
    assert width == 1200 and height == (1020 if with_shapes else 540)  # 10 x 8.5 (or 4.5) in at 120 dpi


def test_methods_compiled_at_run_time_are_a_target_per_project():
    results = {k: v for k, v in reference().items() if k != "figures"}
    results["projects"]["heavy-analysis"]["runtime_compiled"] = {"x86-64": 0, "x86-64-v3": 2}
    results["projects"]["hep-analysis"]["runtime_compiled"] = {"x86-64": 0, "x86-64-v3": 0}
    _, checks = report.summarize(results)
    met = {what: ok for what, _, _, ok in checks}
    assert met["methods compiled at run time, heavy-analysis"] is False
    assert met["methods compiled at run time, hep-analysis"] is True
