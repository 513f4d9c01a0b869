"""What the approver needs from a vault, and opening one by its file type.

Two backends hold items: blindfill's own encrypted file
(`vaultfile.VaultFile`, read and write) and KeePass databases
(`kdbx.KeePassVault`, read only). Both satisfy `Vault`. `open_vault` looks
at the first bytes of the file to pick one, so a renamed file still opens.

`VaultAccess` is the approver's view of one vault over time: it starts
locked (or unlocked) and opens the vault when a person gives the master
password. It is what lets requests wait while the approver is locked.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Protocol

from blindfill.approver.items import Item
from blindfill.errors import StorageError, VaultCorruptError
from blindfill.sensitive import Secret

__all__ = [
    "PASSWORD_ENV",
    "LockState",
    "Vault",
    "VaultAccess",
    "VaultKind",
    "detect_kind",
    "open_vault",
]

# The environment variable that holds the master password for unattended
# use (a service started by a supervisor). Anyone who can read the process
# environment can read it: prefer a prompt or `--password-stdin`.
PASSWORD_ENV = "BLINDFILL_VAULT_PASSWORD"  # noqa: S105 (a variable name)


class Vault(Protocol):
    """A source of items. Implementations never write on their own."""

    path: Path
    read_only: bool

    def items(self) -> tuple[Item, ...]: ...

    def get(self, item_id: str) -> Item | None: ...


class VaultKind(Enum):
    """Which backend a file needs, from its first bytes."""

    BLINDFILL = "blindfill"  # starts with the line `blindfill-vault`
    KEEPASS = "keepass"  # starts with the KeePass signature


def detect_kind(path: Path) -> VaultKind:
    """The backend for `path`, from its magic bytes.

    Raises `StorageError` if it cannot be read and `VaultCorruptError` if it
    is neither kind.
    """
    from blindfill.approver.kdbx import KDBX_MAGIC
    from blindfill.approver.vaultfile import MAGIC

    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except FileNotFoundError as exc:
        raise StorageError(
            f"{path} does not exist",
            code="storage_missing",
            hint="create a vault with `blindfill vault init`, or give --vault",
        ) from exc
    except OSError as exc:
        raise StorageError(f"could not read {path}: {exc.strerror or exc}") from exc
    if head.startswith(MAGIC + b"\n"):
        return VaultKind.BLINDFILL
    if head.startswith(KDBX_MAGIC):
        return VaultKind.KEEPASS
    raise VaultCorruptError(
        f"{path} is neither a blindfill vault nor a KeePass database",
        hint="the file was left untouched",
    )


def open_vault(
    path: Path, password: Secret[str], *, key_file: Path | None = None
) -> Vault:
    """Open the vault at `path` with the right backend.

    Raises what the backend raises: `StorageError`, `VaultCorruptError`,
    `VaultPasswordError`, `InvalidInputError` (a missing key file).
    """
    kind = detect_kind(path)
    if kind is VaultKind.KEEPASS:
        from blindfill.approver.kdbx import KeePassVault

        return KeePassVault.open(path, password, key_file=key_file)

    from blindfill.approver.vaultfile import VaultFile

    return VaultFile.open(path, password)


class LockState(Enum):
    """Whether the approver can read its vault right now."""

    LOCKED = "locked"  # no vault in memory; requests wait for an unlock
    UNLOCKED = "unlocked"  # the vault is open and its items can be read


class VaultAccess:
    """A vault that can be locked and unlocked while the approver runs.

    `opener` turns a master password into an open vault (and raises
    `VaultPasswordError` for a wrong one); it runs in a worker thread
    because the key derivation takes a noticeable fraction of a second.
    """

    def __init__(
        self,
        opener: Callable[[Secret[str]], Vault],
        *,
        vault: Vault | None = None,
        description: str = "the vault",
    ) -> None:
        self._opener = opener
        self._vault = vault
        self._unlocked = asyncio.Event()
        if vault is not None:
            self._unlocked.set()
        self.description = description

    @classmethod
    def for_path(cls, path: Path, *, key_file: Path | None = None) -> VaultAccess:
        """A locked access to the vault at `path`."""
        return cls(
            lambda password: open_vault(path, password, key_file=key_file),
            description=str(path),
        )

    @classmethod
    def unlocked(cls, vault: Vault) -> VaultAccess:
        """An access that is open from the start (and cannot be re-opened)."""

        def already_open(password: Secret[str]) -> Vault:
            return vault

        return cls(already_open, vault=vault, description=str(vault.path))

    @property
    def state(self) -> LockState:
        return LockState.UNLOCKED if self._vault is not None else LockState.LOCKED

    @property
    def vault(self) -> Vault | None:
        return self._vault

    async def unlock(self, password: Secret[str]) -> None:
        """Open the vault with `password`; a no-op if already unlocked.

        Raises what the opener raises (`VaultPasswordError`, ...); the state
        stays locked then.
        """
        if self._vault is not None:
            return
        vault = await asyncio.to_thread(self._opener, password)
        self._vault = vault
        self._unlocked.set()

    async def unlock_from_env(self) -> bool:
        """Unlock with `BLINDFILL_VAULT_PASSWORD` if it is set; True if so."""
        value = os.environ.get(PASSWORD_ENV)
        if not value:
            return False
        await self.unlock(Secret(value, kind="master_password"))
        return True

    def lock(self) -> None:
        """Drop the open vault; later requests wait for the next unlock."""
        self._vault = None
        self._unlocked.clear()

    async def wait_unlocked(self) -> Vault:
        """Wait until the vault is unlocked and return it (cancellable)."""
        while True:
            await self._unlocked.wait()
            if self._vault is not None:
                return self._vault
