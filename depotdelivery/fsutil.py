"""Small filesystem helpers whose point is atomicity."""

from __future__ import annotations

import errno
import hashlib
import os
import secrets

from .errors import PublishError

CHUNK = 1 << 20


def write_new_file(path: str, data: bytes, mode: int = 0o644) -> None:
    """Create `path` with `data`, atomically, never replacing an existing file."""
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".tmp-{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise PublishError(f"{path} already exists (another publisher won); re-run") from None
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def replace_file(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write `path` atomically (temporary file in the same folder + rename)."""
    d = os.path.dirname(path) or "."
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".tmp-{secrets.token_hex(8)}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def hash_file(path: str) -> tuple[str, int]:
    """-> (sha256 hex, size), streamed."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
            size += n
    return h.hexdigest(), size


def is_enospc(e: OSError) -> bool:
    return e.errno == errno.ENOSPC
