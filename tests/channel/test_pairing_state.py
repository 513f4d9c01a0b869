"""Pairing state files: private, atomic, strict on load."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from blindfill.channel.testing import ChannelPair
from blindfill.errors import InvalidInputError, StorageError
from blindfill.pairing_state import (
    default_state_dir,
    load_approver_state,
    load_browser_state,
    save_approver_state,
    save_browser_state,
)


def test_missing_file_means_not_paired(tmp_path: Path) -> None:
    """A state file that does not exist loads as None, not an error."""
    assert load_browser_state(tmp_path / "none.json") is None
    assert load_approver_state(tmp_path / "none.json") is None


def test_saved_states_load_back_equal_and_private(tmp_path: Path) -> None:
    """Both states round-trip through their files, which are mode 0600."""
    pair = ChannelPair.paired()
    pair.fill()
    browser_file, approver_file = tmp_path / "b.json", tmp_path / "a.json"
    old_umask = os.umask(0)
    try:
        save_browser_state(browser_file, pair.browser_state)
        save_approver_state(approver_file, pair.approver_state)
    finally:
        os.umask(old_umask)
    assert browser_file.stat().st_mode & 0o777 == 0o600
    assert approver_file.stat().st_mode & 0o777 == 0o600
    assert load_browser_state(browser_file) == pair.browser_state
    assert load_approver_state(approver_file) == pair.approver_state


def test_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    """A state file others may read is refused: its keys may be known."""
    path = tmp_path / "b.json"
    save_browser_state(path, ChannelPair.paired().browser_state)
    path.chmod(0o644)
    with pytest.raises(StorageError) as caught:
        load_browser_state(path)
    assert caught.value.code == "storage_permissions"


def test_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    """A truncated state file is an InvalidInputError saying to pair again."""
    path = tmp_path / "a.json"
    save_approver_state(path, ChannelPair.paired().approver_state)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(InvalidInputError) as caught:
        load_approver_state(path)
    assert caught.value.code == "state_malformed"
    assert "pair again" in str(caught.value)


def test_one_sides_file_is_not_the_others(tmp_path: Path) -> None:
    """Loading the approver's file as the browser side's is refused."""
    path = tmp_path / "a.json"
    save_approver_state(path, ChannelPair.paired().approver_state)
    with pytest.raises(InvalidInputError, match="not a browser pairing state"):
        load_browser_state(path)


def test_default_directory_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """BLINDFILL_STATE_DIR wins, then XDG_STATE_HOME, then ~/.local/state."""
    monkeypatch.setenv("BLINDFILL_STATE_DIR", str(tmp_path / "explicit"))
    assert default_state_dir() == tmp_path / "explicit"
    monkeypatch.delenv("BLINDFILL_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == tmp_path / "xdg" / "blindfill"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_state_dir() == tmp_path / ".local" / "state" / "blindfill"
