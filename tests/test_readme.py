"""The README runs as a test: the blocks of "The job, end to end" are
extracted from README.md (not copied) and run in order -- the CI side and
the node side as root, the job side as an ordinary user -- with the
absolute paths they name moved under a temporary folder.  The CI block is
also what builds the example every other test uses (conftest.readme_ci)."""

from __future__ import annotations

import os

import pytest

from conftest import JOB_USER, NODE_STORE, README_TOP, _unmount_all, readme_blocks, readme_moved, readme_sh


def test_the_readme_names_its_three_blocks_in_the_order_a_site_runs_them():
    assert list(readme_blocks()) == ["ci", "node", "job"]


@pytest.mark.julia
def test_the_end_to_end_blocks_run_as_written(readme_ci):
    work, ci = readme_ci
    assert "stable" in ci.stdout  # `ls` shows the channel it published
    blocks = {name: readme_moved(text) for name, text in readme_blocks().items()}
    _unmount_all(NODE_STORE)
    try:
        node = readme_sh(blocks["node"], work)
        assert node.returncode == 0, node.stderr
        cache = f"{README_TOP}/var/cache/depotdelivery"
        assert os.stat(cache).st_uid == 0 and os.stat(cache).st_mode & 0o7777 == 0o1777
        job = readme_sh(blocks["job"], work, user=JOB_USER,
                        env={"DEPOTDELIVERY_CONFIG": f"{README_TOP}/etc/depotdelivery/site.toml"})
        assert job.returncode == 0, job.stderr
        assert "csv Float64" in job.stdout  # the example workload ran from the image
        assert "verified" in job.stdout and job.stdout.splitlines()[-1].startswith("x86-64")
    finally:
        _unmount_all(NODE_STORE)
