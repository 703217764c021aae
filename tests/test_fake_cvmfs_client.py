"""The CernVM-FS 2.11.5 client stand-in (tests/fakes/cvmfs_client.py) itself:
each fact of the real client it claims to reproduce, on a real FUSE mount."""

import contextlib
import errno
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import zlib

import pytest

FAKES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakes")
sys.path.insert(0, FAKES)
import cvmfs_client  # noqa: E402

UNAVAILABLE = cvmfs_client.fuse_unavailable()
pytestmark = pytest.mark.skipif(UNAVAILABLE is not None,
                                reason=f"cannot mount the CVMFS client stand-in: {UNAVAILABLE}")

MTIME = 1_700_000_000
MiB = 1024 * 1024


def obj_hash(data: bytes) -> str:
    return hashlib.sha1(zlib.compress(data)).hexdigest()


def make_tree(root, files, mtime=MTIME):
    """FILES: relative path -> bytes (a file), ("link", target), or None (a
    directory); (bytes, mode) for a file with a mode."""
    os.makedirs(root)
    for rel, spec in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if spec is None:
            os.makedirs(p, exist_ok=True)
        elif isinstance(spec, tuple) and spec[0] == "link":
            os.symlink(spec[1], p)
        else:
            data, mode = spec if isinstance(spec, tuple) else (spec, 0o644)
            with open(p, "wb") as f:
                f.write(data)
            os.chmod(p, mode)
            os.utime(p, (mtime, mtime))
    for d, _, _ in os.walk(root):
        os.utime(d, (mtime, mtime))
    return root


def pattern(n, seed=b"x"):
    """N deterministic, poorly compressible bytes."""
    out, block = bytearray(), seed
    while len(out) < n:
        block = hashlib.sha512(block).digest()
        out += block
    return bytes(out[:n])


BASE = {
    "a.txt": b"hello, revision one\n",
    "bin/tool": (b"#!/bin/sh\necho tool\n", 0o755),
    "lib/data.bin": b"\x00\x01\x02" * 100,
    "empty": None,
    "link": ("link", "a.txt"),
    "dangling": ("link", "nowhere/at/all"),
}


