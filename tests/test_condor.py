"""HTCondor integration on a real personal pool (tests/harness_condor.py):
the site snippet site-configs/htcondor/50-depotdelivery.conf as shipped, jobs
submitted with condor_submit by an ordinary user, two execute nodes of
different CPU levels.  Every check looks at the effect (the job's ad, state,
reason and output), because HTCondor ignores most mistakes silently."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time

import pytest

# NODE_STORE: where nodes see the store, the path baked into the cached build.
from conftest import CPUINFO_DIR_NAME, DD, EXAMPLE, NODE_STORE, run
from harness_condor import Pool, prepare_chroot, start_pool, teardown
from harness_condor import CHANNEL_TABLE, CPUINFO_DIR

pytestmark = pytest.mark.htcondor
HERE = os.path.dirname(os.path.abspath(__file__))
SNIPPET = os.path.join(os.path.dirname(HERE), "site-configs", "htcondor", "50-depotdelivery.conf")

IDLE, RUNNING, HELD, COMPLETED = 1, 2, 5, 4
PROBE_JL = 'println("image ", ENV["DEPOTDELIVERY_IMAGE_ID"], " variant ", ENV["DEPOTDELIVERY_VARIANT"])\n'
ON_BASELINE = 'regexp("@baseline@", TARGET.Name)'
ON_FULL = '!regexp("@baseline@", TARGET.Name)'


# -- images made from the one cached build (no Julia build) ---------------------------
def derive_image(build: str, out: str, *, name: str, keep: tuple[str, ...],
                 relabel: tuple[str, str, str] | None = None) -> str:
    """A new image from an existing build without compiling: a subset of its
    variants (and optionally one variant relabelled as another level), under
    another name, so its id differs.  The build's files are hard-linked."""
    from depotdelivery.model import Variant, parse_manifest
    # realpath: `cp -a` of a symlinked cache entry would copy the link, and the
    # manifest written below would land in the cached build itself.
    subprocess.run(["cp", "-al", os.path.realpath(build), out], check=True)
    assert os.path.isdir(out) and not os.path.islink(out)
    path = os.path.join(out, "manifest.json")
    with open(path, "rb") as f:
        m = parse_manifest(f.read())
    os.unlink(path)  # a hard link to the cached build's manifest: never write through it
    variants = [v for v in m.variants if v.level in keep]
    files = [f for f in m.files if not f.variant or f.variant in keep]
    if relabel:
        old, new, target = relabel
        variants = [Variant(new, target, v.sysimage, v.fingerprint) if v.level == old else v for v in variants]
        files = [dataclasses.replace(f, variant=new) if f.variant == old else f for f in files]
    m = dataclasses.replace(m, name=name, variants=tuple(variants), files=tuple(files))
    with open(path, "wb") as f:
        f.write(m.canonical())
    return m.image_id


@dataclasses.dataclass
class Images:
    store: str  # the publisher's side: a writable clone of the pristine store
    key: str
    other_key: str
    stable: str
    v3only: str
    v4only: str
    tamperme: str
    untrusted: str


def _publish(build: str, store: str, key: str, channel: str, expires: str = "30d") -> None:
    run([DD, "publish", build, "--store", store, "--key", key, "--channel", channel,
         "--expires", expires], check=True)


@pytest.fixture(scope="module")
def images(workdir, hep_build, pristine_store, ci_keys) -> Images:
    src, stable = pristine_store
    store = os.path.join(workdir, "condor-store")
    subprocess.run(["cp", "-al", src, store], check=True)
    other = os.path.join(workdir, "keys", "condor-other")
    run([DD, "keygen", other], check=True)
    builds = {}
    for name, keep, relabel in (("v3only", ("x86-64-v3",), None),
                                ("v4only", ("x86-64-v3",), ("x86-64-v3", "x86-64-v4", "skylake-avx512")),
                                ("tamperme", ("x86-64",), None), ("untrusted", ("x86-64",), None)):
        out = os.path.join(workdir, f"condor-build-{name}")
        builds[name] = derive_image(hep_build, out, name=f"HepAnalysis-{name}", keep=keep, relabel=relabel)
        _publish(out, store, other + ".key" if name == "untrusted" else ci_keys[0], name)
    _publish(hep_build, store, ci_keys[0], "pintest")
    _publish(hep_build, store, ci_keys[0], "Team-A_nightly.2")  # every character the encoding maps
    # Expires before the access point ever reads it (the chroot takes longer).
    _publish(hep_build, store, ci_keys[0], "expiring", expires="1s")
    return Images(store=store, key=ci_keys[0], other_key=other + ".pub", stable=stable, **builds)


