"""Publishing to CVMFS through cvmfs_server: a stand-in (first on PATH) that
mirrors what a real CernVM-FS 2.11.5 stratum 0 does.  Images and channels
land through transactions with tags, and every failure leaves the repository
clean and says so in one line.  No Julia: the builds are synthetic (conftest
`synthetic_build`), the publish side never runs an image."""

import hashlib
import json
import os
import re
import subprocess
import time

import pytest

from conftest import DD, run

FAKES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakes")
REPO = "julia.test.org"
URL = f"cvmfs://{REPO}/depots"


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
    r.log = lambda: [l for l in open(os.path.join(home, "repos", REPO, "log")).read().split("\n") if l]
    r.server = lambda *a, check=True: run(["cvmfs_server", *a], env=env, check=check)
    yield r
    subprocess.run(["umount", "-l", os.path.join(mount, REPO)], capture_output=True)


@pytest.fixture
def store(cvmfs, monkeypatch):
    """The backend in this process (for tags() and the write guard), seeing
    the same machine as the CLI runs do."""
    for k, v in cvmfs.env.items():
        monkeypatch.setenv(k, v)
    from depotdelivery.cvmfs_store import CvmfsStore
    return lambda url=URL: CvmfsStore.from_url(url)


def publish(r, build, key, *extra, url=URL):
    return run([DD, "publish", build, "--store", url, "--key", key, "--json", *extra], env=r.env, timeout=600)


