"""Zero downloads on nodes: every artifact the project's packages declare,
lazy ones included, goes into the signed image, and a job reads it on a
node with nothing to fetch (the artifact server is gone by then)."""

import json
import os
import shutil

import pytest

from conftest import ARTIFACT_SERVER, DD, artifact_hashes, make_node, run

pytestmark = pytest.mark.julia


def test_every_artifact_lazy_ones_too_is_in_the_signed_image(tiny_v3_build):
    with open(os.path.join(tiny_v3_build, "manifest.json")) as f:
        files = {(e["root"], e["path"]) for e in json.load(f)["files"]}
    for name, tree in artifact_hashes().items():
        assert ("pool", f"artifacts/{tree}/hello.txt") in files, name


def test_a_job_reads_a_lazy_artifact_on_a_node_without_downloading(tiny_v3_build, workdir, ci_keys, job_user):
    store = os.path.join(workdir, "published-artifacts")
    p = run([DD, "publish", tiny_v3_build, "--store", store, "--key", ci_keys[0], "--channel", "tiny", "--json"],
            check=True)
    node = make_node(workdir, (store, json.loads(p.stdout)["image_id"]), ci_keys[1], tag="artifacts")
    moved = ARTIFACT_SERVER + ".offline"
    shutil.rmtree(moved, ignore_errors=True)
    os.rename(ARTIFACT_SERVER, moved)  # nothing could be fetched now
    try:
        lazy = artifact_hashes()["lazydata"]
        job = node.run(["--channel", "tiny", "--", "julia", "-e",
                        f'using Tiny; print(read(joinpath(Tiny.artifact_dir("{lazy}"), "hello.txt"), String))'])
    finally:
        os.rename(moved, ARTIFACT_SERVER)
    assert job.returncode == 0, job.stderr
    assert job.stdout == "lazy bytes\n"
