"""depotdelivery on a real Slurm 22.05 cluster that these tests start: munged,
slurmctld and three slurmd on 127.0.0.1 (tests/harness_slurm.py), set up the
way site-configs/slurm/README.md tells an admin to: job_submit.lua and its
index beside slurm.conf, the Prolog/TaskProlog/Epilog hooks, node Features
from `depotdelivery-node-features`.

Nodes: dd-v3 (a Haswell, Features up to x86-64-v3), dd-base (a Core 2,
x86-64 only; both CPUs replayed from recorded cpuinfo files) and, in a
partition of its own, dd-liar: a Core 2 whose Features claim x86-64-v3.
Images: the example (variants x86-64 and x86-64-v3, channel `stable`) and
the tiny fixture (x86-64-v3 only, channel `tiny`).  Jobs run as an ordinary
user, through the wrapper, and the tests look at what happened (node,
variant, output, exit code, node state), not at submit exit codes alone.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

import pytest

from conftest import DD, EXAMPLE, JOB_USER, REPO, TINY, VENV_BIN, run, write_site_config
from harness_slurm import NodeSpec, SlurmCluster

pytestmark = pytest.mark.slurm

SITE_CONFIGS = os.path.join(REPO, "site-configs", "slurm")
HOOKS = ("depotdelivery-prolog", "depotdelivery-taskprolog", "depotdelivery-epilog")
CPUINFO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cpuinfo")
HASWELL = os.path.join(CPUINFO, "intel-haswell-e5-2680v3.x86-64-v3.txt")
CORE2 = os.path.join(CPUINFO, "intel-core2-merom.x86-64.txt")
V3_FEATURES = "x86-64,x86-64-v2,x86-64-v3"
HEP_WORKLOAD = os.path.join(EXAMPLE, "workload.jl")
TINY_WORKLOAD = os.path.join(TINY, "workload.jl")
# One Julia process: say which image and variant run, then the workload.
PROBE = ('println("variant=", ENV["DEPOTDELIVERY_VARIANT"], " image=", ENV["DEPOTDELIVERY_IMAGE_ID"]); '
         "include(ARGS[1])")


@dataclass
class Site:
    base: str
    store_src: str  # the publisher's side (writable)
    store: str  # read-only mount the nodes see
    config: str
    cache_dir: str
    key: str  # the publisher's secret key
    cluster: SlurmCluster
    hep: str  # image ids
    tiny: str
    jobs: str  # the job user's folder
    hook_log: str

    @property
    def index(self) -> str:
        return os.path.join(self.cluster.conf_dir, "depotdelivery-index.txt")

    def reindex(self) -> None:
        run([DD, "slurm-index", "--store", self.store, "--out", self.index],
            env={"DEPOTDELIVERY_CONFIG": self.config}, check=True)

    def user_env(self) -> dict:
        return {"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin"}

    def sbatch(self, args: list[str], script: str | None = None):
        """Submit as the job user; -> (sbatch process, job id or None)."""
        extra = []
        if script is not None:
            fd, path = tempfile.mkstemp(suffix=".sh", dir=self.jobs)
            with os.fdopen(fd, "w") as f:
                f.write("#!/bin/sh\n" + script + "\n")
            os.chmod(path, 0o755)
            extra = [path]
        return self.cluster.sbatch(["--chdir", self.jobs, "-o", os.path.join(self.jobs, "%j.out"),
                                    *args, *extra], user=JOB_USER, env=self.user_env())

    def srun(self, args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
        return self.cluster.run(["srun", "--chdir", self.jobs, *args], user=JOB_USER, env=self.user_env(),
                                timeout=timeout)

    def output(self, job_id: int) -> str:
        with open(os.path.join(self.jobs, f"{job_id}.out"), errors="replace") as f:
            return f.read()

    def ran(self, job_id: int, timeout: float = 240):
        """Wait for a job; -> (job, its output)."""
        job = self.cluster.wait(job_id, timeout=timeout)
        try:
            out = self.output(job_id)
        except OSError:
            out = ""
        return job, out


def julia_job(workload: str) -> str:
    return ('echo "pin=$DEPOTDELIVERY_PIN node=$SLURMD_NODENAME"\n'
            f"srun depotdelivery run -- julia -e {shlex.quote(PROBE)} {shlex.quote(workload)}")


def _env_file(path: str, *, base: str, config: str, conf_dir: str) -> None:
    """The site's depotdelivery.env, with per-node CPUs replayed (the
    baseline nodes are Core 2s) and a switch that makes dd-liar's store
    unreachable (a node fault)."""
    with open(path, "w") as f:
        f.write(f"""DEPOTDELIVERY={DD}
