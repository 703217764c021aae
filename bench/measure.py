"""The measurements of `make bench` (bench/run.py sets up the store and the
node, bench/report.py turns the numbers into figures).

Every function returns plain numbers (seconds, bytes) in a dict or list;
nothing here judges or prints.  `verification` runs in a fresh Python of the
venv (`python bench/measure.py verification CONFIG CHANNEL STORE CACHE`,
printing JSON), so its imports and caches are a job's, not the bench's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
from checkout import DD_RUN, JULIA, PYTHON, stock_julia, wrapper_variant  # noqa: E402
from depotdelivery.julia import JuliaInstall  # noqa: E402
from depotdelivery.detect import detect_level  # noqa: E402
from depotdelivery.levels import Level  # noqa: E402
from depotdelivery.model import ImageManifest, parse_manifest  # noqa: E402
from depotdelivery.wrapper.verify import select_variant  # noqa: E402


def timed(cmd: list[str], env: dict | None = None, cwd: str = "/tmp") -> float:
    """Seconds from start to exit of a command that must succeed."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:5])} ... failed ({p.returncode}): {p.stderr[-1500:]}")
    return dt


def bare_julia(store_view: str, image_id: str, variant: str) -> tuple[list[str], dict]:
    """`julia -J` with the image's system image and project, no wrapper.
    -> (argv prefix, environment)"""
    image = os.path.join(store_view, "images", image_id)
    argv = [JULIA, "-J", os.path.join(image, "variants", variant, "sys.so"), f"--project={image}/project"]
    return argv, dict(os.environ, JULIA_PKG_SERVER="", JULIA_DEPOT_PATH=os.path.join(store_view, "pool"))


def launch_times(channel: str, workload: str, build_dir: str, image_id: str, config: str, store_view: str,
                 work: str, *, n_cold: int, n_runs: int) -> dict:
    """Stock Julia cold and warm, the image through the wrapper (first launch,
    then cached) and bare `julia -J` with the variant the wrapper picked,
    interleaved so both see the same machine state."""
    res: dict = {"stock_cold_s": [], "stock_warm_s": []}
    for _ in range(n_cold):
        stock, env = stock_julia(build_dir, work, f"-{channel}")
        res["stock_cold_s"].append(timed([*stock, workload], env=env))
        res["stock_warm_s"].append(timed([*stock, workload], env=env))
    env = dict(os.environ, JULIA_PKG_SERVER="", DEPOTDELIVERY_CONFIG=config)
    wrapped = [DD_RUN, "--channel", channel, "--", "julia", workload]
    res["wrapper_first_launch_s"] = timed(wrapped, env=env)
    res["variant"] = wrapper_variant(config, channel)
    bare, bare_env = bare_julia(store_view, image_id, res["variant"])
    res["image_wrapper_s"], res["image_bare_s"] = [], []
    for _ in range(n_runs):
        res["image_wrapper_s"].append(timed(wrapped, env=env))
        res["image_bare_s"].append(timed([*bare, workload], env=bare_env))
    return res


def overhead(channel: str, image_id: str, variant: str, config: str, store_view: str, n: int) -> dict:
    """`julia -e nothing` through the wrapper (cached plan) and bare."""
    env = dict(os.environ, DEPOTDELIVERY_CONFIG=config)
    bare, bare_env = bare_julia(store_view, image_id, variant)
    w, b = [], []
    for _ in range(n):
        w.append(timed([DD_RUN, "--channel", channel, "--", "julia", "-e", "nothing"], env=env))
        b.append(timed([*bare, "-e", "nothing"], env=bare_env))
    return {"wrapper_s": w, "bare_s": b}


def image_shapes(shapes: dict[str, str], workload: str, n: int) -> dict:
    """Each way of building the example (name -> build folder), side by
    side: bytes, `julia -J IMG -e nothing`, the workload on this CPU (the
    variant a node here picks) and under an emulated baseline CPU
    (`-C x86-64`, the lowest variant); stock `julia -e nothing` alongside.
    Runs are interleaved so every shape sees the same machine state."""
    stock_image = JuliaInstall(JULIA).default_sysimage()
    out: dict = {"stock_sysimage_bytes": os.path.getsize(stock_image), "stock_e_nothing_s": [],
                 "shapes": {}}
    plans = {}
    for name, build in shapes.items():
        with open(os.path.join(build, "manifest.json"), "rb") as fb:
            manifest = parse_manifest(fb.read())
        variants = sorted(manifest.variants, key=lambda v: v.level_obj)
        with open(os.path.join(build, "build.json")) as f:
            stats = json.load(f)
        host = _host_variant(manifest).name
        so = {v.level: os.path.join(build, "image", v.sysimage) for v in variants}
        argv = [JULIA, f"--project={build}/image/project"]
        plans[name] = (argv, so[host], so[variants[0].level])
        out["shapes"][name] = {
            "variants": {v.level: {"cpu_target": v.cpu_target, "bytes": os.path.getsize(so[v.level]),
                                   "up_to": v.up_to} for v in variants},
            "node_variant": host, "node_bytes": os.path.getsize(so[host]),
            "build_s": stats["total_s"], "stdlibs": stats.get("stdlibs", {}).get("kept"),
            "runtime_compiled": stats.get("runtime_compiled"),
            "e_nothing_s": [], "workload_s": [], "workload_baseline_cpu_s": []}
    # Packages live in the image: no depot is needed, an empty one proves it.
    env = dict(os.environ, JULIA_PKG_SERVER="", JULIA_DEPOT_PATH=tempfile.mkdtemp(prefix="dd-bench-depot-"),
               JULIA_LOAD_PATH="@:@stdlib")
    for _ in range(n):
        out["stock_e_nothing_s"].append(timed([JULIA, "--startup-file=no", "-e", "nothing"], env=env))
        for name, (argv, node_so, low_so) in plans.items():
            r = out["shapes"][name]
            r["e_nothing_s"].append(timed([*argv, "-J", node_so, "-e", "nothing"], env=env))
            r["workload_s"].append(timed([*argv, "-J", node_so, workload], env=env))
            r["workload_baseline_cpu_s"].append(timed([*argv, "-J", low_so, "-C", "x86-64", workload], env=env))
    return out


