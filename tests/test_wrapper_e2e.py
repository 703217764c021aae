"""The job wrapper against a real published image, the store mounted
read-only and jobs run as an ordinary user: it selects, verifies, hydrates
and execs Julia, and it refuses every bad image with the right exit code,
without exec'ing anything."""

import json
import os
import subprocess
import time

import pytest

from conftest import CPUINFO_DIR_NAME, DD, EXAMPLE, JOB_USER, run, write_site_config

pytestmark = pytest.mark.julia
CPUINFO = os.path.join(os.path.dirname(__file__), CPUINFO_DIR_NAME)
V1 = os.path.join(CPUINFO, "intel-core2-merom.x86-64.txt")
V2 = os.path.join(CPUINFO, "intel-nehalem-x5550.x86-64-v2.txt")
V3 = os.path.join(CPUINFO, "amd-zen2-epyc-7702.x86-64-v3.txt")
V4 = os.path.join(CPUINFO, "intel-skylake-gold-6148.x86-64-v4.txt")
PROBE = ["julia", "-e", 'println(ENV["DEPOTDELIVERY_VARIANT"], " ", unsafe_string(Base.JLOptions().image_file))']


def test_example_job_runs_through_the_wrapper_as_an_ordinary_user(node):
    p = node.run(["--channel", "stable", "--", "julia", os.path.join(EXAMPLE, "workload.jl")], timeout=300)
    assert p.returncode == 0, p.stderr
    assert "HepAnalysis: 150 events" in p.stdout
    # Nothing was written to the store; the node-local depot belongs to the user.
    depots = os.path.join(node.cache_dir, f"u{_uid()}", "depots")
    assert os.path.isdir(os.path.join(depots, node.image_id))


def _uid():
    import pwd
    return pwd.getpwnam(JOB_USER).pw_uid


@pytest.mark.parametrize("cpuinfo,variant", [(V1, "x86-64"), (V2, "x86-64"), (V3, "x86-64-v3"), (V4, "x86-64-v3")])
def test_the_highest_variant_the_cpu_runs_is_chosen(node, cpuinfo, variant):
    p = node.run(["--channel", "stable", "--cpuinfo", cpuinfo, "--", *PROBE])
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[0] == variant
    assert p.stdout.split()[1].endswith(f"/images/{node.image_id}/variants/{variant}/sys.so")


def test_site_cap_limits_the_variant(node):
    write_site_config(node.config, store=node.store, pubkeys=[node.pubkey], cache_dir=node.cache_dir,
                      max_level="x86-64-v2")
    p = node.run(["--channel", "stable", "--cpuinfo", V4, "--", *PROBE])
    assert p.stdout.split()[0] == "x86-64"


def test_override_the_cpu_lacks_is_refused_before_any_exec(node):
    p = node.run(["--channel", "stable", "--cpuinfo", V2, "--", *PROBE], env={"DEPOTDELIVERY_LEVEL": "x86-64-v3"})
    assert p.returncode == 75 and "refused" in p.stderr and p.stdout == ""


