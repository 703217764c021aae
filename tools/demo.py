#!/usr/bin/env python3
"""`make demo`: the main job end to end on the embedded default store.

Builds the example for x86-64 and x86-64-v3, publishes it signed to a
directory store, mounts the store read-only where a node would see /cvmfs,
runs the example job through the wrapper as an ordinary user, and compares
it with stock Julia starting cold.
"""

import json
import os
import pwd
import shutil
import subprocess
import sys
import time

from checkout import DD, DD_RUN, EXAMPLES, REPO, stock_julia, unmount, wrapper_variant, write_site_config

EXAMPLE = os.path.join(EXAMPLES, "hep-analysis")
WORK = os.path.join(REPO, "_build", "demo")
SITE = "/srv/depotdelivery-demo"  # world-readable: the job user reads it
STORE = os.path.join(SITE, "store")
NODE_VIEW = os.path.join(SITE, "cvmfs", "julia.demo.org", "depots")
USER = "ddjob"


def sh(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run(cmd, **kw)


def say(text):
    print(f"\n== {text}", flush=True)


def ensure_user():
    try:
        pwd.getpwnam(USER)
    except KeyError:
        sh(["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", USER])
    p = subprocess.run(["runuser", "-u", USER, "--", "test", "-x", DD_RUN])
    if p.returncode != 0:
        sys.exit(f"demo: user {USER} cannot run {DD_RUN}: clone the repository into a folder "
                 "other users can read (e.g. /srv or /opt), then run make demo again")


def timed(cmd, **kw):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"demo: {' '.join(cmd[:6])} ... failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return dt, p


def main():
    if os.geteuid() != 0:
        sys.exit("demo: run as root (it mounts the store read-only and runs the job as another user)")
    os.makedirs(WORK, exist_ok=True)
    ensure_user()
    build = os.path.join(WORK, "hep")
    registry = os.path.join(WORK, "registry")
    keys = os.path.join(WORK, "keys", "ci")

    say("local package registry (the example's packages as git repositories)")
    shutil.rmtree(registry, ignore_errors=True)
    url = sh([DD, "registry", "create", *sorted(os.path.join(EXAMPLE, "packages", n)
              for n in os.listdir(os.path.join(EXAMPLE, "packages"))), "--out", registry],
             capture_output=True, text=True).stdout.strip()
    print(url)
    if not os.path.exists(keys + ".key"):
        sh([DD, "keygen", keys])

    unmount(NODE_VIEW)
    if os.path.exists(os.path.join(build, "manifest.json")):
        say(f"reusing the build in {build} (rm -rf {WORK} to rebuild)")
    else:
        say("build the example for x86-64 and x86-64-v3 (~4 min on 2 cores)")
        sh([DD, "build", EXAMPLE, "--levels", "x86-64,x86-64-v3", "--workload",
            os.path.join(EXAMPLE, "workload.jl"), "--out", build, "--registry", url, "--store-path", NODE_VIEW])

    say("publish, signed, to the directory store")
    shutil.rmtree(SITE, ignore_errors=True)
    os.makedirs(NODE_VIEW)
    for d in (SITE, os.path.join(SITE, "cvmfs")):
        os.chmod(d, 0o755)
    pub = json.loads(sh([DD, "publish", build, "--store", STORE, "--key", keys + ".key", "--channel", "stable",
                         "--json"], capture_output=True, text=True).stdout)
    image = pub["image_id"]
    sh([DD, "ls", "--store", STORE])

    say(f"mount the store read-only at {NODE_VIEW}, as a node sees /cvmfs")
    sh(["mount", "--bind", "-o", "ro", STORE, NODE_VIEW])
    shutil.copy(keys + ".pub", os.path.join(SITE, "ci.pub"))
    os.chmod(os.path.join(SITE, "ci.pub"), 0o644)
    cache = os.path.join(SITE, "node-cache")
    os.makedirs(cache)
    os.chmod(cache, 0o1777)
    config = write_site_config(os.path.join(SITE, "site.toml"), stores=[NODE_VIEW], trusted_keys=["ci.pub"],
                               cache_dir=cache, max_level="x86-64-v3")

    say("stock Julia, fully cold (empty compile cache: precompile + JIT)")
    stock, env = stock_julia(build, WORK)
    t_cold, _ = timed([*stock, os.path.join(EXAMPLE, "workload.jl")], env=env, cwd="/tmp")

    say(f"the same job through the wrapper, as user {USER}: first launch (verifies), then cached")
    job = ["runuser", "-u", USER, "--", "env", f"DEPOTDELIVERY_CONFIG={config}", DD_RUN,
           "--channel", "stable", "--", "julia", os.path.join(EXAMPLE, "workload.jl")]
    t_first, first = timed(job, cwd="/tmp")
    t_cached, cached = timed(job, cwd="/tmp")
    print("\n".join(cached.stdout.splitlines()[:4]))
    variant = wrapper_variant(config, "stable", user=USER)
    detect = sh([DD, "detect", "--json"], capture_output=True, text=True,
                env=dict(os.environ, DEPOTDELIVERY_CONFIG=config)).stdout
    det = json.loads(detect)
    same = first.stdout == cached.stdout
    print(f"""
== result ({os.cpu_count()} cores, image {image[:12]})
  stock Julia, cold start           {t_cold:7.2f} s
  image via wrapper, first launch   {t_first:7.2f} s   (verifies the variant's files, hydrates a depot)
  image via wrapper, cached         {t_cached:7.2f} s
  speed-up (cold / cached)          {t_cold / t_cached:7.1f} x
  variant chosen                    {variant}  ({det['reason']}; site max_level x86-64-v3)
  job output identical              {'yes' if same else 'NO'}
  store mounted read-only at        {NODE_VIEW}
""")


if __name__ == "__main__":
    main()