@pytest.fixture(scope="module")
def pool(workdir, images, ci_keys, job_user):
    root = os.path.join(workdir, "condor-root")
    p = None
    try:
        timings = prepare_chroot(root, os.environ.get("DEPOTDELIVERY_TEST_CACHE"))
        p = start_pool(root, store_src=images.store, store=NODE_STORE, pubkeys=[ci_keys[1]], user=job_user,
                       cpuinfo_dir=os.path.join(HERE, CPUINFO_DIR_NAME), site_snippet=SNIPPET)
        p.timings.update(timings)
        yield p
    finally:
        if p is not None:
            print(f"\nHTCondor pool timings: {p.timings}")
        teardown(p, root)


def _job(executable: str, arguments: str, *, image: str = "", requirements: str = "",
         inputs: str = "", extra: str = "") -> str:
    lines = [f"executable = {executable}", f"arguments = {arguments}", "transfer_executable = false",
             "should_transfer_files = YES", "output = out.txt", "error = err.txt", "log = job.log",
             "request_memory = 512M"]
    if inputs:
        lines.append(f"transfer_input_files = {inputs}")
    if image:
        lines.append(f'My.JuliaImage = "{image}"')
    if requirements:
        lines.append(f"requirements = {requirements}")
    return "\n".join(lines + ([extra] if extra else []) + ["queue", ""])


def _probe(pool: Pool, name: str, image: str, requirements: str = "", extra: str = "") -> int:
    cluster, _ = pool.submit(name, _job("/usr/bin/julia", "probe.jl", image=image, requirements=requirements,
                                        inputs="probe.jl", extra=extra), {"probe.jl": PROBE_JL})
    return cluster


def _done(ad: dict) -> bool:
    return ad.get("JobStatus") in (COMPLETED, HELD)


def _output(pool: Pool, name: str) -> str:
    return pool.read(f"/srv/jobs/{name}/out.txt")


# -- the pool and the snippet ---------------------------------------------------------
def test_two_nodes_advertise_their_levels_stores_and_images(pool, images):
    slots = {("baseline" if "@baseline@" in s["Name"] else "full"): s for s in pool.slots()}
    assert set(slots) == {"baseline", "full"}
    assert slots["baseline"]["DepotDeliveryLevel"] == 1 and slots["baseline"]["DepotDeliveryCpuLevel"] == 1
    # The real CPU here is x86-64-v4; the site caps jobs at x86-64-v3.
    assert slots["full"]["DepotDeliveryLevel"] == 3 and slots["full"]["DepotDeliveryCpuLevel"] >= 3
    for s in slots.values():
        assert s["DepotDeliveryStores"] == NODE_STORE
        assert "Microarch" in s and "DepotDeliveryError" not in s
    assert images.stable in slots["baseline"]["DepotDeliveryImages"].split(",")
    assert images.v3only not in slots["baseline"]["DepotDeliveryImages"].split(",")
    assert images.v3only in slots["full"]["DepotDeliveryImages"].split(",")


