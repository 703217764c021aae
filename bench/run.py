#!/usr/bin/env python3
"""`make bench`: launch-time figures, measured side by side in one run.

For the example and a heavier project: stock Julia fully cold (empty compile
cache), stock Julia with warm caches, the image through the wrapper, and bare
`julia -J` with the same image; wrapper overhead; first and cached
verification; concurrent first launches (p50/p99); build time and size per
variant.  Prints a table with the targets, writes bench/results.json and
bench/launch-times.png.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, ".venv", "bin")
DD = os.path.join(BIN, "depotdelivery")
DD_RUN = os.path.join(BIN, "depotdelivery-run")
JULIA = os.path.join(REPO, ".deps", "julia", "bin", "julia")
WORK = os.path.join(REPO, "_build", "bench")
SITE = "/srv/depotdelivery-bench"
STORE = os.path.join(SITE, "store")
NODE_VIEW = os.path.join(SITE, "cvmfs", "julia.bench.org", "depots")
EXAMPLES = os.path.join(REPO, "examples")
PROJECTS = [
    ("hep-analysis", ["hep-analysis"]),
    ("heavy-analysis", ["hep-analysis", "heavy-analysis"]),  # package folders it draws on
]
N_COLD = int(os.environ.get("BENCH_N_COLD", "3"))
N_RUNS = int(os.environ.get("BENCH_N_RUNS", "10"))
N_OVERHEAD = int(os.environ.get("BENCH_N_OVERHEAD", "40"))
N_CONCURRENT = int(os.environ.get("BENCH_N_CONCURRENT", "100"))
TARGETS = {"image_vs_cold_heavy": 30.0, "wrapper_overhead_ms": 20.0, "cached_verification_ms": 5.0,
           "first_verification_gbs": 1.0, "concurrent_p99_over_p50": 1.5}


def sh(cmd, **kw):
    check = kw.pop("check", True)
    p = subprocess.run(cmd, **kw)
    if check and p.returncode != 0:
        err = p.stderr if isinstance(p.stderr, str) else ""
        sys.exit(f"bench: {' '.join(map(str, cmd[:4]))} ... failed ({p.returncode}):\n{err[-3000:]}")
    return p


def timed(cmd, env=None, cwd="/tmp"):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd[:5])} ... failed ({p.returncode}): {p.stderr[-1500:]}")
    return dt


def med(xs):
    return statistics.median(xs)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def build_and_publish(name, sources, key):
    project = os.path.join(EXAMPLES, name)
    out = os.path.join(WORK, name)
    if not os.path.exists(os.path.join(out, "manifest.json")):
        reg = os.path.join(WORK, f"registry-{name}")
        shutil.rmtree(reg, ignore_errors=True)
        pkgs = sorted(os.path.join(EXAMPLES, s, "packages", p) for s in sources
                      for p in os.listdir(os.path.join(EXAMPLES, s, "packages")))
        url = sh([DD, "registry", "create", *pkgs, "--out", reg], capture_output=True, text=True).stdout.strip()
        print(f"bench: building {name} for x86-64 and x86-64-v3 (a few minutes) ...", flush=True)
        sh([DD, "build", project, "--levels", "x86-64,x86-64-v3", "--workload", os.path.join(project, "workload.jl"),
            "--out", out, "--registry", url, "--store-path", NODE_VIEW, "--json"], stdout=subprocess.DEVNULL)
    p = sh([DD, "publish", out, "--store", STORE, "--key", key, "--channel", name, "--json"],
           capture_output=True, text=True)
    with open(os.path.join(out, "build.json")) as f:
        stats = json.load(f)
    pub = json.loads(p.stdout)
    # Published after the example, the heavy project re-uses the example's
    # packages already in the pool: the publish writes only what is new.
    stats["publish"] = {k: pub[k] for k in ("bytes_written", "files_written", "files_reused")}
    return out, pub["image_id"], stats


def setup():
    os.makedirs(WORK, exist_ok=True)
    with open("/proc/mounts") as f:
        if any(l.split()[1] == NODE_VIEW for l in f):
            sh(["umount", "-l", NODE_VIEW])
    shutil.rmtree(SITE, ignore_errors=True)
    os.makedirs(NODE_VIEW)
    key = os.path.join(WORK, "keys", "ci")
    if not os.path.exists(key + ".key"):
        sh([DD, "keygen", key], stdout=subprocess.DEVNULL)
    return key


def mount_and_configure(key):
    sh(["mount", "--bind", "-o", "ro", STORE, NODE_VIEW])
    cache = os.path.join(SITE, "cache")
    os.makedirs(cache)
    config = os.path.join(SITE, "site.toml")
    with open(config, "w") as f:
        f.write(f'stores = ["{NODE_VIEW}"]\ntrusted_keys = ["{key}.pub"]\ncache_dir = "{cache}"\n'
                f'max_level = "x86-64-v3"\n\n[julia]\nexecutable = "{JULIA}"\n')
    return config, cache


def launch_times(name, out, image_id, config):
    project_dir = os.path.join(EXAMPLES, name)
    workload = os.path.join(project_dir, "workload.jl")
    base_env = dict(os.environ, JULIA_PKG_SERVER="")
    res = {}
    # Stock Julia, fully cold: the packages are there, their compile caches not.
    cold, warm = [], []
    for _ in range(N_COLD):
        depot = os.path.join(WORK, f"stock-depot-{name}")
        shutil.rmtree(depot, ignore_errors=True)
        shutil.copytree(os.path.join(out, "pool"), depot, symlinks=True, ignore=shutil.ignore_patterns("compiled"))
        proj = os.path.join(WORK, f"stock-project-{name}")
        shutil.rmtree(proj, ignore_errors=True)
        shutil.copytree(os.path.join(out, "image", "project"), proj)
        env = dict(base_env, JULIA_DEPOT_PATH=depot)
        cold.append(timed([JULIA, "--startup-file=no", f"--project={proj}", workload], env=env))
        warm.append(timed([JULIA, "--startup-file=no", f"--project={proj}", workload], env=env))
    res["stock_cold_s"], res["stock_warm_s"] = cold, warm
    # The image: through the wrapper (plan cached after the first launch) and
    # bare `julia -J`, interleaved so both see the same machine state.
    env = dict(base_env, DEPOTDELIVERY_CONFIG=config)
    res["wrapper_first_launch_s"] = timed([DD_RUN, "--channel", name, "--", "julia", workload], env=env)
    variant = "x86-64-v3"
    sysimage = os.path.join(NODE_VIEW, "images", image_id, "variants", variant, "sys.so")
    project = os.path.join(NODE_VIEW, "images", image_id, "project")
    bare_env = dict(base_env, JULIA_DEPOT_PATH=os.path.join(NODE_VIEW, "pool"))
    wrapped, bare = [], []
    for _ in range(N_RUNS):
        wrapped.append(timed([DD_RUN, "--channel", name, "--", "julia", workload], env=env))
        bare.append(timed([JULIA, "-J", sysimage, f"--project={project}", workload], env=bare_env))
    res["image_wrapper_s"], res["image_bare_s"] = wrapped, bare
    return res


def overhead(name, image_id, config):
    env = dict(os.environ, DEPOTDELIVERY_CONFIG=config)
    sysimage = os.path.join(NODE_VIEW, "images", image_id, "variants", "x86-64-v3", "sys.so")
    project = os.path.join(NODE_VIEW, "images", image_id, "project")
    w, b = [], []
    for _ in range(N_OVERHEAD):
        w.append(timed([DD_RUN, "--channel", name, "--", "julia", "-e", "nothing"], env=env))
        b.append(timed([JULIA, "-J", sysimage, f"--project={project}", "-e", "nothing"], env=env))
    return w, b


def verification(name, config, cache):
    """First verification (full hashing) and the cached check, in-process."""
    code = f"""
