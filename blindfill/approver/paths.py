"""Where the approver keeps its files by default (XDG base directories).

* vault: `$XDG_DATA_HOME/blindfill/vault.bfv`
  (`~/.local/share/blindfill/vault.bfv` when the variable is unset);
* audit log: `$XDG_DATA_HOME/blindfill/audit.jsonl`;
* policy: `$XDG_CONFIG_HOME/blindfill/policy.toml` (`~/.config/...`).

Every command takes a flag to point elsewhere. The policy's use counts and
the pairing live in the state directory (`pairing_state.default_state_dir`).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "data_dir",
    "default_audit_path",
    "default_policy_path",
    "default_vault_path",
    "ensure_private_dir",
]


def _base(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable, "")
    # The XDG rules say a relative value is invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value) / "blindfill"
    return Path.home() / fallback / "blindfill"


def data_dir() -> Path:
    return _base("XDG_DATA_HOME", ".local/share")


def default_vault_path() -> Path:
    return data_dir() / "vault.bfv"


def default_audit_path() -> Path:
    return data_dir() / "audit.jsonl"


def default_policy_path() -> Path:
    return _base("XDG_CONFIG_HOME", ".config") / "policy.toml"


def ensure_private_dir(directory: Path) -> None:
    """Create `directory` (and parents) with mode 0700 if it is missing.

    Raises `StorageError` when it cannot be created.
    """
    from blindfill.errors import StorageError

    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"could not create {directory}: {exc.strerror or exc}"
        ) from exc