def _host_variant(manifest: ImageManifest) -> Level:
    """The variant a node with this CPU picks: the wrapper's own rule."""
    return select_variant(manifest, detect_level() or manifest.levels()[0])


def verification_in_child(config: str, channel: str, store_view: str, cache: str) -> dict:
    """`verification` in a fresh Python of the venv (cwd /tmp: `python -c`
    would put the checkout first on sys.path, shadowing the installed package)."""
    p = subprocess.run([PYTHON, os.path.abspath(__file__), "verification", config, channel, store_view, cache],
                       capture_output=True, text=True, cwd="/tmp")
    if p.returncode != 0:
        raise RuntimeError(f"verification failed ({p.returncode}): {p.stderr[-1500:]}")
    return json.loads(p.stdout)


def verification(config: str, channel: str, store_view: str, cache: str, *, rounds: int = 5,
                 cached_rounds: int = 300) -> dict:
    """First verification: only the hashing and listing of the variant's
    files (verify_world after read_manifest), timed `rounds` times; cached:
    the fast path's check of the launch plan.  Both for the variant the
    wrapper picks."""
    os.environ["DEPOTDELIVERY_CONFIG"] = config
    from depotdelivery.config import load_config
    from depotdelivery.wrapper import fastpath
    from depotdelivery.wrapper.launch import LaunchRequest, prepare
    from depotdelivery.wrapper.verify import read_manifest, trusted_keys, verify_world
    shutil.rmtree(os.path.join(cache, "u0"), ignore_errors=True)
    launch = prepare(LaunchRequest(command=("julia",), channel=channel))  # picks the variant, writes the plan
    cfg = load_config()
    anchors = trusted_keys(cfg.trusted_keys, cfg.revoked_keys, where=cfg.path)
    root = os.path.realpath(store_view)
    first, read = [], []
    for _ in range(rounds):
        img = read_manifest(root, launch.image_id, anchors)
        world = img.world(launch.level)
        before = _bytes_read()
        t0 = time.perf_counter()
        verify_world(img, world)
        first.append(time.perf_counter() - t0)
        read.append(_bytes_read() - before)
    key = fastpath.request_key(config, "", channel, "", "", True)
    cached = []
    for _ in range(cached_rounds):
        t0 = time.perf_counter()
        found = fastpath.find_plan(key, None)
        cached.append(time.perf_counter() - t0)
        if not found:
            raise RuntimeError("the fast path found no plan right after a launch wrote one")
    return {"first_s": first, "cached_s": cached, "bytes": sum(f.size for f in world.files),
            "variant": launch.level, "bytes_read_s": read,
            # The closed world's cost: folders listed and paths proven absent per verification.
            "dirs_listed": len(world.dirs()) - len(world.shared), "dirs_identity": len(world.shared),
            "absent_checked": len(world.absent), "files_hashed": len(world.files)}


def _bytes_read() -> int:
    """Bytes this process has read through read(2) so far (page cache
    included): what verification pulls from the store."""
    with open("/proc/self/io") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("rchar:"))


def concurrent(channel: str, config: str, cache: str, n: int) -> dict:
    """`n` first launches at once on one node, fresh cache: one verifies and
    hydrates, the others wait for it and re-use its plan.  Each launch notes
    when it reached each phase (DEPOTDELIVERY_TIMING, wrapper/timing.py)."""
    shutil.rmtree(os.path.join(cache, "u0"), ignore_errors=True)
    timing = os.path.join(cache, "timing.jsonl")
    if os.path.exists(timing):
        os.unlink(timing)
    env = dict(os.environ, DEPOTDELIVERY_CONFIG=config, DEPOTDELIVERY_TIMING=timing)
    cmd = [DD_RUN, "--channel", channel, "--", "/bin/true"]
    t0 = time.perf_counter()
    pending = []
    for _ in range(n):
        start = time.perf_counter()
        pending.append((subprocess.Popen(cmd, env=dict(env, DEPOTDELIVERY_T0=repr(time.time()))), start))
    latency, codes = [], []
    while pending:
        for item in list(pending):
            p, start = item
            if p.poll() is not None:
                latency.append(time.perf_counter() - start)
                codes.append(p.returncode)
                pending.remove(item)
        time.sleep(0.001)
    with open(timing) as f:
        phases = [json.loads(line) for line in f]
    return {"latency_s": latency, "codes": codes, "wall_s": time.perf_counter() - t0, "phases": phases}


if __name__ == "__main__":
    if sys.argv[1:2] != ["verification"] or len(sys.argv) != 6:
        sys.exit("usage: measure.py verification CONFIG CHANNEL STORE_VIEW CACHE")
    print(json.dumps(verification(*sys.argv[2:])))
