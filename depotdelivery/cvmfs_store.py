"""A CernVM-FS repository as a store, written through `cvmfs_server`.

Runs on the repository's release manager machine.  Follows the documented
`cvmfs_server` command line of CernVM-FS 2.11 (transaction, publish, abort,
tag); nothing else of it is assumed:

    cvmfs_server transaction REPO/SUBPATH      open a (path-scoped) transaction
    ... write under /cvmfs/REPO/SUBPATH ...
    cvmfs_server publish -a TAG -m MSG REPO    commit as a new revision + tag
    cvmfs_server abort -f REPO                 on any failure: discard

An open transaction or a busy gateway lease is retried with bounded
exponential backoff (tenacity), then reported; a transaction this process did
not open is never aborted.  Nodes need nothing beyond reading /cvmfs: they
exec only through image-id paths, which never change, so a revision switch
under a running job is harmless.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Iterator

from .errors import PublishError, UsageError

MOUNT_BASE = "/cvmfs"
_BUSY_WORDS = ("already in a transaction", "transaction in progress", "lease", "busy", "locked")


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
        attempts = int(os.environ.get("DEPOTDELIVERY_CVMFS_ATTEMPTS", "5"))
        wait = float(os.environ.get("DEPOTDELIVERY_CVMFS_MAX_WAIT", "30"))
        return cls(url=url, repo=repo, subpath=sub, root=os.path.join(base, repo, sub),
                   attempts=attempts, max_wait_s=wait)

    # -- the cvmfs_server command line ----------------------------------------
    def _server(self) -> str:
        exe = shutil.which("cvmfs_server")
        if not exe:
            raise PublishError("no cvmfs_server on PATH: publish to cvmfs:// from the repository's "
                               "release manager machine (or publish to a directory store)")
        return exe

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        try:
            return subprocess.run([self._server(), *args], capture_output=True, text=True, timeout=3600)
        except subprocess.TimeoutExpired:
            raise PublishError(f"cvmfs_server {args[0]} {self.repo} did not finish in an hour") from None

    def _why(self, p: subprocess.CompletedProcess) -> str:
        text = (p.stderr.strip() or p.stdout.strip()).splitlines()
        return text[-1][:300] if text else f"exit {p.returncode}"

    def _open(self) -> None:
        from tenacity import (RetryError, retry, retry_if_exception_type, stop_after_attempt,
                              wait_exponential)
        target = f"{self.repo}/{self.subpath}" if self.subpath else self.repo

        @retry(retry=retry_if_exception_type(_Busy), stop=stop_after_attempt(self.attempts),
               wait=wait_exponential(multiplier=max(self.max_wait_s / 16, 0.01), max=self.max_wait_s),
               reraise=False)
        def attempt() -> None:
            p = self._run("transaction", target)
            if p.returncode == 0:
                return
            why = self._why(p)
            low = why.lower()
            if "does not exist" in low or "no such repository" in low or "not found" in low:
                raise PublishError(f"CVMFS repository {self.repo} is unknown on this machine ({why}); "
                                   "check the store URL or create it with cvmfs_server mkfs")
            if any(w in low for w in _BUSY_WORDS):
                raise _Busy(why)
            raise PublishError(f"cvmfs_server transaction {target} failed: {why}")

        try:
            attempt()
        except RetryError as e:
            why = e.last_attempt.exception()
            raise PublishError(f"CVMFS repository {self.repo} stays busy after {self.attempts} attempts "
                               f"({why}); another publisher holds it: retry later") from None

    def _abort(self) -> None:
        p = self._run("abort", "-f", self.repo)
        if p.returncode != 0:
            raise PublishError(f"cvmfs_server abort -f {self.repo} failed ({self._why(p)}): the repository "
                               "may still be in a transaction; run it by hand")

    @contextlib.contextmanager
    def transaction(self, *, tag: str, message: str) -> Iterator[str]:
        self._open()
        try:
            os.makedirs(self.root, exist_ok=True)
            yield self.root
        except BaseException:
            self._abort()
            raise
        args = ["publish"]
        if tag:
            args += ["-a", tag]
        if message:
            args += ["-m", message]
        p = self._run(*args, self.repo)
        if p.returncode != 0:
            self._abort()
            raise PublishError(f"cvmfs_server publish {self.repo} failed ({self._why(p)}); "
                               "the transaction was aborted, nothing was published")

    def tags(self) -> list[str]:
        p = self._run("tag", "-l", "-x", self.repo)
        if p.returncode != 0:
            raise PublishError(f"cvmfs_server tag -l {self.repo} failed: {self._why(p)}")
        return [l.split()[0] for l in p.stdout.splitlines() if l.strip()]
