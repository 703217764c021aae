"""Where images live: one interface, chosen by the URL scheme.

* a plain path or ``dir://PATH``: a directory store (the embedded default);
* ``cvmfs://REPO/SUBPATH``: a CernVM-FS repository, written through
  ``cvmfs_server`` on the release manager machine (see cvmfs_store.py).

Readers (the wrapper, `ls`, `channel show`) only ever read files under
``store.root``; writers open a transaction, write under the path it yields,
and the transaction either lands whole or not at all.  The rest of
depotdelivery does not know which kind of store it talks to.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from dataclasses import dataclass
from typing import Iterator, Protocol

from .errors import PublishError, StoreUnavailable, UsageError


class Store(Protocol):
    @property
    def url(self) -> str: ...

    @property
    def root(self) -> str:
        """Where the store's tree is readable on this machine."""
        ...

    def transaction(self, *, tag: str, message: str) -> contextlib.AbstractContextManager[str]:
        """Yield a writable root; commit on normal exit, discard on error."""
        ...


@dataclass(frozen=True)
class DirectoryStore:
    """A plain directory.  Atomicity comes from writing to temporary names and
    renaming (see publish.py); a lock file serializes publishers."""

    url: str
    root: str

    @contextlib.contextmanager
    def transaction(self, *, tag: str = "", message: str = "") -> Iterator[str]:
        try:
            os.makedirs(self.root, exist_ok=True)
            fd = os.open(os.path.join(self.root, ".publish.lock"),
                         os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise PublishError(_oserror_text(f"store {self.root}", e)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self.root
        finally:
            os.close(fd)


def open_store(url: str) -> Store:
    if not url:
        raise UsageError("no store given: pass --store PATH (or cvmfs://REPO/PATH)")
    if url.startswith("cvmfs://"):
        from .cvmfs_store import CvmfsStore
        return CvmfsStore.from_url(url)
    if url.startswith("dir://"):
        path = url[len("dir://"):]
    elif "://" in url:
        raise UsageError(f"unknown store scheme in {url!r}: use a path, dir://PATH "
                         "or cvmfs://REPO/PATH")
    else:
        path = url
    return DirectoryStore(url=url, root=os.path.abspath(path))


def readable_root(url: str) -> str:
    """The local path a reader uses; a missing store is StoreUnavailable."""
    root = open_store(url).root
    if not os.path.isdir(root):
        raise StoreUnavailable(f"store {root} is not reachable (not mounted?); "
                               "check the mount or the store path in the site config")
    return root


def _oserror_text(what: str, e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        return f"{what}: disk full; free space and re-run (nothing was published)"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{what}: not writable ({e.strerror}); check permissions or the store path"
    return f"{what}: {e.strerror or e}; check the store path and that it is a writable folder"


oserror_text = _oserror_text