DEPOTDELIVERY_CONFIG={config}
DEPOTDELIVERY_SLURM_RUNDIR={base}/run
DEPOTDELIVERY_SLURM_LOG={base}/hooks.log
SLURM_CONF={conf_dir}/slurm.conf
case "$SLURMD_NODENAME" in
    dd-v3) DEPOTDELIVERY_CPUINFO={HASWELL} ;;
    dd-base | dd-liar) DEPOTDELIVERY_CPUINFO={CORE2} ;;
esac
if [ "$SLURMD_NODENAME" = dd-liar ] && [ -e {base}/fault-store-gone ]; then
    DEPOTDELIVERY_CONFIG={base}/site-nostore.toml
fi
""")


def node_features(env_file: str, node: str) -> str:
    """What the site's Features generator prints for a node."""
    p = run([os.path.join(SITE_CONFIGS, "depotdelivery-node-features"), node],
            env={"DEPOTDELIVERY_SLURM_ENV": env_file}, check=True)
    line = p.stdout.strip()
    assert line.startswith(f"NodeName={node} Features="), line
    return line.split("Features=", 1)[1]


@pytest.fixture(scope="module")
def site(workdir, pristine_store, tiny_v3_build, ci_keys, job_user):
    t0 = time.monotonic()
    base = tempfile.mkdtemp(prefix="dd-slurm-site-", dir="/tmp")
    os.chmod(base, 0o755)
    src, hep = pristine_store
    store_src = os.path.join(base, "store")
    subprocess.run(["cp", "-al", src, store_src], check=True)
    p = run([DD, "publish", tiny_v3_build, "--store", store_src, "--key", ci_keys[0], "--channel", "tiny",
             "--json"], check=True)
    tiny = json.loads(p.stdout)["image_id"]
    run([DD, "channel", "set", "moving", hep, "--store", store_src, "--key", ci_keys[0]], check=True)
    # The nodes' read-only view: not NODE_STORE (other test modules mount
    # there); jobs run the system image, which does not depend on the path.
    store = os.path.join(base, "mnt", "depots")
    os.makedirs(store)
    subprocess.run(["mount", "--bind", "-o", "ro", store_src, store], check=True)
    cache_dir = os.path.join(base, "cache")
    os.makedirs(cache_dir)
    os.chmod(cache_dir, 0o1777)
    config = os.path.join(base, "site.toml")
    write_site_config(config, store=store, pubkeys=[ci_keys[1]], cache_dir=cache_dir)
    write_site_config(os.path.join(base, "site-nostore.toml"), store=os.path.join(base, "gone"),
                      pubkeys=[ci_keys[1]], cache_dir=cache_dir)
    jobs = os.path.join(base, "jobs")
    os.makedirs(jobs)
    os.chown(jobs, job_user.pw_uid, job_user.pw_gid)

    slurm_base = os.path.join(base, "slurm")
    conf_dir = os.path.join(slurm_base, "etc")
    env_file = os.path.join(base, "depotdelivery.env")
    _env_file(env_file, base=base, config=config, conf_dir=conf_dir)
    t_features = time.monotonic()
    nodes = [NodeSpec("dd-v3", node_features(env_file, "dd-v3")),
             NodeSpec("dd-base", node_features(env_file, "dd-base")),
             NodeSpec("dd-liar", V3_FEATURES, partition="liar")]  # Features that lie about its CPU
    t_features = time.monotonic() - t_features
    files = {name: os.path.join(SITE_CONFIGS, name) for name in HOOKS}
    files["depotdelivery.env"] = env_file
    files["job_submit.lua"] = os.path.join(REPO, "submit", "job_submit.lua")
    extra = "\n".join(["JobSubmitPlugins=lua", *(f"{k}={conf_dir}/depotdelivery-{k.lower()}"
                                                   for k in ("Prolog", "TaskProlog", "Epilog"))])
    cluster = SlurmCluster(nodes, extra_conf=extra, files=files, base=slurm_base)
    s = Site(base, store_src, store, config, cache_dir, ci_keys[0], cluster, hep, tiny, jobs,
             os.path.join(base, "hooks.log"))
    try:
        cluster.start()
        s.reindex()
        cluster.timings["features_s"] = round(t_features, 2)
        cluster.timings["site_s"] = round(time.monotonic() - t0, 2)
        print(f"\nslurm site up: {cluster.timings}")
        yield s
    finally:
        cluster.stop()
        subprocess.run(["umount", "-l", store], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _job_uid() -> int:
    return pwd.getpwnam(JOB_USER).pw_uid


# -- node side -------------------------------------------------------------------
def test_node_features_come_from_the_cpu_detection(site):
    doc = json.loads(site.cluster.run(["sinfo", "--json"]).stdout)
    features = {n["name"]: n["features"] for n in doc["nodes"]}
    assert features == {"dd-v3": V3_FEATURES, "dd-base": "x86-64", "dd-liar": V3_FEATURES}


# -- jobs that run ----------------------------------------------------------------
def test_batch_jobs_land_where_they_should_and_run_the_right_variant(site):
    submitted = {}
    for node in ("dd-v3", "dd-base"):
        p, job_id = site.sbatch(["-w", node, "--comment=julia-image=stable"], julia_job(HEP_WORKLOAD))
        assert job_id, p.stderr
        # sbatch shows the user what the job was pinned to.
        assert f"pinned to image {site.hep[:12]}" in p.stderr
        submitted[node] = job_id
    for node, variant in (("dd-v3", "x86-64-v3"), ("dd-base", "x86-64")):
        job, out = site.ran(submitted[node])
        assert (job.state, job.exit_code, job.nodes) == ("COMPLETED", 0, node), out
        assert f"pin={site.hep} node={node}" in out
        assert f"variant={variant} image={site.hep}" in out
        assert "HepAnalysis: 150 events" in out
        # The pin and the constraint are on the job, where Slurm and the Prolog see them.
        assert f"julia-image-id={site.hep}" in job.raw and "Features=x86-64 " in job.raw
        # Root's Prolog verified the image before the job: its record is
        # root-owned and world-readable, and the job's wrapper trusted it
        # instead of hashing the image again (it wrote no record of its own).
        u0 = os.path.join(site.cache_dir, "u0", "verified")
        rec = [n for n in os.listdir(u0) if n.startswith(f"{site.hep}.{variant}.")]
        assert rec, os.listdir(u0)
        st = os.stat(os.path.join(u0, rec[0]))
        assert st.st_uid == 0 and st.st_mode & 0o777 == 0o644
        own = os.path.join(site.cache_dir, f"u{_job_uid()}")
        assert os.listdir(os.path.join(own, "plans"))  # the wrapper did use its cache folder
        assert not [n for n in (os.listdir(own + "/verified") if os.path.isdir(own + "/verified") else [])
                    if n.startswith(f"{site.hep}.{variant}.")]


def test_srun_job_with_a_comment_is_pinned_the_same_way(site):
    t = time.monotonic()
    p = site.srun(["-w", "dd-base", "--comment=julia-image=stable", "depotdelivery", "run", "--",
                   "julia", "-e", PROBE, HEP_WORKLOAD])
    elapsed = time.monotonic() - t
    assert p.returncode == 0, p.stderr
    assert f"pinned to image {site.hep[:12]}" in p.stderr
    assert f"variant=x86-64 image={site.hep}" in p.stdout
    assert "HepAnalysis: 150 events" in p.stdout
    print(f"\nsrun job (submit to exit, example workload): {elapsed:.1f} s")


def test_ab_validation_a_slurm_node_runs_what_ci_built(site):
    """The A/B run: fingerprint the image as a real job on a node, then
    validate it against the fingerprint the build recorded."""
    out = os.path.join(site.jobs, "node-fingerprint.json")
    p = site.srun(["-w", "dd-v3", "--comment=julia-image=stable", "depotdelivery", "fingerprint",
                   "--workload", HEP_WORKLOAD, "--out", out])
    assert p.returncode == 0, p.stderr
    p = run([DD, "validate", "--store", site.store, "--image", site.hep, out],
            env={"DEPOTDELIVERY_CONFIG": site.config})
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("identical:") and "variant x86-64-v3" in p.stdout


def test_v3_only_image_never_lands_on_a_baseline_node(site):
    p, job_id = site.sbatch(["-w", "dd-base", "--comment=julia-image=tiny"], julia_job(TINY_WORKLOAD))
    assert job_id is None and p.returncode != 0
    assert "x86-64-v3" in p.stderr  # our note: it needs a node with that feature
    p, job_id = site.sbatch(["--comment=julia-image=tiny"], julia_job(TINY_WORKLOAD))
    assert job_id, p.stderr
    job, out = site.ran(job_id)
    assert (job.state, job.exit_code, job.nodes) == ("COMPLETED", 0, "dd-v3"), out
    assert f"variant=x86-64-v3 image={site.tiny}" in out and "hello, batch" in out
    assert "Features=x86-64-v3 " in job.raw


def test_a_pinned_job_keeps_its_image_when_the_channel_moves(site):
    p, job_id = site.sbatch(["--hold", "-w", "dd-v3", "--comment=julia-image=moving"], julia_job(HEP_WORKLOAD))
    assert job_id, p.stderr
    run([DD, "channel", "set", "moving", site.tiny, "--store", site.store_src, "--key", site.key], check=True)
    site.reindex()
    # The user cannot re-pin the pending job, and a new constraint keeps the CPU level.
    p = site.cluster.run(["scontrol", "update", f"JobId={job_id}", "Comment=julia-image=tiny"], user=JOB_USER)
    assert p.returncode != 0, p.stdout
    p = site.cluster.run(["scontrol", "update", f"JobId={job_id}", f"Comment=julia-image-id={site.tiny}"],
                         user=JOB_USER)
    assert p.returncode != 0
    # Restating the channel, or editing the rest of the comment, keeps the pin.
    p = site.cluster.run(["scontrol", "update", f"JobId={job_id}", "Comment=julia-image=moving note"],
                         user=JOB_USER)
    assert p.returncode == 0, p.stderr
    p = site.cluster.run(["scontrol", "update", f"JobId={job_id}", "Features=x86-64-v2"], user=JOB_USER)
    assert p.returncode == 0, p.stderr
    job = site.cluster.job(job_id)
    assert f"julia-image=moving julia-image-id={site.hep} julia-image-level=x86-64 note" in job.raw
    assert "Features=x86-64-v2&x86-64 " in job.raw
    # New jobs get the channel's new image.
    p, new_id = site.sbatch(["--hold", "--comment=julia-image=moving"], "true")
    assert new_id and f"julia-image-id={site.tiny}" in site.cluster.job(new_id).raw
    site.cluster.run(["scancel", str(new_id)], user=JOB_USER)
    site.cluster.run(["scontrol", "release", str(job_id)], user=JOB_USER)
    job, out = site.ran(job_id)
    assert (job.state, job.exit_code) == ("COMPLETED", 0), out
    assert f"variant=x86-64-v3 image={site.hep}" in out and "HepAnalysis: 150 events" in out


def test_an_image_id_prefix_or_name_pins_too_but_not_after_submit(site):
    name = json.loads(run([DD, "ls", "--store", site.store, "--json"]).stdout)
    hep_name = next(i["name"] for i in name["images"] if i["id"] == site.hep)
    for ref in (site.hep, site.hep[:10], hep_name):
        p, job_id = site.sbatch(["--hold", f"--comment=julia-image={ref}"], "true")
        assert job_id, (ref, p.stderr)
        assert f"julia-image-id={site.hep} julia-image-level=x86-64" in site.cluster.job(job_id).raw
        site.cluster.run(["scancel", str(job_id)])
    _, job_id = site.sbatch(["--hold"], "true")
    p = site.cluster.run(["scontrol", "update", f"JobId={job_id}", "Comment=julia-image=stable"], user=JOB_USER)
    site.cluster.run(["scancel", str(job_id)])
    assert p.returncode != 0  # an image is asked for at submit, where the constraint is added


# -- jobs that must fail, and how ---------------------------------------------------
def test_a_tampered_image_fails_the_job_not_the_node(site):
    rel = os.path.join("images", site.tiny, "variants", "x86-64-v3", "sys.so")
    path = os.path.join(site.store_src, rel)
    # Kept outside the image: a file beside sys.so is itself an unlisted
    # file where Julia looks, refused before any hashing.
    saved = os.path.join(site.base, "tiny-sys.so.saved")
    os.link(path, saved)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[len(data) // 2] ^= 0xFF
    tmp = path + ".tamper"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)  # a new file: the pristine store's inode is untouched
    try:
        p, job_id = site.sbatch(["--comment=julia-image=tiny"], julia_job(TINY_WORKLOAD))
        assert job_id, p.stderr
        job, out = site.ran(job_id)
    finally:
        os.rename(saved, path)
    assert (job.state, job.exit_code) == ("FAILED", 65), out
    assert "depotdelivery: image-invalid:" in out and "sys.so does not match its sha256" in out
    assert "hello" not in out
    assert site.cluster.node_state(job.nodes)[0] == "idle"  # not drained
    assert f"job {job_id} on {job.nodes}" in _read(site.hook_log)


def test_a_node_whose_features_lie_still_refuses_the_variant(site):
    p, job_id = site.sbatch(["-p", "liar", "--comment=julia-image=tiny"], julia_job(TINY_WORKLOAD))
    assert job_id, p.stderr
    job, out = site.ran(job_id)
    assert (job.state, job.exit_code, job.nodes) == ("FAILED", 75, "dd-liar"), out
    assert "depotdelivery: run-elsewhere:" in out and "runs up to x86-64" in out
    assert "hello" not in out
    assert site.cluster.node_state("dd-liar")[0] == "idle"


def test_a_node_that_cannot_reach_the_store_is_drained_and_the_job_kept(site):
    switch = os.path.join(site.base, "fault-store-gone")  # depotdelivery.env: dd-liar's store is gone
    open(switch, "w").close()
    job_id = None
    try:
        p, job_id = site.sbatch(["-p", "liar", "--comment=julia-image=stable"], julia_job(HEP_WORKLOAD))
        assert job_id, p.stderr
        job = site.cluster.wait(job_id, timeout=60, until=lambda j: "held" in j.reason.lower()
                                or j.state not in ("PENDING", "RUNNING", "CONFIGURING"))
        # The job is kept (requeued and held) for another node; the node
        # is drained with the reason, for the admin.
        assert (job.state, job.reason) == ("PENDING", "launch_failed_requeued_held"), job.raw
        state, reason = site.cluster.node_state("dd-liar")
        assert state == "drained" and reason.startswith("depotdelivery: unavailable: store "), (state, reason)
        assert "not reachable" in reason
    finally:
        os.unlink(switch)
        if job_id:
            site.cluster.run(["scancel", str(job_id)])
        site.cluster.run(["scontrol", "update", "NodeName=dd-liar", "State=RESUME"])
    assert site.cluster.wait_node("dd-liar", "idle")[0] == "idle"


def test_an_unknown_channel_is_refused_at_submit(site):
    p, job_id = site.sbatch(["--comment=julia-image=nosuch"], "true")
    assert job_id is None and p.returncode != 0
    assert "unknown julia-image 'nosuch'" in p.stderr and "stable" in p.stderr
    p = site.srun(["--comment=julia-image=nosuch", "true"], timeout=60)
    assert p.returncode != 0 and "unknown julia-image 'nosuch'" in p.stderr


@pytest.mark.parametrize("comment", [
    "julia-image:stable", "julia-image=", "julia-image=a/b", "julia-image=stable julia-image=tiny",
    "julia-images=stable", f"julia-image=stable julia-image-id={'a' * 64}", f"julia-image-id={'a' * 64}",
])
def test_a_malformed_or_forged_comment_is_refused_at_submit(site, comment):
    p, job_id = site.sbatch([f"--comment={comment}"], "true")
    assert job_id is None and p.returncode != 0
    assert "depotdelivery:" in p.stderr and "--comment=julia-image=" in p.stderr


def _submit_with_extra_channel(site, name: str, levels: tuple[str, ...], expires: int):
    """Submit `julia-image=name` against the index plus one made-up channel
    (what job_submit.lua does with it does not depend on the image)."""
    from depotdelivery.submit import slurm_index
    idx = slurm_index.read(site.index)
    idx.channels[name] = slurm_index.ChannelEntry(name, site.tiny, levels, expires)
    with open(site.index) as f:
        saved = f.read()
    slurm_index.write(site.index, slurm_index.render(idx, source="test"))
    try:
        return site.sbatch([f"--comment=julia-image={name}"], "true")
    finally:
        slurm_index.write(site.index, saved)


def test_an_image_no_node_offers_is_refused_at_submit_not_left_pending(site):
    p, job_id = _submit_with_extra_channel(site, "future", ("x86-64-v4",), 2 ** 32)
    assert job_id is None and p.returncode != 0
    assert "needs a node with feature x86-64-v4" in p.stderr and "Invalid feature" in p.stderr


def test_an_expired_channel_is_refused_at_submit(site):
    p, job_id = _submit_with_extra_channel(site, "frozen", ("x86-64",), int(time.time()) - 60)
    assert job_id is None and p.returncode != 0
    assert "channel frozen expired at" in p.stderr


def test_without_a_usable_index_only_image_requests_are_refused(site):
    with open(site.index) as f:
        good = f.read()
    broken = {"missing": None, "truncated": good[: good.rindex("end ")], "garbage": "hello\n"}
    try:
        for what, text in broken.items():
            if text is None:
                os.unlink(site.index)
            else:
                with open(site.index, "w") as f:
                    f.write(text)
            p, job_id = site.sbatch(["--comment=julia-image=stable"], "true")
            assert job_id is None, what
            assert ("is missing" if text is None else "is corrupt") in p.stderr, (what, p.stderr)
            p, job_id = site.sbatch(["--comment=just a note"], "echo plain job")
            assert job_id, (what, p.stderr)
            job, out = site.ran(job_id, timeout=60)
            assert job.state == "COMPLETED" and "plain job" in out, (what, out)
    finally:
        with open(site.index, "w") as f:
            f.write(good)
    p, job_id = site.sbatch(["--hold", "--comment=julia-image=stable"], "true")
    assert job_id, p.stderr
    site.cluster.run(["scancel", str(job_id)])


# -- status ------------------------------------------------------------------------
def test_status_shows_which_node_runs_which_image_and_variant(site):
    env = {"DEPOTDELIVERY_CONFIG": site.config, **site.cluster.env}
    _, held = site.sbatch(["--hold", "--comment=julia-image=stable"], "true")
    p = run([DD, "status", "--slurm", "--json", "--store", site.store], env=env)
    site.cluster.run(["scancel", str(held)])
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert [(j["job_id"], j["state"], j["image"]) for j in doc["jobs"]] == [(held, "PENDING", site.hep)]
    assert doc["runs"]["stable"] == {"dd-v3": "x86-64-v3", "dd-base": "x86-64", "dd-liar": "x86-64-v3"}
    assert doc["runs"]["tiny"] == {"dd-v3": "x86-64-v3", "dd-base": "", "dd-liar": "x86-64-v3"}
    assert doc["channels"]["stable"]["image"] == site.hep
    p = run([DD, "status", "--slurm", "--index", site.index], env=env)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    header = next(l.split() for l in lines if l.strip().startswith("NODE"))
    rows = {l.split()[0]: dict(zip(header, l.split(), strict=False)) for l in lines if l.startswith("  dd-")}
    assert rows["dd-base"]["stable"] == "x86-64" and rows["dd-base"]["tiny"] == "-"
    assert rows["dd-v3"]["tiny"] == "x86-64-v3" and rows["dd-v3"]["STATE"] == "idle"


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""