def test_second_launch_uses_the_plan_and_notices_any_change(node):
    args = ["--channel", "stable", "--cpuinfo", V3, "--", *PROBE]
    assert node.run(args).returncode == 0
    plans = os.path.join(node.cache_dir, f"u{_uid()}", "plans")
    assert os.listdir(plans)
    assert node.run(args).returncode == 0
    # Tamper a file the job reads: the plan no longer holds, full verification refuses.
    rel = f"images/{node.image_id}/variants/x86-64-v3/sys.so"
    data = bytearray(node.read(rel))
    data[len(data) // 2] ^= 0xFF
    node.replace_file(rel, bytes(data))
    p = node.run(args)
    assert p.returncode == 65 and "sys.so" in p.stderr and p.stdout == ""


def test_a_plan_written_by_another_user_is_not_believed(node):
    args = ["--channel", "stable", "--cpuinfo", V3, "--", *PROBE]
    assert node.run(args).returncode == 0
    # Anyone could have written into a group/other-writable folder: its plans
    # are not believed, so the tampering below is caught by full verification.
    os.chmod(os.path.join(node.cache_dir, f"u{_uid()}"), 0o777)
    rel = f"images/{node.image_id}/variants/x86-64-v3/sys.so"
    data = bytearray(node.read(rel))
    data[100] ^= 0xFF
    node.replace_file(rel, bytes(data))
    p = node.run(args)
    assert p.returncode == 65


BAD = {
    "tampered system image": (lambda n: _flip(n, f"images/{n.image_id}/variants/x86-64-v3/sys.so"), 65, "sys.so"),
    "truncated system image": (lambda n: n.replace_file(f"images/{n.image_id}/variants/x86-64-v3/sys.so",
                                                         n.read(f"images/{n.image_id}/variants/x86-64-v3/sys.so")[:1000]), 65, "truncated"),
    "tampered package source": (lambda n: _flip(n, _pool_source(n)), 65, "src"),
    "manifest edited": (lambda n: n.replace_file(f"images/{n.image_id}/manifest.json",
                                                 n.read(f"images/{n.image_id}/manifest.json").replace(b"1.5.3", b"1.5.4")), 65, "manifest"),
    "signature removed": (lambda n: os.unlink(os.path.join(n.store_src, f"images/{n.image_id}/manifest.sig")), 65, "missing"),
    "extra .ji in the image depot": (lambda n: _extra_file(n), 65, "unlisted"),
    "channel record edited": (lambda n: _edit_channel(n), 65, "channel"),
}


def _flip(n, rel):
    data = bytearray(n.read(rel))
    data[len(data) // 3] ^= 0x01
    n.replace_file(rel, bytes(data))


def _pool_source(n):
    for dirpath, _, files in os.walk(os.path.join(n.store_src, "pool", "packages", "JetClustering")):
        for f in files:
            if f.endswith(".jl"):
                return os.path.relpath(os.path.join(dirpath, f), n.store_src)
    raise AssertionError("no JetClustering source")


def _extra_file(n):
    d = os.path.join(n.store_src, "images", n.image_id, "depot", "compiled")
    for dirpath, _, files in os.walk(d):
        if files:
            with open(os.path.join(dirpath, "Evil_abcde.ji"), "wb") as f:
                f.write(b"not a cache")
            return
    raise AssertionError("no compiled caches in the image")


def _edit_channel(n):
    rel = "channels/stable/0000000001.json"
    n.replace_file(rel, n.read(rel).replace(b'\\"version\\":1', b'\\"version\\":2'))


@pytest.mark.parametrize("attack", sorted(BAD))
def test_bad_images_are_refused_with_the_hold_exit_code(node, attack):
    tamper, code, words = BAD[attack]
    tamper(node)
    p = node.run(["--channel", "stable", "--cpuinfo", V3, "--", "julia", "-e", 'println("EXECUTED")'])
    assert p.returncode == code, p.stderr
    assert words in p.stderr and "EXECUTED" not in p.stdout
    assert len(p.stderr.strip().splitlines()) == 1


def test_untrusted_key_is_refused(node, workdir):
    other = os.path.join(workdir, "keys", f"other-{os.getpid()}-{time.time_ns()}")
    run([DD, "keygen", other], check=True)
    os.chmod(other + ".pub", 0o644)
    write_site_config(node.config, store=node.store, pubkeys=[other + ".pub"], cache_dir=node.cache_dir)
    p = node.run(["--channel", "stable", "--", *PROBE])
    assert p.returncode == 65 and "not signed by a key this site trusts" in p.stderr


def test_revoked_key_is_refused(node):
    from depotdelivery.signing import load_public
    kid = load_public(node.pubkey).keyid
    write_site_config(node.config, store=node.store, pubkeys=[node.pubkey], cache_dir=node.cache_dir,
                      revoked_keys=[kid])
    p = node.run(["--channel", "stable", "--", *PROBE])
    assert p.returncode == 78 and "revoked" in p.stderr


def test_unknown_image_and_missing_store_and_usage(node):
    p = node.run(["--image", "ab" * 32, "--", *PROBE])
    assert p.returncode == 64 and "not in store" in p.stderr
    p = node.run(["--store", "/nonexistent/store", "--channel", "stable", "--", *PROBE])
    assert p.returncode == 69 and "not reachable" in p.stderr
    p = node.run(["--channel", "stable"])
    assert p.returncode == 64
    p = node.run(["--bogus", "--", *PROBE])
    assert p.returncode == 64


def test_condor_wrapper_error_file_gets_the_reason(node, workdir):
    err = os.path.join(workdir, f"wrapper-error-{time.time_ns()}")
    open(err, "w").close()
    os.chmod(err, 0o666)
    p = node.run(["--channel", "nonexistent", "--", *PROBE], env={"_CONDOR_WRAPPER_ERROR_FILE": err})
    assert p.returncode == 64
    with open(err) as f:
        assert "unknown channel" in f.read()


def test_a_hundred_jobs_starting_at_once_hydrate_once(node):
    cmd = ["runuser", "-u", JOB_USER, "--", "env", f"DEPOTDELIVERY_CONFIG={node.config}",
           os.path.join(os.path.dirname(DD), "depotdelivery-run"), "--channel", "stable", "--cpuinfo", V3,
           "--", "/bin/true"]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE) for _ in range(100)]
    codes = [p.wait(timeout=600) for p in procs]
    assert codes == [0] * 100, [p.stderr.read() for p in procs if p.returncode][:3]
    depots = os.listdir(os.path.join(node.cache_dir, f"u{_uid()}", "depots"))
    assert [d for d in depots if not d.startswith(".")] == [node.image_id]
    assert not [d for d in depots if d.startswith(".tmp")]