def test_schedd_loaded_the_transform_and_the_channel_table(pool, images):
    log = pool.log("SchedLog")
    # A malformed transform is ignored with one line in SchedLog, nothing else.
    assert "JOB_TRANSFORM_DepotDelivery setup as transform rule" in log
    assert "malformed" not in log.lower()
    table = pool.read(CHANNEL_TABLE)
    assert f'DEPOTDELIVERY_IMAGE_stable = "{images.stable}"' in table
    assert "DEPOTDELIVERY_LEVEL_v3only = 3" in table and "DEPOTDELIVERY_LEVEL_v4only = 4" in table
    assert "DEPOTDELIVERY_REFUSED_expiring" in table and "DEPOTDELIVERY_REFUSED_untrusted" in table


# -- jobs that run -------------------------------------------------------------------
@pytest.mark.parametrize("node,variant", [("baseline", "x86-64"), ("full", "x86-64-v3")])
def test_example_job_runs_through_the_wrapper_with_the_pinned_image(pool, images, node, variant):
    name = f"example-{node}"
    with open(os.path.join(EXAMPLE, "workload.jl")) as f:
        workload = f.read()
    t0 = time.monotonic()
    cluster, _ = pool.submit(name, _job("/usr/bin/julia", "workload.jl", image="stable", inputs="workload.jl,probe.jl",
                                        requirements=ON_BASELINE if node == "baseline" else ON_FULL),
                             {"workload.jl": workload, "probe.jl": PROBE_JL})
    ad = pool.wait(cluster, _done, timeout=180, what="the example to finish")
    pool.timings[f"example_job_{node}_s"] = round(time.monotonic() - t0, 1)
    assert ad["JobStatus"] == COMPLETED and ad["ExitCode"] == 0, (ad.get("HoldReason"), pool.read(f"/srv/jobs/{name}/err.txt"))
    assert "HepAnalysis: 150 events" in _output(pool, name)
    # The transformed ad: the channel pinned to the image id, the level required.
    assert ad["JuliaImage"] == "stable" and ad["JuliaImageId"] == images.stable
    assert "TARGET.DepotDeliveryLevel >= 1" in ad["Requirements"] and NODE_STORE in ad["Requirements"]
    # ...and the variant the node's level selects.
    cluster = _probe(pool, f"probe-{node}", "stable", ON_BASELINE if node == "baseline" else ON_FULL)
    pool.wait(cluster, _done, timeout=120, what="the probe")
    assert _output(pool, f"probe-{node}").split() == ["image", images.stable, "variant", variant]


def test_a_job_without_juliaimage_is_left_untouched(pool):
    cluster, _ = pool.submit("plain", _job("/bin/sh", "\"-c 'echo plain job; env'\""))
    ad = pool.wait(cluster, _done, timeout=120, what="the plain job")
    assert ad["JobStatus"] == COMPLETED and ad["ExitCode"] == 0
    out = _output(pool, "plain")
    assert out.startswith("plain job") and "DEPOTDELIVERY_IMAGE_ID" not in out and "JULIA_DEPOT_PATH" not in out
    assert "JuliaImageId" not in ad and "DepotDeliveryLevel" not in ad["Requirements"]


def test_a_job_keeps_its_pin_when_the_channel_moves_before_it_starts(pool, images):
    # Held at submit, so it cannot start before the channel moves.
    first = _probe(pool, "pin-old", "pintest", ON_FULL, extra="hold = true")
    assert pool.ad(first)["JuliaImageId"] == images.stable
    run([DD, "channel", "set", "pintest", images.v3only, "--store", images.store, "--key", images.key], check=True)
    pool.publish_table()
    second = _probe(pool, "pin-new", "pintest", ON_FULL)
    pool.sh("condor_release", str(first))
    for cluster in (first, second):
        assert pool.wait(cluster, _done, timeout=120)["JobStatus"] == COMPLETED
    assert _output(pool, "pin-old").split()[1] == images.stable
    assert _output(pool, "pin-new").split()[1] == images.v3only


# -- refused at submit ---------------------------------------------------------------
@pytest.mark.parametrize("ref,words", [("nope", 'unknown JuliaImage "nope"'),
                                       ("STABLE", 'unknown JuliaImage "STABLE"'),
                                       ("expiring", "expired"),
                                       ("untrusted", "not signed by a key this site trusts")])
