#!/usr/bin/python3
"""A FUSE stand-in for a CernVM-FS 2.11.5 client mount, for depotdelivery's
tests only.

It serves a "repository" made of revisions, each revision a plain directory
tree on disk, read-only, the way a CernVM-FS 2.11.5 client (`cvmfs2`) serves
/cvmfs/REPO.  Facts of the real client it reproduces:

* The mount switches to a newer revision without a remount (the real client
  does so when the catalog TTL expires or on `cvmfs_talk remount sync`).
  Here a test hands a new directory to `switch_revision()`, which returns
  once the switch is effective: every system call that starts after it sees
  the new revision (kernel entry/attribute timeouts are 0).
* Inodes are stable per path across revisions, even when the content changed
  (the client reuses the inode of a path it already knows).  `st_dev` is the
  mount's.
* stat: atime = ctime = mtime = the published mtime, in whole seconds (the
  catalog stores a time_t); size = content size (a symlink's: the length of
  its target; a directory's: 4096); st_blocks = 1 + size // 512; st_nlink 1
  for files and symlinks, the source's for directories; owner = the user
  running the mount (CVMFS_CLAIM_OWNERSHIP).  Mode as published with the
  write bits removed (so directories are 0555-ish; exec bits of files are
  kept); symlinks are 0777.
* A descriptor opened before a revision switch keeps reading the old bytes;
  a new open of the same path reads the new bytes; both stat the same when
  size and mtime did not change.  Page cache handling follows the client's
  page cache tracker (2.10+): the first open of an inode keeps the page
  cache; an open of different content while a descriptor on the old content
  is still open uses direct I/O; otherwise an open of different content
  flushes the inode's page cache.
* Extended attributes ("magic xattrs"), read by NAME on any path by any user
  who may read the entry (the mount uses default_permissions, like the real
  client's default CVMFS_CHECK_PERMISSIONS=yes, and allow_other):
    - any path: user.fqrn (repository name), user.revision (integer, as
      text), user.root_hash (hex; changes with every revision, even when no
      file changed);
    - regular files: user.compression ("zlib"), user.chunks (count: 1 for a
      file that is not chunked), user.chunk_list (a header line
      "hash,offset,size", then one "hash,offset,size" line per chunk; a file
      that is not chunked has one line for its whole object);
    - regular files up to the chunk size (4 MiB by default, --chunk-size):
      user.hash = SHA-1 (hex) of the zlib-compressed content, i.e. the hash
      of the stored object;  files above the chunk size are chunked: no
      user.hash (ENODATA), and each chunk's hash is the SHA-1 of its
      zlib-compressed bytes;
    - symlinks: user.rawlink (the kernel refuses user.* names on symlinks
      before asking the file system, as it does for the real client);
    - any other name: ENODATA.
  listxattr lists nothing except on the repository root, where it lists the
  repository-wide names (CVMFS_MAGIC_XATTRS_VISIBILITY=rootonly, the default).
* Symlinks are served as symlinks, directories are listable, everything is
  read-only (ro mount: writes fail with EROFS).  The mount is listed in
  /proc/mounts as `cvmfs2 MOUNTPOINT fuse ...` like the real one.

Differences from the real client (on purpose, or not worth faking): chunks are
fixed-size (the real publisher cuts content-defined chunks, 4/8/16 MiB
min/avg/max); hard links are not grouped (every file has st_nlink 1);
special files (fifos, sockets, devices) in a source tree are hidden; the
repository-wide xattrs other than the three above are absent; the kernel
caches nothing (entry/attribute timeouts 0, where the real client keeps 60 s
and invalidates on a switch), so every lookup is a round trip to this Python
process; "same content" for the page cache is the same source file (device,
inode, size, mtime, ctime), not the same hash.  Revision trees must not be
changed in place once published (replace files by rename, or use a fresh
directory per revision): an open descriptor keeps the file it opened, but
stat results and listings are read lazily from the tree.  Kernel effects of
the page cache scheme (seen here on Linux 6.18; the real client's direct-I/O
opens are subject to the same kernel rules): a descriptor kept open across a
switch that changed the file's size sees the new size in fstat, and a read
through it returns the old bytes zero-filled up to the new size;
a private mapping made through a direct-I/O descriptor refills the page
cache with the new bytes, which an older descriptor then reads; a shared
mapping of a direct-I/O descriptor fails with ENODEV.

Program:  /usr/bin/python3 cvmfs_client.py SOURCE MOUNTPOINT --control DIR
          [--revision N] [--chunk-size BYTES] [--fqrn NAME] [--debug]
runs in the foreground until unmounted (or SIGTERM/SIGINT) and needs
Debian's python3-fusepy (libfuse 2).  It listens on DIR/control.sock (one
JSON request per connection: {"op": "switch", "tree": PATH} or
{"op": "status"}) and keeps DIR/state.json current.

Test API (importable without fusepy):
    with mounted(first_tree, mountpoint) as m:
        m.switch_revision(second_tree)      # -> new revision number
        m.status()                          # -> {"revision", "root_hash", "tree"}
    switch_revision(control_dir, tree); status(control_dir); fuse_unavailable()
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zlib

CVMFS_VERSION = "2.11.5"
DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
SYSTEM_PYTHON = "/usr/bin/python3"
SOCKET_NAME = "control.sock"
STATE_NAME = "state.json"
LOG_NAME = "fuse.log"
ROOT_INODE = 256

# Magic xattr names by where they apply (the real client's flavors).
REPO_XATTRS = ("user.fqrn", "user.revision", "user.root_hash")
HASH_XATTRS = ("user.hash",)
REGULAR_XATTRS = ("user.chunk_list", "user.chunks", "user.compression")
SYMLINK_XATTRS = ("user.rawlink",)


# --------------------------------------------------------------------------
# Test-side API (no fusepy needed)
# --------------------------------------------------------------------------

def fuse_unavailable(python: str = SYSTEM_PYTHON) -> str | None:
    """Why a mount cannot be made here, or None when it can."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is absent"
    if os.geteuid() != 0:
        return "mounting with allow_other needs root"
    if not os.access(python, os.X_OK):
        return f"{python} is absent"
    p = subprocess.run([python, "-c", "import fusepy"], capture_output=True)
    if p.returncode != 0:
        p = subprocess.run([python, "-c", "import fuse; fuse.FUSE"], capture_output=True)
        if p.returncode != 0:
            return f"fusepy is not installed for {python} (Debian: python3-fusepy)"
    return None


