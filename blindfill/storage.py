"""Crash-safe files: atomic replacement with mode 0600.

Every file blindfill keeps (pairing state, vaults, the audit log's head) is
written through `write_atomic`: the bytes go to a temporary file in the same
directory, which is flushed and fsynced, then renamed over the target, and the
directory is fsynced. A crash at any step leaves either the old file or the
new one, never a mix, and never loses the old file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from blindfill.errors import StorageError

__all__ = ["PRIVATE_MODE", "read_private", "write_atomic"]

PRIVATE_MODE = 0o600


def write_atomic(path: Path, data: bytes, *, mode: int = PRIVATE_MODE) -> None:
    """Replace `path` with `data` atomically; the file ends with `mode`.

    Raises `StorageError` if the directory is missing or not writable; the
    old file, if any, is then untouched.
    """
    directory = path.parent
    # Unique per call: two threads may replace the same file at once.
    tmp = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.fchmod(fd, mode)  # O_CREAT's mode is masked by the umask
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_directory(directory)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StorageError(
            f"could not write {path}: {exc.strerror or exc}",
            hint="check that the directory exists and is writable",
        ) from exc


def read_private(path: Path) -> bytes:
    """Read a file that should be private to its owner.

    Raises `StorageError` if it cannot be read, or if group or others may read
    or write it (someone else may have seen or changed it).
    """
    try:
        info = path.stat()
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise StorageError(
                f"{path} is readable or writable by other users "
                f"(mode {stat.S_IMODE(info.st_mode):o})",
                code="storage_permissions",
                hint=f"run `chmod 600 {path}` if you trust its contents",
            )
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise StorageError(f"{path} does not exist", code="storage_missing") from exc
    except OSError as exc:
        raise StorageError(f"could not read {path}: {exc.strerror or exc}") from exc


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not every platform allows it.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