def test_a_reference_the_access_point_does_not_offer_is_refused_by_condor_submit(pool, ref, words):
    cluster, p = _probe_submit(pool, f"refused-{ref}", f'My.JuliaImage = "{ref}"')
    assert cluster == 0 and p.returncode != 0
    assert words in p.stderr, p.stderr


def _probe_submit(pool: Pool, name: str, extra: str):
    return pool.submit(name, _job("/usr/bin/julia", "probe.jl", inputs="probe.jl", extra=extra),
                       {"probe.jl": PROBE_JL}, check=False)


def test_a_hand_set_pin_cannot_bypass_the_table(pool, images):
    forged = "ab" * 32
    # Next to a channel: overwritten by the channel's pin.
    cluster, _ = _probe_submit(pool, "forged-1", f'My.JuliaImage = "stable"\nMy.JuliaImageId = "{forged}"\nhold = true')
    assert pool.ad(cluster)["JuliaImageId"] == images.stable
    # Alone: it is looked up like JuliaImage, so an unknown id is refused...
    cluster2, p = _probe_submit(pool, "forged-2", f'My.JuliaImageId = "{forged}"')
    assert cluster2 == 0 and f'unknown JuliaImage "{forged}"' in p.stderr
    # ...and a known one gets the level requirement like any other reference.
    cluster3, _ = _probe_submit(pool, "forged-3", f'My.JuliaImageId = "{images.v3only}"\nhold = true')
    assert "TARGET.DepotDeliveryLevel >= 3" in pool.ad(cluster3)["Requirements"]
    # Once queued, the owner cannot edit the pin.
    p = pool.sh("condor_qedit", str(cluster), "JuliaImageId", f'"{images.v3only}"', user=pool.user, check=False)
    assert p.returncode != 0 and pool.ad(cluster)["JuliaImageId"] == images.stable
    pool.sh("condor_rm", str(cluster), str(cluster3))


def test_channel_names_with_dashes_dots_and_underscores_are_pinned(pool, images):
    cluster, _ = _probe_submit(pool, "odd-name", 'My.JuliaImage = "Team-A_nightly.2"\nhold = true')
    assert cluster and pool.ad(cluster)["JuliaImageId"] == images.stable
    pool.sh("condor_rm", str(cluster))


def test_an_unquoted_juliaimage_is_not_run_without_an_image_but_held(pool):
    """`+JuliaImage = stable` is an attribute reference, not a string: the
    transform cannot pin it, and the wrapper refuses rather than run the
    job without the image (or with a default one)."""
    cluster, _ = _probe_submit(pool, "unquoted", "+JuliaImage = stable")
    ad = pool.wait(cluster, lambda a: a.get("JobStatus") in (HELD, COMPLETED), timeout=120, what="the hold")
    assert ad["JobStatus"] == HELD and "no JuliaImageId was pinned" in ad["HoldReason"], ad


# -- refused at match or at run time --------------------------------------------------
def test_an_image_no_slot_can_run_stays_idle_and_better_analyze_says_why(pool, images):
    cluster = _probe(pool, "no-slot", "v4only")
    ad = pool.ad(cluster)
    assert ad["JuliaImageId"] == images.v4only and "TARGET.DepotDeliveryLevel >= 4" in ad["Requirements"]
    time.sleep(8)  # several negotiation cycles
    assert pool.ad(cluster)["JobStatus"] == IDLE
    why = pool.sh("condor_q", "-better-analyze", str(cluster)).stdout
    assert "DepotDeliveryLevel >= 4" in why and "0" in why, why
    pool.sh("condor_rm", str(cluster))


def _tamper(images: Images, rel: str) -> str:
    """Change a file behind the read-only mount (publisher's side); the clone
    shares inodes with the pristine store, so write a new file and rename.
    -> a hard link to the original, to put it back with."""
    path = os.path.join(images.store, rel)
    original = path + ".original"
    os.link(path, original)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    tmp = path + ".tamper"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)
    return original


