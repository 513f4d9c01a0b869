"""Atomic private files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from blindfill.errors import StorageError
from blindfill.storage import read_private, write_atomic


def test_write_atomic_creates_private_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    old_umask = os.umask(0)
    try:
        write_atomic(target, b"one")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert read_private(target) == b"one"
    write_atomic(target, b"two")
    assert read_private(target) == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_write_into_missing_directory_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        write_atomic(tmp_path / "missing" / "f", b"x")


def test_read_private_refuses_group_readable_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"x")
    target.chmod(0o644)
    with pytest.raises(StorageError) as exc:
        read_private(target)
    assert exc.value.code == "storage_permissions"


def test_read_private_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as exc:
        read_private(tmp_path / "nope")
    assert exc.value.code == "storage_missing"


def test_concurrent_writers_never_share_a_temporary_file(tmp_path: Path) -> None:
    """Threads replacing one file at once each leave a whole version."""
    from concurrent.futures import ThreadPoolExecutor

    target = tmp_path / "state.json"
    versions = [bytes([n]) * 4096 for n in range(32)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda data: write_atomic(target, data), versions))
    assert read_private(target) in versions
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