def test_an_image_without_a_variant_for_this_cpu_means_run_elsewhere(node, tiny_v3_build, ci_keys):
    p = run([DD, "publish", tiny_v3_build, "--store", node.store_src, "--key", ci_keys[0], "--json"], check=True)
    import json
    v3_only = json.loads(p.stdout)["image_id"]
    p = node.run(["--image", v3_only, "--cpuinfo", V2, "--", *PROBE])
    assert p.returncode == 75 and "x86-64-v3" in p.stderr and "run it elsewhere" in p.stderr
    assert p.stdout == ""
    p = node.run(["--image", v3_only, "--cpuinfo", V3, "--", *PROBE])
    assert p.returncode == 0 and p.stdout.startswith("x86-64-v3")


def test_the_fallback_variant_runs_on_an_emulated_baseline_cpu(node):
    # julia -C x86-64 makes Julia generate and accept only baseline code, as
    # on an old CPU; the variant chosen for a v2 node must run there.
    p = node.run(["--channel", "stable", "--cpuinfo", V2, "--", "julia", "-C", "x86-64", "-e",
                  'using HepAnalysis; println(ENV["DEPOTDELIVERY_VARIANT"], " ", HepAnalysis.precision_label(Float32))'])
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["x86-64", "Float32"]


def test_a_standard_library_left_out_of_the_slim_image_still_loads_and_says_so_once(node, hep_build):
    # The example needs neither Dates nor Test: its slim image leaves them
    # out.  A job that loads them gets them from Julia's own files.
    left_out = json.load(open(os.path.join(hep_build, "build.json")))["stdlibs"]["left_out"]
    assert "Dates" in left_out and "Test" in left_out
    job = "using Dates, Test; @test Dates.year(Dates.Date(2024, 5, 1)) == 2024; println(\"ok\")"
    for _ in range(2):  # the second launch loads the cache the first one compiled
        p = node.run(["--channel", "stable", "--", "julia", "-e", job], timeout=600)
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == "ok"
        notes = [l for l in p.stderr.splitlines() if l.startswith("depotdelivery:")]
        assert sorted(notes) == [
            f"depotdelivery: standard library {n} is not in this image; loaded from Julia's own files "
            f"(slower start). To include it, build with --keep-stdlib {n}" for n in sorted(
                n for n in ("Dates", "Test", "Distributed", "InteractiveUtils", "Logging", "Markdown", "Sockets",
                            "Base64") if n in left_out)]