def test_a_tampered_image_is_held_with_the_reason_and_runs_once_repaired(pool, images):
    rel = f"images/{images.tamperme}/variants/x86-64/sys.so"
    original = _tamper(images, rel)
    cluster = _probe(pool, "tampered", "tamperme")
    ad = pool.wait(cluster, lambda a: a.get("JobStatus") in (HELD, COMPLETED), timeout=120, what="the hold")
    assert ad["JobStatus"] == HELD, ad
    assert "depotdelivery exit 65 (image-invalid)" in ad["HoldReason"] and "sys.so" in ad["HoldReason"]
    assert not os.path.exists(pool.host_path("/srv/jobs/tampered/out.txt")) or _output(pool, "tampered") == ""
    # The publisher repairs the store, the user releases: the old refusal
    # (still in VacateReason) must not hold the job again.
    os.rename(original, os.path.join(images.store, rel))
    # The hold policy counts a refusal only within 5 s of it (a release must
    # not re-hold on the stale VacateReason); a person releases later than that.
    time.sleep(max(0.0, (ad.get("LastVacateTime") or 0) + 6 - time.time()))
    pool.sh("condor_release", str(cluster), user=pool.user)
    ad = pool.wait(cluster, lambda a: a.get("JobStatus") in (HELD, COMPLETED), timeout=120, what="the rerun")
    assert ad["JobStatus"] == COMPLETED, ad.get("HoldReason")
    assert _output(pool, "tampered").split()[1] == images.tamperme


def test_an_image_the_execute_node_does_not_trust_is_held(pool, images):
    # The access point trusts a second publisher; the execute nodes do not.
    pool.publish_table(f"/etc/depotdelivery/keys/{os.path.basename(images.key)[:-4]}.pub",
                       _copy_key(pool, images.other_key))
    try:
        cluster = _probe(pool, "untrusted", "untrusted")
        ad = pool.wait(cluster, lambda a: a.get("JobStatus") in (HELD, COMPLETED), timeout=120, what="the hold")
        assert ad["JobStatus"] == HELD and "not signed by a key this site trusts" in ad["HoldReason"], ad
    finally:
        pool.publish_table()


def _copy_key(pool: Pool, pub: str) -> str:
    dest = f"/tmp/{os.path.basename(pub)}"
    pool.write(dest, open(pub).read())
    return dest


def test_a_slot_that_lies_about_its_level_still_refuses_in_the_wrapper(pool, images):
    """The baseline node's cron now claims x86-64-v3, its CPU (and so the
    wrapper) still says x86-64: the v3-only job matches, the wrapper refuses
    with 'run elsewhere' (75) and the job goes back to idle with the reason
    visible, instead of crashing in Julia; it is not held."""
    lie = f"B.STARTD_CRON_DEPOTDELIVERY_ENV = \"DEPOTDELIVERY_CPUINFO={CPUINFO_DIR}/amd-zen2-epyc-7702.x86-64-v3.txt\"\n"
    pool.write("/etc/condor/config.d/60-test-lie.conf", lie)
    pool.reconfig()
    try:
        pool.wait_for_slots(lambda s: any("@baseline@" in x["Name"] and x.get("DepotDeliveryLevel") == 3 for x in s))
        cluster = _probe(pool, "lying-slot", "v3only", ON_BASELINE)
        ad = pool.wait(cluster, lambda a: "exit 75" in (a.get("VacateReason") or ""), timeout=120,
                       what="the wrapper's refusal")
        assert ad["JobStatus"] in (IDLE, RUNNING), ad
        assert "this node runs up to x86-64" in ad["VacateReason"]
        pool.sh("condor_rm", str(cluster))
    finally:
        os.unlink(pool.host_path("/etc/condor/config.d/60-test-lie.conf"))
        pool.reconfig()


