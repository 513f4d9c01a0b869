"""Pairing state files: where `blindfill.channel` states live on disk.

The channel is sans-IO; this module is its only file I/O. Each side keeps one
file, mode 0600, replaced atomically (`blindfill.storage.write_atomic`), so a
crash leaves the old state or the new one, never a mix. The files hold private
keys and chain links: nothing else may read them.

When to save, so that a kill -9 between any two steps still lets the next
fill work without pairing again:

* browser side: save `FillStart.state` before sending message 1 (it may hold
  a new retry token), and `FillOutcome.state` as soon as message 2 was read;
* approver: save `Reply.state` before sending message 2, and
  `Paired.state` before sending the pairing result.

The default directory is `$BLINDFILL_STATE_DIR`, else
`$XDG_STATE_HOME/blindfill`, else `~/.local/state/blindfill`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from blindfill.channel import ApproverState, BrowserState
from blindfill.errors import StorageError
from blindfill.storage import read_private, write_atomic

__all__ = [
    "APPROVER_STATE_FILE",
    "BROWSER_STATE_FILE",
    "default_state_dir",
    "load_approver_state",
    "load_browser_state",
    "save_approver_state",
    "save_browser_state",
]

BROWSER_STATE_FILE: Final = "browser-pairing.json"
APPROVER_STATE_FILE: Final = "approver-pairing.json"


def default_state_dir() -> Path:
    """The directory for state files (not created here)."""
    explicit = os.environ.get("BLINDFILL_STATE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "blindfill"


def load_browser_state(path: Path) -> BrowserState | None:
    """The browser side's pairing, or `None` if `path` does not exist.

    Raises `StorageError` if the file cannot be read or others may read it,
    and `InvalidInputError` if it is damaged.
    """
    data = _read(path)
    return None if data is None else BrowserState.from_bytes(data)


def save_browser_state(path: Path, state: BrowserState) -> None:
    """Replace the browser side's state file atomically, mode 0600."""
    write_atomic(path, state.to_bytes())


def load_approver_state(path: Path) -> ApproverState | None:
    """The approver's pairing, or `None` if `path` does not exist.

    Raises `StorageError` if the file cannot be read or others may read it,
    and `InvalidInputError` if it is damaged.
    """
    data = _read(path)
    return None if data is None else ApproverState.from_bytes(data)


def save_approver_state(path: Path, state: ApproverState) -> None:
    """Replace the approver's state file atomically, mode 0600."""
    write_atomic(path, state.to_bytes())


def _read(path: Path) -> bytes | None:
    try:
        return read_private(path)
    except StorageError as exc:
        if exc.code == "storage_missing":
            return None
        raise
