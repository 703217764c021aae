"""A CernVM-FS repository as a store, written through `cvmfs_server`.

Runs on the repository's release manager machine.  Checked against a real
CernVM-FS 2.11.5 stratum 0; uses only its documented command line
(transaction, publish, abort, tag):

    cvmfs_server transaction REPO/SUBPATH      open a (path-scoped) transaction
    ... write under /cvmfs/REPO/SUBPATH ...
    cvmfs_server publish -a TAG -m MSG REPO    commit as a new revision + tag
    cvmfs_server abort -f REPO                 on any failure: discard

What 2.11.5 does that shapes this module (tests/fakes/cvmfs_server mirrors
it, message for message):

* another transaction open: exit 17 (EEXIST), "another transaction is already
  open"; a busy gateway lease: exit 16 (EBUSY).  Both are retried with
  bounded exponential backoff (tenacity), then reported; a transaction this
  process did not open is never aborted.
* `transaction REPO/a/b/c` refuses (exit 2) unless /a/b exists, so missing
  parents of SUBPATH are first created in their own short transaction.
* an unknown repository names its missing server.conf (exit 1): reported as
  a configuration error (exit 78), not as a failed publish.
* `tag -l -x` lists automatic tags too (trunk, trunk-previous,
  generic-<time> for every publish without -a): `tags()` keeps only ours.
* `publish -a TAG` with a tag in use fails and leaves the transaction open.
* a path-scoped transaction on a local stratum 0 leaves the whole repository
  writable, so the confinement to SUBPATH is ours to enforce (_WriteGuard).

Nodes need nothing beyond reading /cvmfs: they exec only through image-id
paths, which never change, so a revision switch under a running job is
harmless.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Iterator

from .errors import ConfigError, PublishError, UsageError
from .model import NAME_PATTERN

MOUNT_BASE = "/cvmfs"
# Exit codes of `cvmfs_server transaction` meaning "someone else is in there,
# try again later": EBUSY (gateway lease held), EEXIST (another transaction is
# already open).  The words catch the same states in other versions' texts.
_BUSY_EXITS = (16, 17)
_BUSY_WORDS = ("another transaction is already open", "already in a transaction",
               "transaction in progress", "lease", "busy", "locked")
# `abort` with no transaction open: EINVAL and this text.
_NOT_IN_TXN_EXIT = 22
_NOT_IN_TXN = "not in a transaction"
_TAG_IN_USE = "is already in use"
# A duplicate tag gets a numbered suffix, a few times at most (see _publish).
_TAG_SUFFIXES = 3
# Tags depotdelivery makes (build/publish.py): img-<first 16 hex of the image
# id>, channel-<name>-<UTC stamp>, each possibly with a -N suffix from a
# duplicate.  Everything else in `tag -l` (trunk, trunk-previous,
# generic-<time>, an admin's own tags) is not ours.
_OWN_TAG = re.compile(rf"^(img-[0-9a-f]{{16}}|channel-{NAME_PATTERN}-\d{{8}}T\d{{6}})(-\d+)?$")


class _Busy(Exception):
    pass


@dataclass(frozen=True)
class CvmfsStore:
    url: str
    repo: str
    subpath: str
    root: str  # /cvmfs/REPO/SUBPATH
    attempts: int = 5
    max_wait_s: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> "CvmfsStore":
        rest = url[len("cvmfs://"):].strip("/")
        repo, _, sub = rest.partition("/")
        if not repo or "." not in repo or any(p in ("", ".", "..") for p in sub.split("/") if sub):
            raise UsageError(f"bad CVMFS store {url!r}: use cvmfs://REPO.NAME/SUBPATH "
                             "(e.g. cvmfs://julia.example.org/depots)")
        base = os.environ.get("DEPOTDELIVERY_CVMFS_MOUNT", MOUNT_BASE)
        try:
            attempts = int(os.environ.get("DEPOTDELIVERY_CVMFS_ATTEMPTS", "5"))
            wait = float(os.environ.get("DEPOTDELIVERY_CVMFS_MAX_WAIT", "30"))
            if attempts < 1 or not wait >= 0:
                raise ValueError
        except ValueError:
            raise ConfigError("DEPOTDELIVERY_CVMFS_ATTEMPTS must be a whole number >= 1 and "
                              "DEPOTDELIVERY_CVMFS_MAX_WAIT seconds >= 0; fix or unset them") from None
        return cls(url=url, repo=repo, subpath=sub, root=os.path.join(base, repo, sub),
                   attempts=attempts, max_wait_s=wait)

    @property
    def repo_dir(self) -> str:
        """/cvmfs/REPO: root minus the subpath."""
        return self.root[:-len(self.subpath) - 1] if self.subpath else self.root.rstrip("/")

    # -- the cvmfs_server command line ----------------------------------------
    def _server(self) -> str:
        exe = shutil.which("cvmfs_server")
        if not exe:
            raise PublishError("no cvmfs_server on PATH: publish to cvmfs:// from the repository's "
                               "release manager machine (or publish to a directory store)")
        return exe

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        try:
            p = subprocess.run([self._server(), *args], capture_output=True, text=True, timeout=3600)
        except subprocess.TimeoutExpired:
            raise PublishError(f"cvmfs_server {args[0]} {self.repo} did not finish in an hour") from None
        if p.returncode != 0:
            self._check_known(p)
        return p

    def _why(self, p: subprocess.CompletedProcess) -> str:
        text = (p.stderr.strip() or p.stdout.strip()).splitlines()
        return text[-1][:300] if text else f"exit {p.returncode}"

    def _check_known(self, p: subprocess.CompletedProcess) -> None:
        """Any command on a repository this machine does not host fails the
        same way; that is the site's configuration (wrong URL, wrong machine),
        not a failed publish, hence ConfigError (exit 78)."""
        low = self._why(p).lower()
        if ("server.conf" in low or "no such repository" in low
                or re.search(rf"repository {re.escape(self.repo.lower())} (not found|does not exist)", low)):
            raise ConfigError(f"CVMFS repository {self.repo} is unknown on this machine (no "
                              f"/etc/cvmfs/repositories.d/{self.repo}/server.conf): check the store URL, "
                              f"run on its release manager machine, or create it with "
                              f"cvmfs_server mkfs {self.repo}")

    def _target(self, path: str) -> str:
        return f"{self.repo}/{path}" if path else self.repo

    def _open(self, path: str) -> None:
        """Open a transaction on REPO[/path], retrying while someone else
        holds the repository or the lease."""
        from tenacity import (RetryError, retry, retry_if_exception_type, stop_after_attempt,
                              wait_exponential)
        target = self._target(path)

        @retry(retry=retry_if_exception_type(_Busy), stop=stop_after_attempt(self.attempts),
               wait=wait_exponential(multiplier=max(self.max_wait_s / 16, 0.01), max=self.max_wait_s),
               reraise=False)
        def attempt() -> None:
            p = self._run("transaction", target)
            if p.returncode == 0:
                return
            why = self._why(p)
            if p.returncode in _BUSY_EXITS or any(w in why.lower() for w in _BUSY_WORDS):
                raise _Busy(why)
            raise PublishError(f"cvmfs_server transaction {target} failed ({why}); "
                               "nothing was published: check the repository with cvmfs_server list")

        try:
            attempt()
        except RetryError as e:
            why = e.last_attempt.exception()
            raise PublishError(f"CVMFS repository {self.repo} stays busy after {self.attempts} attempts "
                               f"({why}); another publisher holds it: retry later") from None

    def _abort(self) -> bool:
        """Discard our open transaction.  False: none was open (2.11 exits 22
        then), which leaves the repository as clean as an abort would."""
        p = self._run("abort", "-f", self.repo)
        if p.returncode == 0:
            return True
        if p.returncode == _NOT_IN_TXN_EXIT or _NOT_IN_TXN in self._why(p).lower():
            return False
        raise PublishError(f"cvmfs_server abort -f {self.repo} failed ({self._why(p)}): the repository "
                           "may still be in a transaction; run it by hand")

    def _publish(self, tag: str, message: str) -> str:
        """Commit the open transaction; -> the tag it got.

        A tag already in use (2.11 refuses it and keeps the transaction open)
        gets a numbered suffix instead of failing the publish: the content is
        content-addressed and valid, and the clash only ever comes from a
        label -- two channel moves in the same second (the stamp has 1 s
        resolution) or a concurrent publisher that tagged the same image
        first.  Failing would make the user re-run for nothing.  A few tries
        at most; any other failure aborts."""
        candidates = [tag, *(f"{tag}-{n}" for n in range(2, _TAG_SUFFIXES + 2))] if tag else [""]
        for candidate in candidates:
            args = ["publish"] + (["-a", candidate] if candidate else []) + (["-m", message] if message else [])
            p = self._run(*args, self.repo)
            if p.returncode == 0:
                return candidate
            why = self._why(p)
            if not (candidate and _TAG_IN_USE in why.lower()):
                break
        aborted = self._abort()
        if candidate and _TAG_IN_USE in why.lower():
            raise PublishError(f"CVMFS tags {tag} to {candidates[-1]} are all in use in {self.repo}; the "
                               "transaction was aborted, nothing was published: remove stale tags "
                               f"(cvmfs_server tag -r NAME {self.repo}) and re-run")
        if aborted:
            raise PublishError(f"cvmfs_server publish {self.repo} failed ({why}); "
                               "the transaction was aborted, nothing was published")
        raise PublishError(f"cvmfs_server publish {self.repo} failed ({why}) and left no transaction open; "
                           f"check `cvmfs_server tag -l {self.repo}` for what landed, then re-run")

    # -- parents of the subpath -------------------------------------------------
    def _missing_parents(self) -> list[str]:
        """Parent folders of SUBPATH (repository-relative) not there yet,
        shallowest first.  SUBPATH itself is made in the scoped transaction."""
        parts = self.subpath.split("/") if self.subpath else []
        levels = ["/".join(parts[:i]) for i in range(1, len(parts))]
        return [lvl for lvl in levels if not os.path.isdir(os.path.join(self.repo_dir, lvl))]

    def _make_parents(self) -> None:
        """2.11 opens `transaction REPO/a/b/c` only if /a/b exists.  A first
        publish to a deep subpath therefore opens a transaction on the deepest
        existing ancestor, makes just the missing levels, and publishes them
        without a tag of ours (2.11 adds its generic-<time> tag; `tags()` does
        not list it), before the scoped transaction of the real publish."""
        missing = self._missing_parents()
        if not missing:
            return
        ancestor = os.path.dirname(missing[0])
        self._open(ancestor)
        try:
            missing = self._missing_parents()  # another publisher may have made them meanwhile
            if missing:
                allowed = [os.path.join(self.repo_dir, lvl) for lvl in missing]
                with _WriteGuard(self, self.repo_dir, tree=None, exact=allowed):
                    for path in allowed:
                        if not os.path.isdir(path):
                            os.mkdir(path, 0o755)
        except OSError as e:
            self._abort()
            from .stores import oserror_text
            raise PublishError(oserror_text(f"creating /{missing[-1]} in {self.repo}", e)) from None
        except BaseException:
            self._abort()
            raise
        if not missing:
            self._abort()  # nothing left to do: our own, empty transaction
            return
        self._publish("", f"depotdelivery: parent folders /{missing[-1]} of {self.url}")

    # -- the store interface ------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self, *, tag: str, message: str) -> Iterator[str]:
        self._make_parents()
        self._open(self.subpath)
        try:
            with _WriteGuard(self, self.repo_dir, tree=self.root):
                os.makedirs(self.root, exist_ok=True)
                yield self.root
        except BaseException:
            self._abort()
            raise
        self._publish(tag, message)

    def tags(self) -> list[str]:
        """depotdelivery's own tags (img-*, channel-*), oldest revision first.
        `tag -l -x` rows: NAME HASH SIZE REV TIMESTAMP BRANCH DESCRIPTION."""
        p = self._run("tag", "-l", "-x", self.repo)
        if p.returncode != 0:
            raise PublishError(f"cvmfs_server tag -l {self.repo} failed: {self._why(p)}")
        rows = []
        for line in p.stdout.splitlines():
            fields = line.split(None, 6)
            if len(fields) >= 6 and fields[3].isdigit() and _OWN_TAG.match(fields[0]):
                rows.append((int(fields[3]), fields[0]))
        return [name for _, name in sorted(rows)]


# -- confinement to the subpath ------------------------------------------------------
# 2.11.5 makes the whole repository writable even for a path-scoped
# transaction, and a symlink inside the store (say depots/pool -> ../shared)
# would send publish.py's writes elsewhere in the repository.  So while a
# transaction is open, every file-system write this process makes (Python's
# audit events: open for writing, mkdir, rename, chmod, ...) is checked: one
# that lands in the repository, or is made through a path inside it, must
# resolve under the subpath, else it is refused before it happens and the
# transaction is aborted.  Audit hooks cannot be removed: one is installed
# on first use and does nothing while no guard is active.

_ACTIVE: list["_WriteGuard"] = []
_HOOKED: list[bool] = []
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# event -> ((index of a path written, index of its dir_fd or None), ...), and
# whether the call follows a symlink in the last component.  (The "open"
# event carries no dir_fd: an open relative to one would be judged against
# the working directory; depotdelivery makes none.)
_EVENTS = {
    "os.mkdir": (((0, 2),), False), "os.rename": (((0, 2), (1, 3)), False),
    "os.remove": (((0, 1),), False), "os.rmdir": (((0, 1),), False),
    "os.chmod": (((0, 2),), True), "os.chown": (((0, 3),), True), "os.utime": (((0, 3),), True),
    "os.symlink": (((1, 2),), False), "os.link": (((1, 3),), False), "os.truncate": (((0, None),), True),
    "os.mkfifo": (((0, 2),), False), "os.mknod": (((0, 3),), False),
    "os.setxattr": (((0, None),), True), "os.removexattr": (((0, None),), True),
    "shutil.copyfile": (((1, None),), True), "shutil.copymode": (((1, None),), True),
    "shutil.copystat": (((1, None),), True), "shutil.copytree": (((1, None),), False),
    "shutil.move": (((0, None), (1, None)), False), "shutil.rmtree": (((0, 1),), False),
}


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _audit(event: str, args: tuple) -> None:
    if not _ACTIVE:
        return
    if event == "open":
        if isinstance(args[2], int) and args[2] & _WRITE_FLAGS:
            _ACTIVE[-1].check(args[0], None, True)
        return
    spec = _EVENTS.get(event)
    if spec:
        targets, follow = spec
        for i, fd_i in targets:
            _ACTIVE[-1].check(args[i], args[fd_i] if fd_i is not None and fd_i < len(args) else None, follow)


class _WriteGuard:
    def __init__(self, store: CvmfsStore, repo_dir: str, *, tree: str | None, exact=()):
        self.url = store.url
        self.lex_top = os.path.abspath(repo_dir)
        self.real_top = os.path.realpath(repo_dir)
        self.tree = os.path.join(self.real_top, os.path.relpath(tree, self.lex_top)) if tree else None
        self.exact = {os.path.join(self.real_top, os.path.relpath(p, self.lex_top)) for p in exact}

    def __enter__(self) -> "_WriteGuard":
        if not _HOOKED:
            sys.addaudithook(_audit)
            _HOOKED.append(True)
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _ACTIVE.remove(self)

    def check(self, path, dir_fd, follow: bool) -> None:
        if isinstance(path, int):
            return  # an open file descriptor: its path was checked when it was opened
        path = os.fsdecode(path)
        if dir_fd not in (None, -1) and not os.path.isabs(path):
            path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        lex = os.path.abspath(path)
        # The entry itself (a rename, an unlink act on the link, not its target) ...
        entry = os.path.join(os.path.realpath(os.path.dirname(lex)), os.path.basename(lex))
        real = os.path.realpath(lex) if follow else entry
        if not (_within(lex, self.lex_top) or _within(entry, self.real_top) or _within(real, self.real_top)):
            return  # neither in nor through the repository: not ours to police (temporary files)
        for p in {entry, real}:
            if not ((self.tree and _within(p, self.tree)) or p in self.exact):
                raise PublishError(f"refused to write {lex}: it resolves to {p}, outside {self.url} "
                                   "(a symlink in the repository?); the transaction is aborted: "
                                   "fix the repository layout or the store URL")