def image_id(build):
    with open(os.path.join(build, "manifest.json"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def tag_rows(r):
    """`tag -l -x`: NAME HASH SIZE REV TIMESTAMP (default) DESCRIPTION."""
    out = r.server("tag", "-l", "-x", REPO).stdout
    return [l.split(None, 6) for l in out.splitlines() if l.strip()]


def someone_else_publishes(r, tag="", path=REPO, files=()):
    """Another publisher (or the admin) on the same repository."""
    r.server("transaction", path)
    for rel in files:
        p = os.path.join(r.root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        open(p, "w").close()
    r.server("publish", *(["-a", tag] if tag else []), "-m", "someone else's change", REPO)


def one_line(stderr):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# -- the stand-in reproduces CernVM-FS 2.11.5 ---------------------------------------
def test_stand_in_another_open_transaction_is_exit_17(cvmfs):
    cvmfs.server("transaction", REPO)
    p = cvmfs.server("transaction", f"{REPO}/depots", check=False)
    assert (p.returncode, p.stderr.strip()) == (17, "CernVM-FS transaction error: another transaction is already open")
    cvmfs.server("abort", "-f", REPO)
    p = cvmfs.server("abort", "-f", REPO, check=False)
    assert (p.returncode, p.stderr.strip()) == (22, f"Repository {REPO} is not in a transaction")


def test_stand_in_scoped_transaction_needs_the_parent_and_confines_nothing(cvmfs):
    p = cvmfs.server("transaction", f"{REPO}/a/b/c", check=False)
    assert p.returncode == 2 and p.stderr.strip().endswith("cannot open transaction on non-existing path /a/b")
    assert not cvmfs.in_transaction()
    cvmfs.server("transaction", f"{REPO}/a")  # one new level below an existing folder is fine
    open(os.path.join(cvmfs.root, "outside-a"), "w").close()  # a local stratum 0 does not stop this
    cvmfs.server("abort", "-f", REPO)


def test_stand_in_unknown_repository(cvmfs):
    for cmd in (["transaction", "nosuch.repo.org/depots"], ["tag", "-l", "-x", "nosuch.repo.org"],
                ["abort", "-f", "nosuch.repo.org"]):
        p = cvmfs.server(*cmd, check=False)
        assert p.returncode == 1 and "Unable to find the configuration file `server.conf`" in p.stderr
        assert "/etc/cvmfs/repositories.d/nosuch.repo.org/server.conf" in p.stderr


def test_stand_in_tags_and_a_duplicate_tag(cvmfs):
    someone_else_publishes(cvmfs)  # no -a: an automatic generic-<time> tag
    someone_else_publishes(cvmfs, tag="release-1")
    rows = tag_rows(cvmfs)
    assert all(len(r) == 7 and r[5] == "(default)" and r[3].isdigit() and r[4].isdigit() for r in rows)
    names = {r[0]: r for r in rows}
    assert names["release-1"][6] == "someone else's change"
    assert int(names["trunk"][3]) == int(names["trunk-previous"][3]) + 1 == int(names["release-1"][3])
    assert any(re.fullmatch(r"generic-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", n) for n in names)
    cvmfs.server("transaction", REPO)
    p = cvmfs.server("publish", "-a", "release-1", REPO, check=False)
    assert (p.returncode, p.stderr.strip()) == (1, "Tag name 'release-1' is already in use.")
    assert cvmfs.in_transaction()  # left open, as 2.11.5 does
    cvmfs.server("abort", "-f", REPO)


# -- the backend ---------------------------------------------------------------------
def test_publish_lands_in_a_transaction_with_a_tag_and_is_read_only_after(cvmfs, store, synthetic_build, ci_keys):
    build = synthetic_build()
    p = publish(cvmfs, build, ci_keys[0], "--channel", "stable")
    assert p.returncode == 0, p.stderr
    image = json.loads(p.stdout)["image_id"]
    assert image == image_id(build)
    assert cvmfs.log() == [f"transaction {REPO}/depots", f"publish img-{image[:16]}"]
    depots = os.path.join(cvmfs.root, "depots")
    assert os.path.isfile(os.path.join(depots, "images", image, ".cvmfscatalog"))
    with pytest.raises(OSError):
        open(os.path.join(depots, "x"), "w")
    assert not cvmfs.in_transaction()
    listing = json.loads(run([DD, "ls", "--store", depots, "--json"], check=True).stdout)
    assert listing["channels"]["stable"]["image"] == image
    # Channel moves are their own transaction and tag.
    p = run([DD, "channel", "set", "stable", image, "--store", URL, "--key", ci_keys[0]], env=cvmfs.env)
    assert p.returncode == 0, p.stderr
    tags = store().tags()
    assert tags[0] == f"img-{image[:16]}" and len(tags) == 2
    assert re.fullmatch(r"channel-stable-\d{8}T\d{6}", tags[1])


def test_a_failing_publish_is_aborted_and_nothing_is_visible(cvmfs, synthetic_build, ci_keys):
    open(os.path.join(cvmfs.home, "fail-publish"), "w").close()
    p = publish(cvmfs, synthetic_build(), ci_keys[0], "--channel", "stable")
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert line.startswith("depotdelivery: publish: cvmfs_server publish") and "aborted" in line
    assert not cvmfs.in_transaction() and cvmfs.log()[-1] == "abort"
    assert not os.path.exists(os.path.join(cvmfs.root, "depots"))


def test_another_open_transaction_exit_17_is_retried_then_reported_and_not_aborted(cvmfs, synthetic_build,
                                                                                   ci_keys):
    cvmfs.server("transaction", REPO)  # someone else's
    p = publish(cvmfs, synthetic_build(), ci_keys[0])
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert "busy after 3 attempts" in line and "another transaction is already open" in line
    assert cvmfs.log().count(f"refused {REPO}/depots 17") == 3  # retried, then given up
    assert cvmfs.in_transaction()  # still theirs: never aborted by us
    assert "abort" not in cvmfs.log()
    cvmfs.server("abort", "-f", REPO)


@pytest.mark.parametrize("holder", ["open-transaction", "busy-lease"])
def test_a_held_repository_is_retried_then_succeeds(cvmfs, synthetic_build, ci_keys, holder):
    if holder == "busy-lease":
        open(os.path.join(cvmfs.home, "busy"), "w").close()
        release = lambda: os.unlink(os.path.join(cvmfs.home, "busy"))  # noqa: E731
    else:
        cvmfs.server("transaction", REPO)
        release = lambda: cvmfs.server("abort", "-f", REPO)  # noqa: E731
    proc = subprocess.Popen([DD, "publish", synthetic_build(), "--store", URL, "--key", ci_keys[0]],
                            env={**os.environ, **cvmfs.env, "DEPOTDELIVERY_CVMFS_ATTEMPTS": "8",
                                 "DEPOTDELIVERY_CVMFS_MAX_WAIT": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Release only once the publisher has been refused at least once (a
    # fixed sleep races with a slow start on a loaded machine).
    deadline = time.monotonic() + 120
    while not any(l.startswith(f"refused {REPO}/depots ") for l in cvmfs.log()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.02)
    release()
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert cvmfs.log()[-1].startswith("publish img-") and not cvmfs.in_transaction()


def test_disk_full_in_the_transaction_aborts_cleanly(cvmfs, synthetic_build, ci_keys):
    with open(os.path.join(cvmfs.home, "txn-size"), "w") as f:
        f.write("1m")
    p = publish(cvmfs, synthetic_build("big", sysimage_bytes=3 << 20), ci_keys[0], "--channel", "stable")
    assert p.returncode == 1 and "disk full" in one_line(p.stderr)
    assert not cvmfs.in_transaction() and cvmfs.log()[-1] == "abort"
    assert not os.path.exists(os.path.join(cvmfs.root, "depots"))


@pytest.mark.parametrize("url", ["cvmfs://nosuch.repo.org/depots", "cvmfs://nosuch.repo.org/deep/sub/path"])
def test_unknown_repository_is_a_config_error(cvmfs, synthetic_build, ci_keys, url):
    p = publish(cvmfs, synthetic_build(), ci_keys[0], url=url)
    assert p.returncode == 78
    line = one_line(p.stderr)
    assert line.startswith("depotdelivery: config: CVMFS repository nosuch.repo.org is unknown on this machine")
    assert "cvmfs_server mkfs nosuch.repo.org" in line


def test_tags_of_an_unknown_repository_is_a_config_error(cvmfs, store):
    from depotdelivery.errors import ConfigError
    with pytest.raises(ConfigError, match="nosuch.repo.org is unknown"):
        store("cvmfs://nosuch.repo.org/depots").tags()


def test_missing_cvmfs_server_and_a_bad_url(cvmfs, synthetic_build, ci_keys):
    env = dict(cvmfs.env, PATH="/usr/bin:/bin")
    p = run([DD, "publish", synthetic_build(), "--store", URL, "--key", ci_keys[0], "--json"], env=env)
    assert p.returncode == 1 and "no cvmfs_server on PATH" in one_line(p.stderr)
    p = publish(cvmfs, synthetic_build(), ci_keys[0], url="cvmfs://norepo")
    assert p.returncode == 64 and "bad CVMFS store" in one_line(p.stderr)
    p = run([DD, "publish", synthetic_build(), "--store", URL, "--key", ci_keys[0], "--json"],
            env=dict(cvmfs.env, DEPOTDELIVERY_CVMFS_ATTEMPTS="many"))
    assert p.returncode == 78 and "DEPOTDELIVERY_CVMFS_ATTEMPTS" in one_line(p.stderr)


@pytest.mark.parametrize("existing", ["", "deep"])
def test_first_publish_to_a_deep_subpath_creates_its_parents(cvmfs, store, synthetic_build, ci_keys, existing):
    if existing:
        someone_else_publishes(cvmfs, files=[f"{existing}/README"])
    before = len(cvmfs.log())
    url = f"cvmfs://{REPO}/deep/sub/path"
    build = synthetic_build()
    p = publish(cvmfs, build, ci_keys[0], url=url)
    assert p.returncode == 0, p.stderr
    image = image_id(build)
    ancestor = f"{REPO}/{existing}" if existing else REPO
    # The parents in a transaction on the deepest existing ancestor, published
    # without a tag of ours; then the scoped transaction of the image.
    assert cvmfs.log()[before:] == [f"transaction {ancestor}", "publish ",
                                    f"transaction {REPO}/deep/sub/path", f"publish img-{image[:16]}"]
    assert os.path.isfile(os.path.join(cvmfs.root, "deep/sub/path/images", image, "manifest.json"))
    assert not cvmfs.in_transaction()
    assert any(r[0].startswith("generic-") for r in tag_rows(cvmfs))  # 2.11's automatic tag
    assert store(url).tags() == [f"img-{image[:16]}"]
    # Parents in place: the next publish goes straight to its scoped transaction.
    before = len(cvmfs.log())
    second = synthetic_build(salt="2")
    p = publish(cvmfs, second, ci_keys[0], url=url)
    assert p.returncode == 0, p.stderr
    assert cvmfs.log()[before:] == [f"transaction {REPO}/deep/sub/path", f"publish img-{image_id(second)[:16]}"]


def test_tags_lists_only_depotdelivery_tags(cvmfs, store, synthetic_build, ci_keys):
    someone_else_publishes(cvmfs, files=["other/file"])  # generic-<time>
    build = synthetic_build()
    assert publish(cvmfs, build, ci_keys[0], "--channel", "stable").returncode == 0
    someone_else_publishes(cvmfs, tag="release-2026", files=["other/file2"])
    p = run([DD, "channel", "set", "stable", image_id(build), "--store", URL, "--key", ci_keys[0]], env=cvmfs.env)
    assert p.returncode == 0, p.stderr
    raw = [r[0] for r in tag_rows(cvmfs)]
    assert {"trunk", "trunk-previous", "release-2026"} <= set(raw) and any(n.startswith("generic-") for n in raw)
    tags = store().tags()
    assert len(tags) == 2 and tags[0] == f"img-{image_id(build)[:16]}"
    assert re.fullmatch(r"channel-stable-\d{8}T\d{6}", tags[1])


def test_a_tag_in_use_gets_a_numbered_suffix(cvmfs, store, synthetic_build, ci_keys):
    build = synthetic_build()
    tag = f"img-{image_id(build)[:16]}"
    someone_else_publishes(cvmfs, tag=tag)  # e.g. a concurrent publisher of the same image
    p = publish(cvmfs, build, ci_keys[0])
    assert p.returncode == 0, p.stderr
    assert cvmfs.log()[-1] == f"publish {tag}-2" and not cvmfs.in_transaction()
    assert store().tags() == [tag, f"{tag}-2"]
    assert os.path.isdir(os.path.join(cvmfs.root, "depots", "images", image_id(build)))


def test_tags_in_use_everywhere_abort_with_one_line(cvmfs, synthetic_build, ci_keys):
    build = synthetic_build()
    tag = f"img-{image_id(build)[:16]}"
    for t in (tag, f"{tag}-2", f"{tag}-3", f"{tag}-4"):
        someone_else_publishes(cvmfs, tag=t)
    p = publish(cvmfs, build, ci_keys[0])
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert line.startswith(f"depotdelivery: publish: CVMFS tags {tag} to {tag}-4 are all in use")
    assert "aborted" in line and "cvmfs_server tag -r" in line
    assert not cvmfs.in_transaction() and cvmfs.log()[-1] == "abort"
    assert not os.path.exists(os.path.join(cvmfs.root, "depots", "images", image_id(build)))


def test_abort_with_no_transaction_open_is_not_an_error(cvmfs, store):
    s = store()
    assert s._abort() is False  # 2.11 exits 22: nothing to discard, nothing to report
    cvmfs.server("transaction", REPO)
    assert s._abort() is True and not cvmfs.in_transaction()


def test_the_backend_never_writes_outside_its_subpath(cvmfs, store):
    from depotdelivery.errors import PublishError
    outside = os.path.join(cvmfs.root, "elsewhere")
    with pytest.raises(PublishError, match="refused to write .*elsewhere.*outside cvmfs://julia.test.org/depots"):
        with store().transaction(tag="img-0000000000000000", message="test") as root:
            open(os.path.join(root, "inside"), "w").close()  # allowed
            open(outside, "w").close()  # the stand-in, like 2.11.5, would let this through
    assert not os.path.exists(outside) and not os.path.exists(os.path.join(cvmfs.root, "depots"))
    assert not cvmfs.in_transaction() and cvmfs.log()[-1] == "abort"


@pytest.mark.parametrize("link", ["depots/pool", "depots"])
def test_a_symlink_out_of_the_subpath_aborts_the_publish(cvmfs, synthetic_build, ci_keys, link):
    cvmfs.server("transaction", REPO)
    os.makedirs(os.path.join(cvmfs.root, "shared"))
    os.makedirs(os.path.dirname(os.path.join(cvmfs.root, link)), exist_ok=True)
    os.symlink(os.path.relpath(os.path.join(cvmfs.root, "shared"), os.path.dirname(os.path.join(cvmfs.root, link))),
               os.path.join(cvmfs.root, link))
    cvmfs.server("publish", "-m", "admin's layout", REPO)
    p = publish(cvmfs, synthetic_build(), ci_keys[0])
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert line.startswith("depotdelivery: publish: refused to write") and "/shared" in line
    assert not cvmfs.in_transaction() and cvmfs.log()[-1] == "abort"
    assert os.listdir(os.path.join(cvmfs.root, "shared")) == []