import os, time, json, shutil
os.environ["DEPOTDELIVERY_CONFIG"] = {config!r}
from depotdelivery.wrapper.launch import LaunchRequest, prepare
from depotdelivery.wrapper import fastpath
firsts = []
for i in range(5):
    shutil.rmtree({cache!r} + "/u0", ignore_errors=True)
    t0 = time.perf_counter(); l = prepare(LaunchRequest(command=("julia",), channel={name!r})); firsts.append(time.perf_counter() - t0)
key = fastpath.request_key({config!r}, "", {name!r}, "", "", True)
cached = []
for i in range(300):
    t0 = time.perf_counter(); found = fastpath.find_plan(key, None); cached.append(time.perf_counter() - t0)
    assert found
from depotdelivery.config import load_config
from depotdelivery.wrapper.verify import read_manifest, trusted_keys
cfg = load_config()
img = read_manifest(os.path.realpath({NODE_VIEW!r}), l.image_id, trusted_keys(cfg.trusted_keys, cfg.revoked_keys))
nbytes = sum(f.size for f in img.manifest.files_for(l.level))
print(json.dumps({{"first_s": firsts, "cached_s": cached, "bytes": nbytes}}))
"""
    # cwd /tmp: `python -c` puts the current folder first on sys.path, and the
    # checkout's depotdelivery/ folder would shadow the installed package.
    p = sh([os.path.join(BIN, "python"), "-c", code], capture_output=True, text=True, cwd="/tmp")
    return json.loads(p.stdout)


def concurrent(name, config, cache):
    """N first launches at once on one node, fresh cache: one verifies and
    hydrates, the others wait for it and re-use its plan."""
    shutil.rmtree(os.path.join(cache, "u0"), ignore_errors=True)
    env = dict(os.environ, DEPOTDELIVERY_CONFIG=config)
    code = f"""