@pytest.fixture
def area():
    d = tempfile.mkdtemp(prefix="dd-cvmfs-client-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    if cvmfs_client.is_mounted(os.path.join(d, "mnt")):
        subprocess.run(["umount", "-l", os.path.join(d, "mnt")], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def mount(area):
    t1 = make_tree(os.path.join(area, "rev1"), BASE)
    with cvmfs_client.mounted(t1, os.path.join(area, "mnt")) as m:
        yield m


def stat_tuple(st):
    return (st.st_size, st.st_mtime, st.st_ctime, st.st_ino, st.st_dev, st.st_mode)


def replaced(area, name, changes, base=BASE, mtime=MTIME):
    files = dict(base)
    files.update(changes)
    for k in [k for k, v in changes.items() if v is False]:
        del files[k]
    return make_tree(os.path.join(area, name), files, mtime)


def test_content_listing_symlinks_and_modes(mount):
    mp = mount.mountpoint
    line = [l for l in open("/proc/mounts") if l.split()[1] == mp]
    assert line and line[0].split()[0] == "cvmfs2" and line[0].split()[2] == "fuse"
    assert "ro" in line[0].split()[3].split(",")
    assert sorted(os.listdir(mp)) == ["a.txt", "bin", "dangling", "empty", "lib", "link"]
    assert os.listdir(os.path.join(mp, "empty")) == []
    with open(os.path.join(mp, "a.txt"), "rb") as f:
        assert f.read() == BASE["a.txt"]
    with open(os.path.join(mp, "lib/data.bin"), "rb") as f:
        assert f.read() == BASE["lib/data.bin"]
    assert os.path.islink(os.path.join(mp, "link"))
    assert os.readlink(os.path.join(mp, "link")) == "a.txt"
    assert os.readlink(os.path.join(mp, "dangling")) == "nowhere/at/all"
    assert os.lstat(os.path.join(mp, "link")).st_size == len("a.txt")
    assert os.stat(os.path.join(mp, "link")).st_ino == os.stat(os.path.join(mp, "a.txt")).st_ino
    assert stat.S_IMODE(os.stat(os.path.join(mp, "a.txt")).st_mode) == 0o444
    assert stat.S_IMODE(os.stat(os.path.join(mp, "bin/tool")).st_mode) == 0o555
    assert stat.S_IMODE(os.stat(os.path.join(mp, "bin")).st_mode) == 0o555
    assert stat.S_ISDIR(os.stat(mp).st_mode) and stat.S_IMODE(os.stat(mp).st_mode) == 0o555
    out = subprocess.run([os.path.join(mp, "bin/tool")], capture_output=True, text=True)
    assert out.stdout == "tool\n"
    with pytest.raises(FileNotFoundError):
        os.stat(os.path.join(mp, "missing"))


def test_stat_times_size_and_dev(mount):
    mp = mount.mountpoint
    st = os.stat(os.path.join(mp, "lib/data.bin"))
    assert st.st_size == 300
    assert st.st_mtime_ns == st.st_ctime_ns == st.st_atime_ns == MTIME * 10**9
    assert st.st_dev == os.stat(mp).st_dev != os.stat(os.path.dirname(mp)).st_dev
    assert st.st_nlink == 1 and st.st_blocks == 1 + 300 // 512


def test_same_size_same_mtime_replacement_keeps_stat_tuple(area, mount):
    mp, p = mount.mountpoint, os.path.join(mount.mountpoint, "a.txt")
    new = b"HELLO, REVISION TWO\n"
    assert len(new) == len(BASE["a.txt"]) and new != BASE["a.txt"]
    before = stat_tuple(os.stat(p))
    with open(p, "rb") as f:
        assert f.read() == BASE["a.txt"]
    assert mount.switch_revision(replaced(area, "rev2", {"a.txt": new})) == 2
    assert stat_tuple(os.stat(p)) == before
    with open(p, "rb") as f:
        assert f.read() == new
    assert os.getxattr(mp, "user.revision") == b"2"


def test_inodes_stable_per_path_across_revisions(area, mount):
    mp = mount.mountpoint
    paths = ["", "a.txt", "bin", "bin/tool", "lib/data.bin", "empty", "link"]
    first = {q: os.lstat(os.path.join(mp, q)).st_ino for q in paths}
    assert len(set(first.values())) == len(paths)
    mount.switch_revision(replaced(area, "rev2", {"a.txt": b"other size and content",
                                                  "lib/data.bin": False, "new.txt": b"n"},
                                   mtime=MTIME + 3600))
    assert os.stat(os.path.join(mp, "a.txt")).st_mtime == MTIME + 3600
    for q in paths:
        if q != "lib/data.bin":
            assert os.lstat(os.path.join(mp, q)).st_ino == first[q], q
    assert not os.path.exists(os.path.join(mp, "lib/data.bin"))
    new_ino = os.stat(os.path.join(mp, "new.txt")).st_ino
    assert new_ino not in first.values()
    mount.switch_revision(os.path.join(area, "rev1"))
    assert os.stat(os.path.join(mp, "lib/data.bin")).st_ino == first["lib/data.bin"]
    assert not os.path.exists(os.path.join(mp, "new.txt"))


@pytest.mark.parametrize("read_before_switch", [True, False])
def test_descriptor_opened_before_switch_keeps_old_bytes(area, mount, read_before_switch):
    p = os.path.join(mount.mountpoint, "lib/data.bin")
    old, new = BASE["lib/data.bin"], b"\xff\xfe\xfd" * 100
    fd_old = os.open(p, os.O_RDONLY)
    try:
        if read_before_switch:
            assert os.pread(fd_old, 10, 0) == old[:10]
        mount.switch_revision(replaced(area, "rev2", {"lib/data.bin": new}))
        fd_new = os.open(p, os.O_RDONLY)
        try:
            assert os.pread(fd_new, 1000, 0) == new
            assert os.pread(fd_old, 1000, 0) == old
            assert os.pread(fd_new, 1000, 0) == new
            assert os.pread(fd_old, 50, 250) == old[250:]
            assert stat_tuple(os.fstat(fd_old)) == stat_tuple(os.fstat(fd_new))
        finally:
            os.close(fd_new)
    finally:
        os.close(fd_old)
    for _ in range(2):      # after the old descriptor is gone: new bytes, also from the cache
        with open(p, "rb") as f:
            assert f.read() == new


def test_executables_and_mappings_follow_the_revision(area, mount):
    import mmap
    tool = os.path.join(mount.mountpoint, "bin/tool")
    data = os.path.join(mount.mountpoint, "lib/data.bin")
    assert subprocess.run([tool], capture_output=True, text=True).stdout == "tool\n"
    with open(data, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mm:
        assert mm[:] == BASE["lib/data.bin"]
    new_data = b"\x07\x08\x09" * 100
    mount.switch_revision(replaced(area, "rev2", {"bin/tool": (b"#!/bin/sh\necho TOOL\n", 0o755),
                                                  "lib/data.bin": new_data}))
    assert subprocess.run([tool], capture_output=True, text=True).stdout == "TOOL\n"
    with open(data, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mm:
        assert mm[:] == new_data


def test_user_hash_is_the_compressed_object_hash_and_follows_content(area, mount):
    mp, p = mount.mountpoint, os.path.join(mount.mountpoint, "a.txt")
    h1 = os.getxattr(p, "user.hash").decode()
    assert h1 == obj_hash(BASE["a.txt"])
    assert os.getxattr(p, "user.chunks") == b"1"
    assert os.getxattr(p, "user.chunk_list").decode() == f"hash,offset,size\n{h1},0,20\n"
    assert os.getxattr(p, "user.compression") == b"zlib"
    tool1 = os.getxattr(os.path.join(mp, "bin/tool"), "user.hash")
    mount.switch_revision(replaced(area, "rev2", {"a.txt": b"HELLO, REVISION TWO\n"}))
    h2 = os.getxattr(p, "user.hash").decode()
    assert h2 == obj_hash(b"HELLO, REVISION TWO\n") != h1
    assert os.getxattr(os.path.join(mp, "bin/tool"), "user.hash") == tool1
    for path, name in [(mp, "user.hash"), (os.path.join(mp, "bin"), "user.hash"),
                       (p, "user.no_such_attribute"), (mp, "user.chunks")]:
        with pytest.raises(OSError) as e:
            os.getxattr(path, name)
        assert e.value.errno == errno.ENODATA, (path, name)


def test_files_above_the_chunk_size_are_chunked(area):
    big = pattern(9 * MiB + 5)
    exact = pattern(4 * MiB, b"y")
    t1 = make_tree(os.path.join(area, "rev1"), {"big.bin": big, "exact.bin": exact})
    with cvmfs_client.mounted(t1, os.path.join(area, "mnt")) as m:
        p = os.path.join(m.mountpoint, "big.bin")
        with pytest.raises(OSError) as e:
            os.getxattr(p, "user.hash")
        assert e.value.errno == errno.ENODATA
        assert os.getxattr(p, "user.chunks") == b"3"
        lines = os.getxattr(p, "user.chunk_list").decode().splitlines()
        want = [f"{obj_hash(big[o:o + 4 * MiB])},{o},{len(big[o:o + 4 * MiB])}"
                for o in (0, 4 * MiB, 8 * MiB)]
        assert lines == ["hash,offset,size"] + want
        with open(p, "rb") as f:
            assert hashlib.sha256(f.read()).digest() == hashlib.sha256(big).digest()
        q = os.path.join(m.mountpoint, "exact.bin")
        assert os.getxattr(q, "user.hash").decode() == obj_hash(exact)
        assert os.getxattr(q, "user.chunks") == b"1"


def test_chunk_size_is_configurable(area):
    data = pattern(2500)
    t1 = make_tree(os.path.join(area, "rev1"), {"f": data})
    with cvmfs_client.mounted(t1, os.path.join(area, "mnt"), chunk_size=1000) as m:
        p = os.path.join(m.mountpoint, "f")
        assert os.getxattr(p, "user.chunks") == b"3"
        assert os.getxattr(p, "user.chunk_list").decode().splitlines()[1:] == [
            f"{obj_hash(data[0:1000])},0,1000", f"{obj_hash(data[1000:2000])},1000,1000",
            f"{obj_hash(data[2000:])},2000,500"]
        with pytest.raises(OSError):
            os.getxattr(p, "user.hash")


def test_root_revision_and_root_hash_change_with_every_revision(area, mount):
    mp = mount.mountpoint
    seen = []
    for expected, tree in [(1, None), (2, os.path.join(area, "rev1")),
                           (3, os.path.join(area, "rev1"))]:
        if tree:
            assert mount.switch_revision(tree) == expected
        assert os.getxattr(mp, "user.revision") == str(expected).encode()
        rh = os.getxattr(mp, "user.root_hash").decode()
        assert len(rh) == 40 and int(rh, 16) >= 0
        assert mount.status() == {"revision": expected, "root_hash": rh,
                                  "tree": os.path.join(area, "rev1")}
        seen.append(rh)
    assert len(set(seen)) == 3
    assert os.getxattr(os.path.join(mp, "a.txt"), "user.revision") == b"3"
    assert os.getxattr(mp, "user.fqrn") == b"mnt"


def test_listxattr_lists_only_on_the_repository_root(mount):
    mp = mount.mountpoint
    assert os.listxattr(os.path.join(mp, "a.txt")) == []
    assert os.listxattr(os.path.join(mp, "bin")) == []
    assert sorted(os.listxattr(mp)) == ["user.fqrn", "user.revision", "user.root_hash"]


def test_getxattr_by_name_works_for_an_ordinary_user(mount):
    if shutil.which("runuser") is None:
        pytest.skip("runuser is absent")
    mp = mount.mountpoint
    code = ("import os, sys\n"
            "print(os.getuid(), os.getxattr(sys.argv[1], 'user.hash').decode(),"
            " os.getxattr(sys.argv[2], 'user.revision').decode(), os.listxattr(sys.argv[1]))")
    p = subprocess.run(["runuser", "-u", "nobody", "--", cvmfs_client.SYSTEM_PYTHON, "-c", code,
                        os.path.join(mp, "a.txt"), mp], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    uid, h, rev, listed = p.stdout.split(" ", 3)
    assert int(uid) != 0
    assert h == obj_hash(BASE["a.txt"]) and rev == "1" and listed.strip() == "[]"


def test_everything_is_read_only(area, mount):
    mp = mount.mountpoint
    f = os.path.join(mp, "a.txt")
    attempts = [
        lambda: open(f, "wb"),
        lambda: open(f, "ab"),
        lambda: os.open(f, os.O_RDWR),
        lambda: open(os.path.join(mp, "new"), "wb"),
        lambda: os.mkdir(os.path.join(mp, "d")),
        lambda: os.unlink(f),
        lambda: os.rmdir(os.path.join(mp, "empty")),
        lambda: os.rename(f, os.path.join(mp, "b.txt")),
        lambda: os.symlink("a.txt", os.path.join(mp, "l2")),
        lambda: os.chmod(f, 0o777),
        lambda: os.utime(f, (0, 0)),
        lambda: os.truncate(f, 0),
        lambda: os.setxattr(f, "user.x", b"1"),
        lambda: os.removexattr(mp, "user.revision"),
    ]
    for i, attempt in enumerate(attempts):
        with pytest.raises(OSError) as e:
            attempt()
        assert e.value.errno == errno.EROFS, (i, e.value)
    with open(os.path.join(area, "rev1", "a.txt"), "rb") as src:
        assert src.read() == BASE["a.txt"]
    assert sorted(os.listdir(mp)) == sorted(os.listdir(os.path.join(area, "rev1")))


def test_switch_from_a_thread_is_effective_on_return(area, mount):
    p = os.path.join(mount.mountpoint, "a.txt")
    trees = [replaced(area, f"rev{i}", {"a.txt": f"revision {i:04d} contents\n".encode()})
             for i in range(2, 7)]
    stop, errors, seen = threading.Event(), [], set()

    def reader():
        while not stop.is_set():
            try:
                with open(p, "rb") as f:
                    # An open before a switch that changed the size reads the
                    # new size, zero-filled past the old bytes (a kernel effect
                    # the fake documents, as the real client would show); what
                    # must never happen is bytes of two revisions in one read.
                    seen.add(f.read().rstrip(b"\0"))
            except OSError as e:   # a switch must never make the path vanish
                errors.append(e)

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i, tree in enumerate(trees, start=2):
            result = {}
            th = threading.Thread(target=lambda r=result, t=tree: r.update(rev=mount.switch_revision(t)))
            th.start()
            th.join(10)
            assert result.get("rev") == i
            with open(p, "rb") as f:
                assert f.read() == f"revision {i:04d} contents\n".encode()
    finally:
        stop.set()
        t.join()
    assert errors == []
    assert seen <= {BASE["a.txt"]} | {f"revision {i:04d} contents\n".encode() for i in range(2, 7)}
    with pytest.raises(RuntimeError):
        mount.switch_revision(os.path.join(area, "no-such-tree"))
    assert mount.revision == 6


def test_mount_is_gone_after_the_context_and_module_needs_no_fusepy(area):
    assert "fusepy" not in sys.modules and "fuse" not in sys.modules
    t1 = make_tree(os.path.join(area, "rev1"), BASE)
    mp = os.path.join(area, "mnt")
    with cvmfs_client.mounted(t1, mp) as m:
        assert cvmfs_client.is_mounted(mp)
        held = open(os.path.join(mp, "a.txt"), "rb")   # a busy mount is unmounted too
        proc = m.proc
    try:
        assert not cvmfs_client.is_mounted(mp)
        assert proc.poll() is not None
        assert not os.path.exists(m.control)
    finally:
        with contextlib.suppress(OSError):     # the connection is gone: ENOTCONN
            held.close()
