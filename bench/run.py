#!/usr/bin/env python3
"""`make bench`: launch-time figures, measured side by side in one run.

For the example and a heavier project: stock Julia fully cold (empty compile
cache), stock Julia with warm caches, the image through the wrapper, and bare
`julia -J` with the same image and the variant the wrapper picked; wrapper
overhead; first verification (hashing only) and the cached check; concurrent
first launches (p50/p99); build time and size per variant.  Prints a table
with the targets, writes bench/results.json and bench/launch-times.png.

This file sets up (build, publish, mount, site config) and runs the
measurements of bench/measure.py; bench/report.py makes the figures.
"""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "tools")]
import measure  # noqa: E402
import report  # noqa: E402
from checkout import DD, EXAMPLES, REPO, inputs_digest, unmount, write_site_config  # noqa: E402

WORK = os.path.join(REPO, "_build", "bench")
SITE = "/srv/depotdelivery-bench"
STORE = os.path.join(SITE, "store")
NODE_VIEW = os.path.join(SITE, "cvmfs", "julia.bench.org", "depots")
PROJECTS = [
    ("hep-analysis", ["hep-analysis"]),
    ("heavy-analysis", ["hep-analysis", "heavy-analysis"]),  # package folders it draws on
]
N_COLD = int(os.environ.get("BENCH_N_COLD", "3"))
N_RUNS = int(os.environ.get("BENCH_N_RUNS", "10"))
N_OVERHEAD = int(os.environ.get("BENCH_N_OVERHEAD", "40"))
N_CONCURRENT = int(os.environ.get("BENCH_N_CONCURRENT", "200"))
N_SHAPE_RUNS = int(os.environ.get("BENCH_N_SHAPE_RUNS", "10"))


def sh(cmd, **kw):
    check = kw.pop("check", True)
    p = subprocess.run(cmd, **kw)
    if check and p.returncode != 0:
        err = p.stderr if isinstance(p.stderr, str) else ""
        sys.exit(f"bench: {' '.join(map(str, cmd[:4]))} ... failed ({p.returncode}):\n{err[-3000:]}")
    return p


def build(name, sources, tag="", flags=()):
    """Build an example for x86-64 and x86-64-v3 into WORK/<name><tag>,
    unless a build from the same sources and flags is there.  -> its folder"""
    project = os.path.join(EXAMPLES, name)
    out = os.path.join(WORK, name + tag)
    stamp = out + ".inputs"
    # The builder's sources, the examples' files and the flags: a bench
    # never measures an image an older builder made.
    key = inputs_digest(os.path.join(REPO, "build"), os.path.join(REPO, "wrapper", "julia"),
                        os.path.join(REPO, "depotdelivery", "julia.py"), os.path.join(REPO, "depotdelivery", "model.py"),
                        project, *[os.path.join(EXAMPLES, s) for s in sources], extra=tuple(flags))
    if os.path.exists(os.path.join(out, "manifest.json")) and _read(stamp) == key:
        return out
    reg = os.path.join(WORK, f"registry-{name}")
    shutil.rmtree(reg, ignore_errors=True)
    pkgs = sorted(os.path.join(EXAMPLES, s, "packages", p) for s in sources
                  for p in os.listdir(os.path.join(EXAMPLES, s, "packages")))
    url = sh([DD, "registry", "create", *pkgs, "--out", reg], capture_output=True, text=True).stdout.strip()
    print(f"bench: building {name}{tag} for x86-64 and x86-64-v3 {' '.join(flags)} (a few minutes) ...",
          flush=True)
    sh([DD, "build", project, "--levels", "x86-64,x86-64-v3", "--workload", os.path.join(project, "workload.jl"),
        "--out", out, "--registry", url, "--store-path", NODE_VIEW, "--json", *flags], stdout=subprocess.DEVNULL)
    with open(stamp, "w") as f:
        f.write(key)
    return out


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def build_and_publish(name, sources, key):
    out = build(name, sources)
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
    unmount(NODE_VIEW)
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
    config = write_site_config(os.path.join(SITE, "site.toml"), stores=[NODE_VIEW], trusted_keys=[key + ".pub"],
                               cache_dir=cache, max_level="x86-64-v3")
    return config, cache


def machine():
    with open("/proc/cpuinfo") as f:
        cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    return {"cores": os.cpu_count(), "uname": os.uname().release, "cpu": cpu}


# The example built the other ways a site could ship it, measured beside
# the default (one slim image per level): Julia's own image with every
# standard library under each level's image, and one multi-target image.
SHAPES = [("per level, slim (default)", "", ()), ("per level, all stdlibs", "-all-stdlibs", ("--stdlibs", "all")),
          ("multi-target, slim", "-multi", ("--multi-target",))]


def measure_all(built, config, cache, shapes):
    results = {"machine": machine(), "projects": {}}
    for name, (out, image_id, stats) in built.items():
        print(f"bench: launch times for {name} ...", flush=True)
        r = measure.launch_times(name, os.path.join(EXAMPLES, name, "workload.jl"), out, image_id, config,
                                 NODE_VIEW, WORK, n_cold=N_COLD, n_runs=N_RUNS)
        r["build"] = {lvl: {"compile_s": v["compile_s"], "size_bytes": v["size"]}
                      for lvl, v in stats["variants"].items()}
        r["build"]["total_s"] = stats["total_s"]
        r["runtime_compiled"] = stats.get("runtime_compiled")
        r["publish"] = stats["publish"]
        results["projects"][name] = r
    first = next(iter(built))
    _, image_id, _ = built[first]
    print("bench: wrapper overhead, verification, concurrency ...", flush=True)
    variant = results["projects"][first]["variant"]
    results["overhead"] = measure.overhead(first, image_id, variant, config, NODE_VIEW, N_OVERHEAD)
    results["verification"] = measure.verification_in_child(config, first, NODE_VIEW, cache)
    results["concurrent"] = measure.concurrent(first, config, cache, N_CONCURRENT)
    if shapes:
        print("bench: image shapes of the example side by side ...", flush=True)
        results["image_shapes"] = measure.image_shapes(shapes, os.path.join(EXAMPLES, first, "workload.jl"),
                                                       N_SHAPE_RUNS)
    return results


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root (it mounts the store read-only)")
    key = setup()
    built = {}
    for name, sources in PROJECTS:
        if not os.path.isdir(os.path.join(EXAMPLES, name)):
            print(f"bench: {name} not found, skipped")
            continue
        built[name] = build_and_publish(name, sources, key + ".key")
    shapes = {}
    if "hep-analysis" in built:
        shapes = {label: build("hep-analysis", ["hep-analysis"], tag, flags) for label, tag, flags in SHAPES}
    config, cache = mount_and_configure(key)
    try:
        results = measure_all(built, config, cache, shapes)
    except RuntimeError as e:
        sys.exit(f"bench: {e}")
    finally:
        sh(["umount", "-l", NODE_VIEW], check=False)
    figures, checks = report.summarize(results)
    report.write(results, figures, os.path.join(HERE, "results.json"))
    report.chart(results, os.path.join(HERE, "launch-times.png"))
    print("\n" + report.render(results, figures, checks))
    print("\nwrote bench/results.json and bench/launch-times.png")


if __name__ == "__main__":
    main()