def _request(control: str, message: dict, timeout: float = 60.0) -> dict:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(os.path.join(control, SOCKET_NAME))
        s.sendall(json.dumps(message).encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            part = s.recv(65536)
            if not part:
                break
            data += part
    finally:
        s.close()
    reply = json.loads(data.decode())
    if not reply.get("ok"):
        raise RuntimeError(f"cvmfs client stand-in: {reply.get('error', reply)}")
    return reply


def switch_revision(control: str, new_tree: str, timeout: float = 60.0) -> int:
    """Publish NEW_TREE as the next revision of the mount controlled from
    CONTROL; returns the new revision number once the switch is effective.
    Thread-safe; may be called while other threads use the mount."""
    return _request(control, {"op": "switch", "tree": os.path.abspath(new_tree)},
                    timeout)["revision"]


def status(control: str, timeout: float = 60.0) -> dict:
    """{"revision": int, "root_hash": str, "tree": str} of the mount."""
    r = _request(control, {"op": "status"}, timeout)
    return {k: r[k] for k in ("revision", "root_hash", "tree")}


def _mount_points() -> set[str]:
    with open("/proc/mounts") as f:
        return {l.split()[1].replace("\\040", " ").replace("\\011", "\t")
                .replace("\\012", "\n").replace("\\134", "\\") for l in f}


def is_mounted(mountpoint: str) -> bool:
    return os.path.abspath(mountpoint) in _mount_points()


class Mount:
    """A running stand-in mount (see `mounted`)."""

    def __init__(self, mountpoint: str, control: str, proc: subprocess.Popen):
        self.mountpoint = mountpoint
        self.control = control
        self.proc = proc

    @property
    def pid(self) -> int:
        return self.proc.pid

    def switch_revision(self, new_tree: str, timeout: float = 60.0) -> int:
        return switch_revision(self.control, new_tree, timeout)

    def status(self) -> dict:
        return status(self.control)

    @property
    def revision(self) -> int:
        return self.status()["revision"]

    @property
    def root_hash(self) -> str:
        return self.status()["root_hash"]

    def log(self) -> str:
        try:
            with open(os.path.join(self.control, LOG_NAME), errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def _unmount(mountpoint: str) -> None:
    if not is_mounted(mountpoint):
        return
    for cmd in (["fusermount3", "-u", mountpoint], ["fusermount", "-u", mountpoint],
                ["umount", mountpoint]):
        if shutil.which(cmd[0]) is None:
            continue
        if subprocess.run(cmd, capture_output=True).returncode == 0 and not is_mounted(mountpoint):
            return
    subprocess.run(["umount", "-l", mountpoint], capture_output=True)


@contextlib.contextmanager
def mounted(source: str, mountpoint: str, *, control: str | None = None,
            revision: int = 1, chunk_size: int | None = None, fqrn: str | None = None,
            python: str = SYSTEM_PYTHON, timeout: float = 20.0, debug: bool = False):
    """Mount SOURCE (revision REVISION) at MOUNTPOINT, yield a `Mount`; on exit
    unmount and stop the process.  CONTROL (the control folder, outside the
    mount) is a new temporary folder unless given."""
    mountpoint = os.path.abspath(mountpoint)
    os.makedirs(mountpoint, exist_ok=True)
    if is_mounted(mountpoint):
        raise RuntimeError(f"{mountpoint} is already a mount point")
    own_control = control is None
    control = tempfile.mkdtemp(prefix="cvmfs-client-") if own_control else os.path.abspath(control)
    os.makedirs(control, exist_ok=True)
    cmd = [python, os.path.abspath(__file__), os.path.abspath(source), mountpoint,
           "--control", control, "--revision", str(revision)]
    if chunk_size is not None:
        cmd += ["--chunk-size", str(chunk_size)]
    if fqrn is not None:
        cmd += ["--fqrn", fqrn]
    if debug:
        cmd.append("--debug")
    with open(os.path.join(control, LOG_NAME), "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    m = Mount(mountpoint, control, proc)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"cvmfs client stand-in exited ({proc.returncode}):\n{m.log()}")
            if is_mounted(mountpoint):
                try:
                    m.status()
                    break
                except (OSError, ValueError):
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"cvmfs client stand-in did not mount {mountpoint} "
                                   f"within {timeout}s:\n{m.log()}")
            time.sleep(0.02)
        yield m
    finally:
        _unmount(mountpoint)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _unmount(mountpoint)
        if own_control:
            shutil.rmtree(control, ignore_errors=True)


# --------------------------------------------------------------------------
# The file system (runs under /usr/bin/python3 with fusepy)
# --------------------------------------------------------------------------

def _compressed_sha1(data: bytes) -> str:
    return hashlib.sha1(zlib.compress(data)).hexdigest()


class Entry:
    """One catalog entry of a revision (what the real client's catalog holds)."""

    __slots__ = ("kind", "mode", "size", "mtime", "nlink", "target", "src")

    def __init__(self, kind, mode, size, mtime, nlink, target, src):
        self.kind, self.mode, self.size, self.mtime = kind, mode, size, mtime
        self.nlink, self.target, self.src = nlink, target, src


class Revision:
    def __init__(self, number: int, tree: str, fqrn: str):
        self.number = number
        self.tree = os.path.abspath(tree)
        seed = f"{fqrn}\0{number}\0{self.tree}\0{time.time_ns()}".encode()
        self.root_hash = hashlib.sha1(seed).hexdigest()
        self._entries: dict[str, Entry | None] = {}
        self._lock = threading.Lock()

    def entry(self, path: str) -> Entry | None:
        with self._lock:
            if path in self._entries:
                return self._entries[path]
        src = self.tree if path == "/" else os.path.join(self.tree, path.lstrip("/"))
        e = None
        try:
            st = os.lstat(src)
        except OSError:
            st = None
        if st is not None:
            perm = stat.S_IMODE(st.st_mode)
            if stat.S_ISREG(st.st_mode):
                e = Entry("f", stat.S_IFREG | (perm & ~0o222), st.st_size, int(st.st_mtime), 1,
                          None, src)
            elif stat.S_ISDIR(st.st_mode):
                e = Entry("d", stat.S_IFDIR | (perm & ~0o222), 4096, int(st.st_mtime),
                          st.st_nlink, None, src)
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(src)
                e = Entry("l", stat.S_IFLNK | 0o777, len(os.fsencode(target)),
                          int(st.st_mtime), 1, target, src)
        with self._lock:
            return self._entries.setdefault(path, e)


class Handle:
    __slots__ = ("fd", "ino", "ident", "direct")

    def __init__(self, fd, ino, ident, direct):
        self.fd, self.ino, self.ident, self.direct = fd, ino, ident, direct


class CvmfsClientFS:
    """fusepy operations (raw_fi=True, use_ns=True)."""

    use_ns = True

    def __init__(self, source: str, revision: int, chunk_size: int, fqrn: str):
        self.fqrn = fqrn
        self.chunk_size = chunk_size
        self.uid, self.gid = os.geteuid(), os.getegid()
        self.lock = threading.Lock()
        self.current = Revision(revision, source, fqrn)
        self.inodes: dict[str, int] = {"/": ROOT_INODE}
        self.next_inode = ROOT_INODE + 1
        self.handles: dict[int, Handle] = {}
        self.next_fh = 1
        # Page cache tracker: inode -> [content identity, nopen]; nopen < 0
        # marks the transition after a flush (as the real client does).
        self.tracker: dict[int, list] = {}
        self.hashes: dict[tuple, tuple] = {}

    def __call__(self, op, *args):
        fn = getattr(self, op, None)
        if fn is None:
            raise OSError(errno.ENOSYS, op)
        return fn(*args)

    # -- revisions ---------------------------------------------------------

    def switch(self, tree: str) -> Revision:
        if not os.path.isdir(tree):
            raise ValueError(f"not a directory: {tree}")
        with self.lock:
            new = Revision(self.current.number + 1, tree, self.fqrn)
            new.entry("/")
            self.current = new
            return new

    def _lookup(self, path: str) -> tuple[Revision, Entry]:
        rev = self.current
        e = rev.entry(path)
        if e is None:
            raise OSError(errno.ENOENT, path)
        return rev, e

    def _inode(self, path: str) -> int:
        with self.lock:
            ino = self.inodes.get(path)
            if ino is None:
                ino = self.inodes[path] = self.next_inode
                self.next_inode += 1
            return ino

    def _attrs(self, path: str, e: Entry) -> dict:
        t = e.mtime * 1_000_000_000
        return {"st_ino": self._inode(path), "st_mode": e.mode, "st_nlink": e.nlink,
                "st_uid": self.uid, "st_gid": self.gid, "st_rdev": 1, "st_size": e.size,
                "st_blksize": 4096, "st_blocks": 1 + e.size // 512,
                "st_atime": t, "st_mtime": t, "st_ctime": t}

    # -- metadata ----------------------------------------------------------

    def getattr(self, path, fh=None):
        _, e = self._lookup(path)
        return self._attrs(path, e)

    def readlink(self, path):
        _, e = self._lookup(path)
        if e.kind != "l":
            raise OSError(errno.EINVAL, path)
        return e.target

    def opendir(self, path):
        _, e = self._lookup(path)
        if e.kind != "d":
            raise OSError(errno.ENOTDIR, path)
        return 0

    def readdir(self, path, fh):
        rev, e = self._lookup(path)
        if e.kind != "d":
            raise OSError(errno.ENOTDIR, path)
        parent = path.rsplit("/", 1)[0] or "/"
        out = [(".", self._attrs(path, e), 0)]
        pe = rev.entry(parent)
        out.append(("..", self._attrs(parent, pe) if pe else None, 0))
        try:
            names = sorted(os.listdir(e.src))
        except OSError as err:
            raise OSError(err.errno or errno.EIO, path) from err
        for name in names:
            child = "/" + name if path == "/" else path + "/" + name
            ce = rev.entry(child)
            if ce is not None:
                out.append((name, self._attrs(child, ce), 0))
        return out

    def releasedir(self, path, fh):
        return 0

    def access(self, path, amode):
        self._lookup(path)
        if amode & os.W_OK:
            raise OSError(errno.EROFS, path)
        return 0

    def statfs(self, path):
        return {"f_bsize": 4096, "f_frsize": 4096, "f_blocks": 0, "f_bfree": 0,
                "f_bavail": 0, "f_files": 0, "f_ffree": 0, "f_favail": 0, "f_namemax": 255}

    # -- content -----------------------------------------------------------

    def open(self, path, fi):
        if fi.flags & os.O_ACCMODE != os.O_RDONLY or fi.flags & os.O_TRUNC:
            raise OSError(errno.EROFS, path)
        _, e = self._lookup(path)
        if e.kind != "f":
            raise OSError(errno.EISDIR if e.kind == "d" else errno.ELOOP, path)
        fd = os.open(e.src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        st = os.fstat(fd)
        ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        ino = self._inode(path)
        with self.lock:
            keep_cache, direct = self._tracker_open(ino, ident)
            fh = self.next_fh
            self.next_fh += 1
            self.handles[fh] = Handle(fd, ino, ident, direct)
        fi.fh = fh
        fi.keep_cache = 1 if keep_cache else 0
        fi.direct_io = 1 if direct else 0
        return 0

    def _tracker_open(self, ino, ident) -> tuple[bool, bool]:
        """(keep_cache, direct_io) for an open of content IDENT, the way the
        client's page cache tracker decides (lock held)."""
        t = self.tracker.get(ino)
        if t is None:
            self.tracker[ino] = [ident, 1]
            return True, False
        if t[0] == ident:
            if t[1] < 0:            # still flushing older content
                t[1] -= 1
                return False, False
            t[1] += 1
            return True, False
        if t[1] != 0:               # older content still open: bypass the cache
            return True, True
        self.tracker[ino] = [ident, -1]
        return False, False

    def read(self, path, size, offset, fi):
        h = self.handles.get(fi.fh)
        if h is None:
            raise OSError(errno.EBADF, path or "")
        return os.pread(h.fd, size, offset)

    def release(self, path, fi):
        with self.lock:
            h = self.handles.pop(fi.fh, None)
            if h is not None and not h.direct:
                t = self.tracker.get(h.ino)
                if t is not None and t[1] != 0:
                    if t[1] < 0:
                        t[1] = -t[1]
                    t[1] -= 1
        if h is not None:
            os.close(h.fd)
        return 0

    def flush(self, path, fi):
        return 0

    # -- extended attributes -----------------------------------------------

    def _object_hashes(self, e: Entry) -> tuple[str | None, list[tuple[str, int, int]]]:
        """(user.hash or None, [(chunk hash, offset, size)])."""
        with open(e.src, "rb") as f:
            st = os.fstat(f.fileno())
            key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                   self.chunk_size)
            cached = self.hashes.get(key)
            if cached is not None:
                return cached
            if st.st_size <= self.chunk_size:
                data = f.read()
                h = _compressed_sha1(data)
                result = (h, [(h, 0, len(data))])
            else:
                chunks, offset = [], 0
                while True:
                    data = f.read(self.chunk_size)
                    if not data:
                        break
                    chunks.append((_compressed_sha1(data), offset, len(data)))
                    offset += len(data)
                result = (None, chunks)
        self.hashes[key] = result
        return result

    def getxattr(self, path, name, position=0):
        rev, e = self._lookup(path)
        if name == "user.fqrn":
            return self.fqrn.encode()
        if name == "user.revision":
            return str(rev.number).encode()
        if name == "user.root_hash":
            return rev.root_hash.encode()
        if e.kind == "f":
            if name == "user.compression":
                return b"zlib"
            if name in ("user.hash", "user.chunks", "user.chunk_list"):
                whole, chunks = self._object_hashes(e)
                if name == "user.hash":
                    if whole is None:
                        raise OSError(errno.ENODATA, name)
                    return whole.encode()
                if name == "user.chunks":
                    return str(len(chunks)).encode()
                lines = ["hash,offset,size"] + [f"{h},{o},{s}" for h, o, s in chunks]
                return ("\n".join(lines) + "\n").encode()
        if e.kind == "l" and name == "user.rawlink":
            return os.fsencode(e.target)
        raise OSError(errno.ENODATA, name)

    def listxattr(self, path):
        self._lookup(path)
        return list(REPO_XATTRS) if path == "/" else []

    # -- everything that writes --------------------------------------------

    def _erofs(self, *args):
        raise OSError(errno.EROFS, "read-only file system")

    chmod = chown = create = mkdir = mknod = rename = rmdir = symlink = _erofs
    truncate = unlink = utimens = write = link = setxattr = removexattr = _erofs


def _serve_control(fs: CvmfsClientFS, control: str) -> None:
    path = os.path.join(control, SOCKET_NAME)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o600)
    srv.listen(16)

    def write_state(rev):
        tmp = os.path.join(control, STATE_NAME + ".tmp")
        with open(tmp, "w") as f:
            json.dump({"revision": rev.number, "root_hash": rev.root_hash, "tree": rev.tree,
                       "pid": os.getpid()}, f)
        os.replace(tmp, os.path.join(control, STATE_NAME))

    write_state(fs.current)
    state_lock = threading.Lock()

    def handle(conn):
        with conn:
            try:
                data = b""
                while not data.endswith(b"\n"):
                    part = conn.recv(65536)
                    if not part:
                        break
                    data += part
                req = json.loads(data.decode())
                if req.get("op") == "switch":
                    with state_lock:
                        rev = fs.switch(req["tree"])
                        write_state(rev)
                elif req.get("op") == "status":
                    rev = fs.current
                else:
                    raise ValueError(f"unknown request {req!r}")
                reply = {"ok": True, "revision": rev.number, "root_hash": rev.root_hash,
                         "tree": rev.tree}
            except Exception as err:  # reported to the caller
                reply = {"ok": False, "error": f"{type(err).__name__}: {err}"}
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps(reply).encode() + b"\n")

    def loop():
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, name="cvmfs-control", daemon=True).start()


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="directory tree of the first revision")
    ap.add_argument("mountpoint")
    ap.add_argument("--control", required=True, help="control folder (outside the mount)")
    ap.add_argument("--revision", type=int, default=1, help="number of the first revision")
    ap.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE,
                    help="files above this many bytes are chunked (default 4 MiB)")
    ap.add_argument("--fqrn", help="repository name (default: the mount point's name)")
    ap.add_argument("--debug", action="store_true", help="libfuse debug output")
    args = ap.parse_args(argv)
    if args.chunk_size <= 0:
        ap.error("--chunk-size must be positive")
    if not os.path.isdir(args.source):
        ap.error(f"not a directory: {args.source}")
    try:
        import fusepy as fuse          # Debian's python3-fusepy
    except ImportError:
        import fuse                    # PyPI's fusepy
    mountpoint = os.path.abspath(args.mountpoint)
    fqrn = args.fqrn or os.path.basename(mountpoint)
    os.makedirs(args.control, exist_ok=True)
    fs = CvmfsClientFS(os.path.abspath(args.source), args.revision, args.chunk_size, fqrn)
    _serve_control(fs, os.path.abspath(args.control))
    fuse.FUSE(fs, mountpoint, raw_fi=True, foreground=True, nothreads=False,
              debug=args.debug, fsname="cvmfs2", ro=True, allow_other=True,
              default_permissions=True, use_ino=True, attr_timeout=0, entry_timeout=0,
              negative_timeout=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