import subprocess, time, json, os
env = dict(os.environ)
cmd = [{DD_RUN!r}, "--channel", {name!r}, "--", "/bin/true"]
t0 = time.perf_counter()
procs = [(subprocess.Popen(cmd, env=env), time.perf_counter()) for _ in range({N_CONCURRENT})]
lat = []
pending = list(procs)
while pending:
    for item in list(pending):
        p, start = item
        if p.poll() is not None:
            lat.append((time.perf_counter() - start, p.returncode)); pending.remove(item)
    time.sleep(0.001)
print(json.dumps({{"latency_s": [l for l, _ in lat], "codes": [c for _, c in lat], "wall_s": time.perf_counter() - t0}}))
"""
    p = sh([os.path.join(BIN, "python"), "-c", code], capture_output=True, text=True, env=env, cwd="/tmp")
    return json.loads(p.stdout)


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [n for n, _ in PROJECTS if n in results["projects"]]
    kinds = [("stock_cold_s", "stock, cold"), ("stock_warm_s", "stock, warm caches"),
             ("image_wrapper_s", "image via wrapper"), ("image_bare_s", "bare julia -J image")]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.2
    for i, (k, label) in enumerate(kinds):
        vals = [med(results["projects"][n][k]) for n in names]
        bars = ax.bar([j + i * width for j in range(len(names))], vals, width, label=label)
        for b, v in zip(bars, vals, strict=True):
            ax.annotate(f"{v:.2f}s", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks([j + 1.5 * width for j in range(len(names))])
    ax.set_xticklabels(names)
    ax.set_ylabel("launch to exit, seconds (median, log scale)")
    ax.set_title(f"Julia job launch times ({os.cpu_count()} cores)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root (it mounts the store read-only)")
    key = setup()
    results = {"machine": {"cores": os.cpu_count(), "uname": os.uname().release,
                           "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                                        if l.startswith("model name")), "?")},
               "projects": {}}
    built = {}
    for name, sources in PROJECTS:
        if not os.path.isdir(os.path.join(EXAMPLES, name)):
            print(f"bench: {name} not found, skipped")
            continue
        built[name] = build_and_publish(name, sources, key + ".key")
    config, cache = mount_and_configure(key)
    try:
        for name, (out, image_id, stats) in built.items():
            print(f"bench: launch times for {name} ...", flush=True)
            r = launch_times(name, out, image_id, config)
            r["build"] = {lvl: {"compile_s": v["compile_s"], "size_bytes": v["size"]}
                          for lvl, v in stats["variants"].items()}
            r["build"]["total_s"] = stats["total_s"]
            r["publish"] = stats["publish"]
            results["projects"][name] = r
        first = next(iter(built))
        out, image_id, _ = built[first]
        print("bench: wrapper overhead, verification, concurrency ...", flush=True)
        w, b = overhead(first, image_id, config)
        results["overhead"] = {"wrapper_s": w, "bare_s": b}
        results["verification"] = verification(first, config, cache)
        results["concurrent"] = concurrent(first, config, cache)
    finally:
        sh(["umount", "-l", NODE_VIEW], check=False)
    report(results)


def report(results):
    rows = []
    figures = {}
    for name, r in results["projects"].items():
        cold, warm = med(r["stock_cold_s"]), med(r["stock_warm_s"])
        wrap, bare = med(r["image_wrapper_s"]), med(r["image_bare_s"])
        figures[name] = {"cold": cold, "warm": warm, "wrapper": wrap, "bare": bare,
                         "cold_over_wrapper": cold / wrap, "warm_over_wrapper": warm / wrap,
                         "wrapper_over_bare": wrap / bare}
        rows.append(f"{name}:")
        rows.append(f"  stock Julia, fully cold       {cold:8.2f} s   (n={len(r['stock_cold_s'])})")
        rows.append(f"  stock Julia, warm caches      {warm:8.2f} s")
        rows.append(f"  image via wrapper             {wrap:8.3f} s   cold/image {cold / wrap:6.1f}x, warm/image {warm / wrap:5.1f}x")
        rows.append(f"  bare julia -J, same image     {bare:8.3f} s   wrapper/bare {wrap / bare:5.3f}")
        rows.append(f"  first launch via wrapper      {r['wrapper_first_launch_s']:8.3f} s   (verifies, hydrates)")
        for lvl, v in sorted(r["build"].items()):
            if lvl != "total_s":
                rows.append(f"  build {lvl:10s}              compile {v['compile_s']:6.1f} s, {v['size_bytes'] / 2**20:6.1f} MiB")
        rows.append(f"  build total                   {r['build']['total_s']:8.1f} s")
        pb = r.get("publish", {})
        if pb:
            rows.append(f"  publish                       {pb['bytes_written'] / 2**20:8.1f} MiB written, "
                        f"{pb['files_written']} files new, {pb['files_reused']} already in the store")
    o = results["overhead"]
    ov_ms = (med(o["wrapper_s"]) - med(o["bare_s"])) * 1000
    v = results["verification"]
    first_s, cached_ms = med(v["first_s"]), med(v["cached_s"]) * 1000
    gbs = v["bytes"] / first_s / 1e9
    c = results["concurrent"]
    p50, p99 = pct(c["latency_s"], 50), pct(c["latency_s"], 99)
    heavy = figures.get("heavy-analysis", {}).get("cold_over_wrapper")
    checks = [
        ("image via wrapper vs fully cold, heavier project", f"{heavy:.1f}x" if heavy else "n/a",
         f">= {TARGETS['image_vs_cold_heavy']:.0f}x", heavy is not None and heavy >= TARGETS["image_vs_cold_heavy"]),
        ("wrapper overhead over bare julia -J", f"{ov_ms:.1f} ms ({med(o['wrapper_s']) / med(o['bare_s']):.3f}x)",
         f"<= {TARGETS['wrapper_overhead_ms']:.0f} ms", ov_ms <= TARGETS["wrapper_overhead_ms"]),
        ("cached verification", f"{cached_ms:.2f} ms", f"<= {TARGETS['cached_verification_ms']:.0f} ms",
         cached_ms <= TARGETS["cached_verification_ms"]),
        ("first verification", f"{gbs:.2f} GB/s ({v['bytes'] / 2**20:.0f} MiB in {first_s * 1000:.0f} ms)",
         f">= {TARGETS['first_verification_gbs']:.0f} GB/s", gbs >= TARGETS["first_verification_gbs"]),
        (f"{len(c['latency_s'])} concurrent first launches", f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
         f"({p99 / p50:.2f}x), {sum(1 for x in c['codes'] if x == 0)}/{len(c['codes'])} ok",
         f"p99 <= {TARGETS['concurrent_p99_over_p50']}x p50", p99 / p50 <= TARGETS["concurrent_p99_over_p50"]
         and all(x == 0 for x in c["codes"])),
    ]
    results["figures"] = {"projects": figures, "wrapper_overhead_ms": ov_ms, "cached_verification_ms": cached_ms,
                          "first_verification_gbs": gbs, "concurrent_p50_s": p50, "concurrent_p99_s": p99,
                          "targets": TARGETS, "met": {name: ok for name, _, _, ok in checks}}
    with open(os.path.join(REPO, "bench", "results.json"), "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    chart(results, os.path.join(REPO, "bench", "launch-times.png"))
    m = results["machine"]
    print(f"\ndepotdelivery bench ({m['cores']} cores, {m['cpu']}; medians)\n")
    print("\n".join(rows))
    print()
    for name, value, target, ok in checks:
        print(f"  {name:48s} {value:40s} target {target:18s} {'met' if ok else 'NOT MET'}")
    print("\nwrote bench/results.json and bench/launch-times.png")


if __name__ == "__main__":
    main()
