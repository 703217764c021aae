"""From `make bench`'s measurements to figures, checks against the targets,
text, results.json and the chart.  `summarize` and `render` are pure (the
tests feed them made-up measurements); `write` and `chart` write files.
"""

from __future__ import annotations

import json
import statistics

TARGETS = {"image_vs_cold_heavy": 30.0, "wrapper_overhead_ms": 10.0, "cached_verification_ms": 5.0,
           "first_verification_gbs": 1.0, "concurrent_p99_over_p50": 1.3,
           "image_over_stock_bytes": 0.5, "image_over_stock_e_nothing": 1.0, "runtime_compiled": 0}
DEFAULT_SHAPE = "per level, slim (default)"


def med(xs):
    return statistics.median(xs)


def pct(xs, q):
    """The q-th percentile by nearest rank (no interpolation)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def summarize(results: dict) -> tuple[dict, list[tuple[str, str, str, bool]]]:
    """-> (figures, checks): medians and ratios per project, the node-side
    figures, and one (what, value, target, met) row per target."""
    projects = {}
    for name, r in results["projects"].items():
        cold, warm = med(r["stock_cold_s"]), med(r["stock_warm_s"])
        wrap, bare = med(r["image_wrapper_s"]), med(r["image_bare_s"])
        projects[name] = {"cold": cold, "warm": warm, "wrapper": wrap, "bare": bare,
                          "cold_over_wrapper": cold / wrap, "warm_over_wrapper": warm / wrap,
                          "wrapper_over_bare": wrap / bare, "variant": r.get("variant", "")}
    o, v, c = results["overhead"], results["verification"], results["concurrent"]
    ov_ms = (med(o["wrapper_s"]) - med(o["bare_s"])) * 1000
    first_s, cached_ms = med(v["first_s"]), med(v["cached_s"]) * 1000
    gbs = v["bytes"] / first_s / 1e9
    p50, p99 = pct(c["latency_s"], 50), pct(c["latency_s"], 99)
    ok_codes = sum(1 for x in c["codes"] if x == 0)
    heavy = projects.get("heavy-analysis", {}).get("cold_over_wrapper")
    checks = [
        ("image via wrapper vs fully cold, heavier project", f"{heavy:.1f}x" if heavy else "n/a",
         f">= {TARGETS['image_vs_cold_heavy']:.0f}x", heavy is not None and heavy >= TARGETS["image_vs_cold_heavy"]),
        ("wrapper overhead over bare julia -J", f"{ov_ms:.1f} ms ({med(o['wrapper_s']) / med(o['bare_s']):.3f}x)",
         f"<= {TARGETS['wrapper_overhead_ms']:.0f} ms", ov_ms <= TARGETS["wrapper_overhead_ms"]),
        ("cached verification", f"{cached_ms:.2f} ms", f"<= {TARGETS['cached_verification_ms']:.0f} ms",
         cached_ms <= TARGETS["cached_verification_ms"]),
        ("first verification (hashing only)",
         f"{gbs:.2f} GB/s ({v['bytes'] / 2**20:.0f} MiB in {first_s * 1000:.0f} ms)",
         f">= {TARGETS['first_verification_gbs']:.0f} GB/s", gbs >= TARGETS["first_verification_gbs"]),
        (f"{len(c['latency_s'])} concurrent first launches",
         f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms ({p99 / p50:.2f}x), {ok_codes}/{len(c['codes'])} ok",
         f"p99 <= {TARGETS['concurrent_p99_over_p50']}x p50",
         p99 / p50 <= TARGETS["concurrent_p99_over_p50"] and ok_codes == len(c["codes"])),
    ]
    shapes = shape_figures(results.get("image_shapes"))
    if shapes:
        d = shapes["shapes"][DEFAULT_SHAPE]
        checks += [
            ("example image bytes vs Julia's own image",
             f"{d['node_bytes'] / 2**20:.1f} MiB / {shapes['stock_sysimage_bytes'] / 2**20:.1f} MiB = "
             f"{d['bytes_over_stock']:.2f}x", f"<= {TARGETS['image_over_stock_bytes']}x",
             d["bytes_over_stock"] <= TARGETS["image_over_stock_bytes"]),
            ("julia -J image -e nothing vs stock julia -e nothing",
             f"{d['e_nothing'] * 1000:.0f} ms / {shapes['stock_e_nothing'] * 1000:.0f} ms = "
             f"{d['e_nothing_over_stock']:.2f}x", f"<= {TARGETS['image_over_stock_e_nothing']}x",
             d["e_nothing_over_stock"] <= TARGETS["image_over_stock_e_nothing"])]
    for name, p in results["projects"].items():
        rc = p.get("runtime_compiled")
        if rc is not None:
            worst = max(rc.values(), default=0)
            per_variant = f" ({', '.join(f'{k} {v}' for k, v in sorted(rc.items()))})" if rc else ""
            checks.append((f"methods compiled at run time, {name}", f"{worst}{per_variant}",
                           f"= {TARGETS['runtime_compiled']}", worst == TARGETS["runtime_compiled"]))
    figures = {"projects": projects, "image_shapes": shapes, "wrapper_overhead_ms": ov_ms, "cached_verification_ms": cached_ms,
               "phases_ms": phases(c.get("phases", [])),
               "first_verification_gbs": gbs, "verified_variant": v.get("variant", ""),
               "concurrent_p50_s": p50, "concurrent_p99_s": p99, "targets": TARGETS,
               "met": {what: ok for what, _, _, ok in checks}}
    return figures, checks


def shape_figures(r: dict | None) -> dict:
    """Medians and ratios of each way of building the example (bench/measure.py image_shapes)."""
    if not r:
        return {}
    stock = med(r["stock_e_nothing_s"])
    out: dict = {"stock_e_nothing": stock, "stock_sysimage_bytes": r["stock_sysimage_bytes"], "shapes": {}}
    for name, s in r["shapes"].items():
        out["shapes"][name] = {
            "node_variant": s["node_variant"], "node_bytes": s["node_bytes"],
            "all_bytes": sum(v["bytes"] for v in s["variants"].values()), "n_variants": len(s["variants"]),
            "bytes_over_stock": s["node_bytes"] / r["stock_sysimage_bytes"], "build_s": s["build_s"],
            "e_nothing": med(s["e_nothing_s"]), "e_nothing_over_stock": med(s["e_nothing_s"]) / stock,
            "workload": med(s["workload_s"]), "workload_baseline_cpu": med(s["workload_baseline_cpu_s"]),
            "stdlibs": len(s["stdlibs"]) if s.get("stdlibs") else "all",
            "runtime_compiled": s.get("runtime_compiled")}
    return out


def phases(rows: list[dict]) -> dict:
    """Where concurrent launches spent their time (ms, p50/p99 per phase):
    Python's start (spawn to the wrapper's main), waiting for the node lock
    (a peer verifying), the one verification and hydration, and from there
    to the exec; and how many went each way."""
    def span(a: str, b: str) -> list[float]:
        return [(r[b] - r[a]) * 1000 for r in rows if a in r and b in r and r.get(a)]
    out: dict = {"ways": {w: sum(1 for r in rows if r.get("path") == w) for w in ("fast", "peer", "full")}}
    for name, (a, b) in {"python_start": ("t0", "main"), "lock_wait": ("main", "lock"),
                         "verification": ("main", "verify"), "hydration": ("verify", "hydrate"),
                         "to_exec_after_plan": ("plan", "exec"), "spawn_to_exec": ("t0", "exec")}.items():
        xs = span(a, b)
        if xs:
            out[name] = {"p50": pct(xs, 50), "p99": pct(xs, 99), "n": len(xs)}
    return out


def render(results: dict, figures: dict, checks: list) -> str:
    """The text `make bench` prints."""
    m = results["machine"]
    rows = [f"depotdelivery bench ({m['cores']} cores, {m['cpu']}; medians)", ""]
    for name, r in results["projects"].items():
        f = figures["projects"][name]
        rows.append(f"{name}:")
        rows.append(f"  stock Julia, fully cold       {f['cold']:8.2f} s   (n={len(r['stock_cold_s'])})")
        rows.append(f"  stock Julia, warm caches      {f['warm']:8.2f} s")
        rows.append(f"  image via wrapper             {f['wrapper']:8.3f} s   cold/image "
                    f"{f['cold_over_wrapper']:6.1f}x, warm/image {f['warm_over_wrapper']:5.1f}x")
        rows.append(f"  bare julia -J, same image     {f['bare']:8.3f} s   wrapper/bare {f['wrapper_over_bare']:5.3f}"
                    f"   (variant {f['variant'] or '?'}, as the wrapper picked)")
        rows.append(f"  first launch via wrapper      {r['wrapper_first_launch_s']:8.3f} s   (verifies, hydrates)")
        for lvl, v in sorted(r["build"].items()):
            if lvl != "total_s":
                rows.append(f"  build {lvl:10s}              compile {v['compile_s']:6.1f} s, "
                            f"{v['size_bytes'] / 2**20:6.1f} MiB")
        rows.append(f"  build total                   {r['build']['total_s']:8.1f} s")
        pb = r.get("publish", {})
        if pb:
            rows.append(f"  publish                       {pb['bytes_written'] / 2**20:8.1f} MiB written, "
                        f"{pb['files_written']} files new, {pb['files_reused']} already in the store")
    v = results["verification"]
    if "dirs_listed" in v:
        rows.append("")
        rows.append(f"closed world per first verification ({v.get('variant', '?')}): {v['files_hashed']} files hashed, "
                    f"{v['dirs_listed']} folders listed, {v['dirs_identity']} shared folders checked, "
                    f"{v['absent_checked']} paths proven absent")
        if v.get("bytes_read_s"):
            rows.append(f"bytes a cold first launch reads from the store: verification "
                        f"{med(v['bytes_read_s']) / 2**20:.1f} MiB (the variant's files, {v['bytes'] / 2**20:.1f} "
                        "MiB, each read once); Julia then maps the same verified files")
    ph = figures.get("phases_ms") or {}
    if ph.get("ways"):
        rows.append("concurrent launches, where the time goes (ms, p50 / p99): "
                    + ", ".join(f"{k.replace('_', ' ')} {d['p50']:.0f} / {d['p99']:.0f}"
                                for k, d in ph.items() if k != "ways")
                    + "; ways: " + ", ".join(f"{k} {n}" for k, n in ph["ways"].items()))
    sh = figures.get("image_shapes") or {}
    if sh:
        rows.append("")
        rows.append(f"the example, built each way (stock julia -e nothing {sh['stock_e_nothing'] * 1000:.0f} ms; "
                    f"Julia's own image {sh['stock_sysimage_bytes'] / 2**20:.1f} MiB):")
        rows.append(f"  {'shape':28s} {'stdlibs':>7s} {'build':>7s} {'per node':>9s} {'all':>9s} {'-e nothing':>10s} "
                    f"{'workload':>9s} {'at -C x86-64':>12s}")
        for name, d in sh["shapes"].items():
            rows.append(f"  {name:28s} {d['stdlibs']!s:>7s} {d['build_s']:6.0f}s {d['node_bytes'] / 2**20:7.1f}Mi "
                        f"{d['all_bytes'] / 2**20:7.1f}Mi {d['e_nothing'] * 1000:8.0f}ms {d['workload']:8.3f}s "
                        f"{d['workload_baseline_cpu']:11.3f}s")
    rows.append("")
    for what, value, target, ok in checks:
        rows.append(f"  {what:48s} {value:40s} target {target:18s} {'met' if ok else 'NOT MET'}")
    return "\n".join(rows)


def write(results: dict, figures: dict, path: str) -> None:
    with open(path, "w") as f:
        json.dump({**results, "figures": figures}, f, indent=2, sort_keys=True)


def chart(results: dict, path: str) -> None:
    """Launch times per project; below them, when measured, the example built
    each way against Julia's own image (bytes per node, `-e nothing`, the
    workload on this CPU and at `-C x86-64`)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shapes = shape_figures(results.get("image_shapes"))
    fig = plt.figure(figsize=(10, 8.5 if shapes else 4.5))
    grid = fig.add_gridspec(2 if shapes else 1, 3)
    _launch_panel(fig.add_subplot(grid[0, :]), results)
    if shapes:
        _shape_panels([fig.add_subplot(grid[1, i]) for i in range(3)], shapes)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _bars(ax, names, series, fmt):
    width = 0.8 / len(series)
    for i, (label, vals) in enumerate(series):
        bars = ax.bar([j + i * width for j in range(len(names))], vals, width, label=label)
        for b, v in zip(bars, vals, strict=True):
            ax.annotate(fmt(v), (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=7)
    ax.set_xticks([j + (len(series) - 1) * width / 2 for j in range(len(names))])
    ax.set_xticklabels(names, fontsize=7)


def _launch_panel(ax, results: dict) -> None:
    names = list(results["projects"])
    kinds = [("stock_cold_s", "stock, cold"), ("stock_warm_s", "stock, warm caches"),
             ("image_wrapper_s", "image via wrapper"), ("image_bare_s", "bare julia -J image")]
    _bars(ax, names, [(label, [med(results["projects"][n][k]) for n in names]) for k, label in kinds],
          lambda v: f"{v:.2f}s")
    ax.set_yscale("log")
    ax.set_ylabel("launch to exit, seconds (median, log scale)")
    ax.set_title(f"Julia job launch times ({results['machine']['cores']} cores)")
    ax.legend(fontsize=8)


def _shape_panels(axes, sh: dict) -> None:
    shapes = sh["shapes"]
    names = ["Julia's own"] + [n.replace(", ", "\n") for n in shapes]
    _bars(axes[0], names, [("bytes per node", [sh["stock_sysimage_bytes"] / 2**20]
                            + [d["node_bytes"] / 2**20 for d in shapes.values()])], lambda v: f"{v:.0f}")
    axes[0].set_title("image bytes per node (MiB)", fontsize=9)
    _bars(axes[1], names, [("-e nothing", [sh["stock_e_nothing"] * 1000]
                            + [d["e_nothing"] * 1000 for d in shapes.values()])], lambda v: f"{v:.0f}")
    axes[1].set_title("julia -e nothing (ms)", fontsize=9)
    _bars(axes[2], names[1:], [("this CPU", [d["workload"] for d in shapes.values()]),
                               ("-C x86-64", [d["workload_baseline_cpu"] for d in shapes.values()])],
          lambda v: f"{v:.2f}")
    axes[2].set_title("example workload (s)", fontsize=9)
    axes[2].legend(fontsize=7)
