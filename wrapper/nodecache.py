"""The node-local cache: verification records, launch plans and hydrated
depots.  It is a trust boundary: if user A could write the record that
says "image X verified", A would decide what user B runs.  So:

* ``<cache_dir>`` is root's, mode 1777 (the site set-up makes it; root's
  wrapper makes it when missing); each user has ``<cache_dir>/u<uid>/``
  (mode 0700, owned by that user); root's ``u0`` is written by root only
  (the Slurm Prolog, a cron job).  Where the cache folder is missing or not
  root's, each user falls back to one private folder on local disk
  (fastpath.fallback_base), so launches stay fast and nothing leaks;
* a record is believed only if it, and its folder, belong to the reading user
  or to root and no one else can write them; otherwise it is ignored and
  the image is verified again from scratch;
* a record lists the (size, mtime, ctime, inode, device) of every file and
  folder it vouches for, so any change to any of them is noticed.

Records are marshal data: they are read on every launch, and marshal costs
microseconds where json's import alone costs milliseconds.
"""

from __future__ import annotations

import marshal
import os
import secrets

from .fastpath import load_owned, safe_dir, shared_cache, stat_key, user_base

RECORD_VERSION = 3

__all__ = ["load", "load_owned", "safe_dir", "stat_key", "store", "trusted_dirs", "user_dir"]


def user_dir(cache_dir: str, uid: int, *, create: bool) -> str | None:
    """This user's private cache folder, or None when it cannot be trusted or
    made.  The site's cache folder must be root's (README, site set-up): a
    user never creates it, since whoever owns it could remove or replace
    every other user's folder.  Root creates it (mode 1777) when missing."""
    if create and os.geteuid() == 0 and not os.path.lexists(cache_dir):
        try:
            os.makedirs(cache_dir, mode=0o755, exist_ok=True)
            os.chmod(cache_dir, 0o1777)  # shared by every user: sticky, like /tmp
        except OSError:
            pass
    d = user_base(cache_dir, uid)
    if safe_dir(d, uid):
        return d
    if not create:
        return None
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    return d if safe_dir(d, uid) else None


def trusted_dirs(cache_dir: str, uid: int) -> list[tuple[str, int]]:
    """Where this user may read records from, with the owner each record
    there must have: their own folder, then root's."""
    out = []
    own = user_base(cache_dir, uid)
    if safe_dir(own, uid):
        out.append((own, uid))
    if uid != 0 and shared_cache(cache_dir):
        root = os.path.join(cache_dir, "u0")
        if safe_dir(root, 0):
            out.append((root, 0))
    return out


def load(path: str, owners: tuple[int, ...]):
    """A record owned by one of `owners` and writable by no one else, or None."""
    return load_owned(path, owners, RECORD_VERSION)


def store(path: str, obj: dict, *, public: bool = False, version: int = RECORD_VERSION) -> bool:
    """Write atomically (temporary file + rename); False if the cache is
    unwritable or full: the caller then simply verifies again next time.
    `public`: readable by every user (root's verification records, which
    jobs of all users trust); the folders on the way are opened up too."""
    obj = dict(obj, v=version)
    tmp = f"{path}.tmp-{secrets.token_hex(6)}"
    try:
        folder = os.path.dirname(path)
        os.makedirs(folder, mode=0o755 if public else 0o700, exist_ok=True)
        if public:
            for d in (folder, os.path.dirname(folder)):
                os.chmod(d, 0o755)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644 if public else 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(marshal.dumps(obj))
        os.replace(tmp, path)
        return True
    except (OSError, ValueError):  # ValueError: not marshallable
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