def test_ab_validation_an_htcondor_node_runs_what_ci_built(pool, images, ci_keys, workdir):
    """The A/B run: `depotdelivery fingerprint` as a real job on the v3 node
    (its pin read from the job ad), validated on the host against the
    fingerprint the build recorded in the signed image."""
    name = "ab-fingerprint"
    with open(os.path.join(EXAMPLE, "workload.jl")) as f:
        workload = f.read()
    cluster, _ = pool.submit(name, _job("/opt/depotdelivery/bin/depotdelivery",
                                        "fingerprint --workload workload.jl --out node.json", image="stable",
                                        inputs="workload.jl", requirements=ON_FULL,
                                        extra="transfer_output_files = node.json"),
                             {"workload.jl": workload})
    ad = pool.wait(cluster, _done, timeout=240, what="the fingerprint job")
    assert ad["JobStatus"] == COMPLETED and ad["ExitCode"] == 0, (ad.get("HoldReason"),
                                                                  pool.read(f"/srv/jobs/{name}/err.txt"))
    from conftest import write_site_config
    config = os.path.join(workdir, "condor-ab-site.toml")
    write_site_config(config, store=images.store, pubkeys=[ci_keys[1]], cache_dir=os.path.join(workdir, "ab-cache"))
    p = run([DD, "validate", "--image", images.stable, pool.host_path(f"/srv/jobs/{name}/node.json")],
            env={"DEPOTDELIVERY_CONFIG": config})
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("identical:") and "variant x86-64-v3" in p.stdout


# -- status --condor: the pool seen from the access point -----------------------------
HOST_CONDOR_CONFIG = "COLLECTOR_HOST = 127.0.0.1:9618\n"


def _by_node(doc: dict) -> dict:
    return {("baseline" if n["name"].startswith("baseline@") else "full"): n for n in doc["nodes"]}


def _jobs_by_id(doc: dict) -> dict:
    return {j["id"]: j for j in doc["jobs"]}


def test_status_condor_shows_each_nodes_level_and_images_and_each_jobs_pin(pool, images, workdir):
    """`status --condor --json` on the host, through the htcondor2 wheel
    (the test venv has it) talking to the 23.9 pool in the chroot; then the
    same inside the chroot, whose venv lacks the bindings (install_requires
    only, as an access point without the extra), through condor_status and
    condor_q.  Both must name both nodes, their levels and images, a job
    running on the baseline node and a held one, each with its pin."""
    # `sleep` through the wrapper: it runs with the image verified and stays
    # Running until removed, so its RemoteHost is there to see.
    running, _ = pool.submit("status-running", _job("/bin/sleep", "600", image="stable", requirements=ON_BASELINE))
    held = _probe(pool, "status-held", "v3only", ON_FULL, extra="hold = true")
    try:
        ad = pool.wait(running, lambda a: a.get("JobStatus") in (RUNNING, HELD, COMPLETED) and a.get("RemoteHost"),
                       timeout=120, what="the sleep job to run")
        assert ad["JobStatus"] == RUNNING, ad.get("HoldReason")
        # What the pool itself says, through condor_status in the chroot: the
        # partitionable slot of each node (a running job adds a dynamic one).
        # The collector hears of the dynamic slot at the startd's next update.
        slots = pool.wait_for_slots(lambda s: any(x["Name"] == ad["RemoteHost"] and x.get("State") == "Claimed"
                                                  for x in s))
        truth = {("baseline" if "@baseline@" in s["Name"] else "full"): s
                 for s in slots if s.get("SlotType") != "Dynamic"}
        assert set(truth) == {"baseline", "full"}

        config = os.path.join(workdir, "condor-host-config")
        with open(config, "w") as f:
            f.write(HOST_CONDOR_CONFIG)
        t0 = time.monotonic()
        p = run([DD, "status", "--condor", "--json"], env={"CONDOR_CONFIG": config})
        pool.timings["status_bindings_s"] = round(time.monotonic() - t0, 2)
        assert p.returncode == 0 and p.stderr == "", p.stderr
        doc = json.loads(p.stdout)
        assert doc["via"] == "htcondor2 bindings"
        _check_status(doc, truth, images, pool.user, running=running, held=held, running_on=ad["RemoteHost"])

        # The text form, with the collector named on the command line instead.
        p = run([DD, "status", "--condor", "--pool", "127.0.0.1:9618"], env={"CONDOR_CONFIG": "/dev/null"})
        assert p.returncode == 0, p.stderr
        base, full = (truth[n]["Name"].split("@", 1)[1] for n in ("baseline", "full"))
        rows = {l.split()[0]: l.split() for l in p.stdout.splitlines() if l.split() and l.split()[0] in (base, full)}
        assert rows[base][1:4] == ["1/2", "1", "x86-64"]  # its slot and the running job's
        assert rows[full][2:4] == ["3", "x86-64-v3"]
        assert images.stable[:12] in rows[base][-1] and images.v3only[:12] not in rows[base][-1]
        job_line = next(l for l in p.stdout.splitlines() if l.strip().startswith(f"{running}.0 "))
        assert f"stable -> {images.stable[:12]}" in job_line and job_line.rstrip().endswith(f"on {ad['RemoteHost']}")

        t0 = time.monotonic()
        p = pool.dd("status", "--condor", "--json", check=False)
        pool.timings["status_tools_s"] = round(time.monotonic() - t0, 2)
        assert p.returncode == 0, p.stderr
        [note] = p.stderr.strip().splitlines()
        assert note.startswith("depotdelivery: note: the HTCondor Python bindings are not installed")
        assert note.endswith("using condor_status and condor_q instead")
        tools_doc = json.loads(p.stdout)
        assert tools_doc["via"] == "condor_status/condor_q"
        _check_status(tools_doc, truth, images, pool.user, running=running, held=held, running_on=ad["RemoteHost"])
        # Both paths read the same ads (a slot's State may move between the two queries).
        assert tools_doc["nodes"] == doc["nodes"] and tools_doc["images"] == doc["images"]
    finally:
        pool.sh("condor_rm", str(running), str(held), check=False)


