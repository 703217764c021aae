"""Publishing to CVMFS through cvmfs_server (a stand-in built from the
documented behaviour, first on PATH): images and channels land through
transactions with tags, and every failure leaves the repository clean.
No Julia: the builds are synthetic (conftest `synthetic_build`), the publish
side never runs an image."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import DD, run

FAKES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakes")
REPO = "julia.test.org"


@pytest.fixture
def cvmfs(workdir):
    """A release manager machine: cvmfs_server on PATH, one repository."""
    n = len(os.listdir(workdir))
    home = os.path.join(workdir, f"cvmfs-home-{n}")
    mount = os.path.join(workdir, f"cvmfs-{n}")
    os.makedirs(home)
    env = {"PATH": FAKES + os.pathsep + os.environ["PATH"], "FAKE_CVMFS_HOME": home,
           "DEPOTDELIVERY_CVMFS_MOUNT": mount, "DEPOTDELIVERY_CVMFS_ATTEMPTS": "3",
           "DEPOTDELIVERY_CVMFS_MAX_WAIT": "0.2"}
    run(["cvmfs_server", "mkfs", REPO], env=env, check=True)

    class Repo:
        pass
    r = Repo()
    r.env, r.home, r.mount, r.root = env, home, mount, os.path.join(mount, REPO)
    r.in_transaction = lambda: os.path.exists(os.path.join(home, "repos", REPO, "txn"))
    r.log = lambda: open(os.path.join(home, "repos", REPO, "log")).read().split("\n")
    yield r
    subprocess.run(["umount", "-l", os.path.join(mount, REPO)], capture_output=True)


def publish(r, build, key, *extra):
    return run([DD, "publish", build, "--store", f"cvmfs://{REPO}/depots", "--key", key, "--json", *extra],
               env=r.env, timeout=600)


def test_publish_lands_in_a_transaction_with_a_tag_and_is_read_only_after(cvmfs, synthetic_build, ci_keys):
    p = publish(cvmfs, synthetic_build(), ci_keys[0], "--channel", "stable")
    assert p.returncode == 0, p.stderr
    image = json.loads(p.stdout)["image_id"]
    assert [l.split()[0] for l in cvmfs.log() if l] == ["transaction", "publish"]
    tags = run(["cvmfs_server", "tag", "-l", REPO], env=cvmfs.env, check=True).stdout
    assert f"img-{image[:16]}" in tags
    depots = os.path.join(cvmfs.root, "depots")
    assert os.path.isfile(os.path.join(depots, "images", image, ".cvmfscatalog"))
    with pytest.raises(OSError):
        open(os.path.join(depots, "x"), "w")
    assert not cvmfs.in_transaction()
    listing = json.loads(run([DD, "ls", "--store", depots, "--json"], check=True).stdout)
    assert listing["channels"]["stable"]["image"] == image
    # Channel moves are their own transaction and tag.
    p = run([DD, "channel", "set", "stable", image, "--store", f"cvmfs://{REPO}/depots", "--key", ci_keys[0]],
            env=cvmfs.env)
    assert p.returncode == 0, p.stderr
    assert "channel-stable-" in run(["cvmfs_server", "tag", "-l", REPO], env=cvmfs.env).stdout


def test_a_failing_publish_is_aborted_and_nothing_is_visible(cvmfs, synthetic_build, ci_keys):
    open(os.path.join(cvmfs.home, "fail-publish"), "w").close()
    p = publish(cvmfs, synthetic_build(), ci_keys[0], "--channel", "stable")
    assert p.returncode == 1 and "publish" in p.stderr and "aborted" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert not cvmfs.in_transaction() and cvmfs.log()[-2] == "abort"
    assert not os.path.exists(os.path.join(cvmfs.root, "depots"))


def test_an_open_transaction_is_retried_then_reported_and_not_aborted(cvmfs, synthetic_build, ci_keys):
    run(["cvmfs_server", "transaction", REPO], env=cvmfs.env, check=True)  # someone else's
    p = publish(cvmfs, synthetic_build(), ci_keys[0])
    assert p.returncode == 1 and "busy after 3 attempts" in p.stderr
    assert cvmfs.in_transaction()  # still theirs: never aborted by us
    assert "abort" not in cvmfs.log()
    run(["cvmfs_server", "abort", "-f", REPO], env=cvmfs.env, check=True)


def test_a_busy_lease_is_retried_then_succeeds(cvmfs, synthetic_build, ci_keys):
    busy = os.path.join(cvmfs.home, "busy")
    open(busy, "w").close()
    proc = subprocess.Popen([DD, "publish", synthetic_build(), "--store", f"cvmfs://{REPO}/depots", "--key",
                             ci_keys[0]], env={**os.environ, **cvmfs.env, "DEPOTDELIVERY_CVMFS_ATTEMPTS": "8",
                                               "DEPOTDELIVERY_CVMFS_MAX_WAIT": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import time
    time.sleep(0.5)
    os.unlink(busy)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err


def test_disk_full_in_the_transaction_aborts_cleanly(cvmfs, synthetic_build, ci_keys):
    with open(os.path.join(cvmfs.home, "txn-size"), "w") as f:
        f.write("1m")
    p = publish(cvmfs, synthetic_build("big", sysimage_bytes=3 << 20), ci_keys[0], "--channel", "stable")
    assert p.returncode == 1 and "disk full" in p.stderr, p.stderr
    assert not cvmfs.in_transaction()
    assert not os.path.exists(os.path.join(cvmfs.root, "depots"))


def test_unknown_repository_and_missing_cvmfs_server(cvmfs, synthetic_build, ci_keys):
    p = run([DD, "publish", synthetic_build(), "--store", "cvmfs://nosuch.repo.org/depots", "--key", ci_keys[0]],
            env=cvmfs.env)
    assert p.returncode == 1 and "nosuch.repo.org is unknown" in p.stderr
    env = dict(cvmfs.env, PATH="/usr/bin:/bin")
    p = run([DD, "publish", synthetic_build(), "--store", f"cvmfs://{REPO}/depots", "--key", ci_keys[0]], env=env)
    assert p.returncode == 1 and "no cvmfs_server on PATH" in p.stderr
    p = run([DD, "publish", synthetic_build(), "--store", "cvmfs://norepo", "--key", ci_keys[0]], env=cvmfs.env)
    assert p.returncode == 64 and "bad CVMFS store" in p.stderr
