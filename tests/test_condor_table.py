"""The HTCondor pieces that need no pool: the channel table's encoding and
quoting, and the wrapper leaving jobs without JuliaImage alone."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from conftest import DD_RUN

from depotdelivery.submit.condor_channels import Entry, _refuse_case_collisions, condor_key, quote, render

SNIPPET = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "site-configs", "htcondor", "50-depotdelivery.conf")


def _transform_key(ref: str) -> str:
    """What the transform's EVALMACRO computes (replaceall, innermost first)."""
    return re.sub("[.]", "_2e", re.sub("-", "_2d", re.sub("_", "_5f", ref)))


@pytest.mark.parametrize("ref", ["stable", "Team-A_nightly.2", "a_2d", "a-b", "x.y_z-", "ab" * 32])
def test_the_table_and_the_transform_encode_names_alike_and_reversibly(ref):
    assert condor_key(ref) == _transform_key(ref)
    assert re.fullmatch(r"[A-Za-z0-9_]+", condor_key(ref))
    assert condor_key("a_2d") != condor_key("a-")  # '_' is encoded first: no collisions


def test_the_snippet_uses_that_encoding():
    with open(SNIPPET) as f:
        text = f.read()
    assert 'replaceall("[.]", replaceall("-", replaceall("_", string(JuliaImage), "_5f"), "_2d"), "_2e")' in text


def test_names_differing_only_in_case_are_refused_not_guessed():
    out = _refuse_case_collisions([Entry("Stable", image="a" * 64), Entry("stable", image="b" * 64),
                                   Entry("other", image="c" * 64)])
    assert [e.usable for e in out] == [False, False, True]
    assert "differ only in case" in out[0].refused


def test_values_are_safe_as_config_and_as_classad_strings():
    assert quote('say "hi" \\ $(EVIL)\nnext') == '"say \\"hi\\" \\\\ S(EVIL) next"'
    text = render([Entry("stable", image="a" * 64, level=3, store="/cvmfs/x"),
                   Entry("old", refused="depotdelivery: channel old: expired")], source="/s")
    assert 'DEPOTDELIVERY_IMAGE_stable = "' + "a" * 64 + '"' in text
    assert "DEPOTDELIVERY_LEVEL_stable = 3" in text and "DEPOTDELIVERY_IMAGE_old" not in text
    assert 'DEPOTDELIVERY_REFUSED_old = "depotdelivery: channel old: expired"' in text


def _ad(tmp_path, text: str) -> str:
    p = tmp_path / ".job.ad"
    p.write_text(text)
    return str(p)


def test_the_wrapper_execs_a_job_without_juliaimage_untouched(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "_CONDOR_JOB_AD": _ad(tmp_path, 'Owner = "u"\nCmd = "/bin/sh"\n'),
           "DEPOTDELIVERY_CONFIG": str(tmp_path / "absent.toml")}
    p = subprocess.run([DD_RUN, "/bin/sh", "-c", 'echo "untouched $JULIA_DEPOT_PATH"'], env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout == "untouched \n", p.stderr


def test_the_wrapper_refuses_a_juliaimage_that_was_not_pinned(tmp_path):
    err = tmp_path / "wrapper-error"
    env = {"PATH": "/usr/bin:/bin", "_CONDOR_JOB_AD": _ad(tmp_path, "JuliaImage = stable\n"),
           "_CONDOR_WRAPPER_ERROR_FILE": str(err), "DEPOTDELIVERY_CONFIG": str(tmp_path / "absent.toml")}
    p = subprocess.run([DD_RUN, "/bin/echo", "EXECUTED"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 64 and "EXECUTED" not in p.stdout
    assert "no JuliaImageId was pinned" in err.read_text()