def _check_status(doc: dict, truth: dict, images: Images, user: str, *, running: int, held: int,
                  running_on: str) -> None:
    nodes = _by_node(doc)
    assert set(nodes) == {"baseline", "full"}
    assert (nodes["baseline"]["level"], nodes["baseline"]["level_name"]) == (1, "x86-64")
    assert (nodes["full"]["level"], nodes["full"]["level_name"]) == (3, "x86-64-v3")
    for node, n in nodes.items():
        # Exactly what the startd cron advertised, as condor_status shows it in the pool.
        assert n["name"] == truth[node]["Name"].split("@", 1)[1] and n["microarch"] == truth[node]["Microarch"]
        assert n["images"] == truth[node]["DepotDeliveryImages"].split(",")
        assert n["stores"] == [NODE_STORE] and n["error"] == ""
    assert images.stable in nodes["baseline"]["images"] and images.stable in nodes["full"]["images"]
    assert images.v3only in nodes["full"]["images"] and images.v3only not in nodes["baseline"]["images"]
    assert running_on in nodes["baseline"]["slots"] and nodes["baseline"]["claimed"] == 1
    assert sorted(doc["images"][images.stable]) == sorted([nodes["baseline"]["name"], nodes["full"]["name"]])
    assert doc["images"][images.v3only] == [nodes["full"]["name"]]
    jobs = _jobs_by_id(doc)
    r, h = jobs[f"{running}.0"], jobs[f"{held}.0"]
    assert (r["status"], r["ref"], r["image"], r["owner"]) == ("Running", "stable", images.stable, user)
    assert (r["remote_host"], r["node"]) == (running_on, nodes["baseline"]["name"])
    assert (h["status"], h["ref"], h["image"], h["remote_host"]) == ("Held", "v3only", images.v3only, "")
    assert h["offered_by"] == [nodes["full"]["name"]]
    assert doc["problems"] == []
