"""blindfill's own encrypted vault file.

The format is described for implementers in `docs/vault-format.md`. In
short, a vault is three lines of text:

1. the magic line `blindfill-vault`;
2. a header: canonical JSON with the format version, the key derivation
   (Argon2id, its salt and costs), the cipher, the nonce and a password check;
3. the ciphertext, base64: ChaCha20-Poly1305 over the JSON list of items,
   with lines 1 and 2 (as stored, newlines included) as associated data.

The master password goes through Argon2id to a 32-byte root; HKDF-SHA256
expands the root into the encryption key and a separate password check. The
check tells a wrong password (`VaultPasswordError`) from a damaged file
(`VaultCorruptError`): if the check matches but decryption fails, the file
was changed. Because the header is associated data, nobody can lower the
costs or swap the salt without decryption failing.

Saving draws a fresh random nonce and replaces the file atomically (mode
0600), so a crash leaves the old vault or the new one. Opening never writes.
`edit_vault` holds an advisory lock across open, change and save so two
commands cannot lose each other's changes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from blindfill.approver.items import Item, TotpSpec
from blindfill.approver.paths import ensure_private_dir
from blindfill.errors import (
    BlindfillError,
    InvalidInputError,
    StorageError,
    UsageError,
    VaultCorruptError,
    VaultPasswordError,
)
from blindfill.sensitive import Secret
from blindfill.storage import read_private, write_atomic

__all__ = ["FORMAT_VERSION", "MAGIC", "KdfParams", "VaultFile", "edit_vault"]

MAGIC: Final = b"blindfill-vault"
FORMAT_VERSION: Final = 1
CIPHER: Final = "chacha20-poly1305"
MAX_FILE = 64 * 1024 * 1024
_SALT_BYTES = 16
_NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id costs. The defaults follow RFC 9106's second recommended
    option (64 MiB, 3 passes, 4 lanes): about 0.4 s on a 2020s laptop core.

    Raises `InvalidInputError` for values outside the accepted bounds; the
    bounds also stop a crafted header from asking for absurd memory.
    """

    memory_kib: int = 64 * 1024
    iterations: int = 3
    lanes: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.lanes <= 64:
            raise InvalidInputError("Argon2 lanes must be 1 to 64")
        if not 8 * self.lanes <= self.memory_kib <= 4 * 1024 * 1024:
            raise InvalidInputError(
                "Argon2 memory must be at least 8 KiB per lane and at most 4 GiB"
            )
        if not 1 <= self.iterations <= 100:
            raise InvalidInputError("Argon2 iterations must be 1 to 100")

    @property
    def is_weak(self) -> bool:
        """True below 19 MiB or a single pass (OWASP's minimum for Argon2id)."""
        return self.memory_kib < 19 * 1024 or self.iterations < 2


class VaultFile:
    """An open vault: its items in memory, and the key to save them.

    Create with `VaultFile.create` or `VaultFile.open`; change with `add`
    and `remove`, then `save`. Nothing touches the disk except `save`.
    """

    read_only = False

    def __init__(
        self,
        path: Path,
        items: list[Item],
        *,
        kdf: KdfParams,
        salt: bytes,
        key: Secret[bytes],
        check: bytes,
    ) -> None:
        self.path = path
        self._items = items
        self._kdf = kdf
        self._salt = salt
        self._key = key
        self._check = check

    def __repr__(self) -> str:
        return f"VaultFile(path={str(self.path)!r}, items={len(self._items)})"

    # --- opening --------------------------------------------------------

    @classmethod
    def create(
        cls, path: Path, password: Secret[str], *, kdf: KdfParams | None = None
    ) -> VaultFile:
        """Create and save an empty vault at `path`.

        Raises `UsageError` if a file already exists there (it is never
        overwritten) or the password is empty; `StorageError` if the
        directory cannot be written.
        """
        if not password.reveal():
            raise UsageError("the master password must not be empty")
        if path.exists():
            raise UsageError(
                f"{path} already exists; it was left untouched",
                hint="choose another path with --vault, or remove the file first",
            )
        kdf = kdf or KdfParams()
        ensure_private_dir(path.parent)
        salt = secrets.token_bytes(_SALT_BYTES)
        key, check = _derive(password, salt, kdf)
        vault = cls(path, [], kdf=kdf, salt=salt, key=key, check=check)
        vault.save()
        return vault

    @classmethod
    def open(cls, path: Path, password: Secret[str]) -> VaultFile:
        """Read and decrypt the vault at `path`.

        Raises `StorageError` (missing, unreadable, readable by others),
        `VaultCorruptError` (not a vault, damaged, unknown version) or
        `VaultPasswordError` (wrong master password). Never writes.
        """
        data = read_private(path)
        if len(data) > MAX_FILE:
            raise VaultCorruptError(f"{path} is too large to be a vault")
        authenticated, header, ciphertext = _split_file(path, data)
        kdf, salt, nonce, stored_check = _read_header(path, header)

        key, check = _derive(password, salt, kdf)
        if not hmac.compare_digest(check, stored_check):
            raise VaultPasswordError(
                f"the master password does not open {path}",
                hint="check it, and BLINDFILL_VAULT_PASSWORD if that is set",
            )
        try:
            plaintext = ChaCha20Poly1305(key.reveal()).decrypt(
                nonce, ciphertext, authenticated
            )
        except InvalidTag:
            raise VaultCorruptError(
                f"{path} is damaged: its contents fail authentication",
                hint="restore it from a backup; the file was left untouched",
            ) from None
        items = _decode_items(path, plaintext)
        return cls(path, items, kdf=kdf, salt=salt, key=key, check=check)

    # --- reading and changing -------------------------------------------

    def items(self) -> tuple[Item, ...]:
        """Every item, in the order they were added."""
        return tuple(self._items)

    def get(self, item_id: str) -> Item | None:
        return next((item for item in self._items if item.id == item_id), None)

    def add(self, item: Item) -> None:
        """Add `item` in memory. Raises `UsageError` if its id is taken."""
        if self.get(item.id) is not None:
            raise UsageError(f"an item with id {item.id} already exists")
        self._items.append(item)

    def add_all(self, items: list[Item]) -> None:
        """Add several items in memory: all of them, or none on a clash."""
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids) or any(self.get(i) for i in ids):
            raise UsageError("the new items have ids that clash")
        self._items.extend(items)

    def remove(self, item_id: str) -> Item:
        """Remove the item with this id (or unique id prefix) in memory.

        Raises `UsageError` if no item, or more than one, has that prefix.
        """
        found = [item for item in self._items if item.id.startswith(item_id)]
        exact = [item for item in found if item.id == item_id]
        if exact:
            found = exact
        if not found or not item_id:
            raise UsageError(f"no item has the id {item_id!r}")
        if len(found) > 1:
            raise UsageError(
                f"{len(found)} items have ids starting with {item_id!r}",
                hint="give more of the id",
            )
        self._items.remove(found[0])
        return found[0]

    def save(self) -> None:
        """Encrypt and replace the file atomically with a fresh nonce.

        Raises `StorageError` if it cannot be written; the old file is then
        unchanged.
        """
        nonce = secrets.token_bytes(_NONCE_BYTES)
        header = {
            "version": FORMAT_VERSION,
            "kdf": {
                "name": "argon2id",
                "salt": _b64(self._salt),
                "memory_kib": self._kdf.memory_kib,
                "iterations": self._kdf.iterations,
                "lanes": self._kdf.lanes,
            },
            "cipher": CIPHER,
            "nonce": _b64(nonce),
            "check": _b64(self._check),
        }
        header["header_sha256"] = _header_digest(header)
        authenticated = MAGIC + b"\n" + _canonical(header) + b"\n"
        plaintext = _canonical({"items": [_item_record(i) for i in self._items]})
        ciphertext = ChaCha20Poly1305(self._key.reveal()).encrypt(
            nonce, plaintext, authenticated
        )
        write_atomic(self.path, authenticated + base64.b64encode(ciphertext) + b"\n")


@contextlib.contextmanager
def edit_vault(path: Path, password: Secret[str]) -> Iterator[VaultFile]:
    """Open the vault under an exclusive lock; save it if the block succeeds.

    If the block raises, nothing is saved and the file is unchanged.
    """
    with _file_lock(path):
        vault = VaultFile.open(path, password)
        yield vault
        vault.save()


# --- internals ------------------------------------------------------------


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    lock_path = path.parent / f".{path.name}.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StorageError(f"could not lock {path}: {exc.strerror or exc}") from exc
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StorageError(
                        f"{path} is being changed by another command",
                        code="storage_locked",
                        hint="try again when it has finished",
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _derive(
    password: Secret[str], salt: bytes, kdf: KdfParams
) -> tuple[Secret[bytes], bytes]:
    root = Argon2id(
        salt=salt,
        length=32,
        iterations=kdf.iterations,
        lanes=kdf.lanes,
        memory_cost=kdf.memory_kib,
    ).derive(password.reveal().encode("utf-8"))
    key = HKDFExpand(hashes.SHA256(), 32, b"blindfill vault v1 key").derive(root)
    check = HKDFExpand(hashes.SHA256(), 16, b"blindfill vault v1 check").derive(root)
    return Secret(key, kind="vault_key"), check


def _split_file(path: Path, data: bytes) -> tuple[bytes, bytes, bytes]:
    lines = data.split(b"\n")
    if len(lines) != 4 or lines[0] != MAGIC or lines[3] != b"":
        raise VaultCorruptError(
            f"{path} is not a blindfill vault, or it is damaged",
            hint="a vault starts with the line 'blindfill-vault'",
        )
    try:
        ciphertext = base64.b64decode(lines[2], validate=True)
    except (binascii.Error, ValueError):
        raise VaultCorruptError(f"{path} is damaged: bad base64") from None
    return lines[0] + b"\n" + lines[1] + b"\n", lines[1], ciphertext


def _read_header(path: Path, header: bytes) -> tuple[KdfParams, bytes, bytes, bytes]:
    try:
        fields = json.loads(header)
        if not isinstance(fields, dict) or fields.pop(
            "header_sha256", None
        ) != _header_digest(fields):
            raise VaultCorruptError(
                f"{path} is damaged: its header does not match its checksum",
                hint="restore it from a backup; the file was left untouched",
            )
        version = fields["version"]
        if version != FORMAT_VERSION:
            raise VaultCorruptError(
                f"{path} has vault format version {version!r}; this blindfill "
                f"reads version {FORMAT_VERSION}",
                code="vault_version",
                hint="upgrade blindfill",
            )
        kdf_fields = fields["kdf"]
        if kdf_fields["name"] != "argon2id" or fields["cipher"] != CIPHER:
            raise VaultCorruptError(f"{path} uses an unknown KDF or cipher")
        kdf = KdfParams(
            memory_kib=_int(kdf_fields["memory_kib"]),
            iterations=_int(kdf_fields["iterations"]),
            lanes=_int(kdf_fields["lanes"]),
        )
        salt = _unb64(kdf_fields["salt"])
        nonce = _unb64(fields["nonce"])
        check = _unb64(fields["check"])
    except VaultCorruptError:
        raise
    except (BlindfillError, ValueError, KeyError, TypeError) as exc:
        raise VaultCorruptError(
            f"{path} is damaged: its header is malformed",
            hint="restore it from a backup; the file was left untouched",
        ) from exc
    if len(salt) < _SALT_BYTES or len(nonce) != _NONCE_BYTES or len(check) != 16:
        raise VaultCorruptError(f"{path} is damaged: its header is malformed")
    return kdf, salt, nonce, check


def _decode_items(path: Path, plaintext: bytes) -> list[Item]:
    try:
        records = json.loads(plaintext)["items"]
        items = [_item_from_record(record) for record in records]
    except (BlindfillError, ValueError, KeyError, TypeError) as exc:
        # Authenticated, so written by a blindfill; a bug, not tampering.
        raise VaultCorruptError(
            f"{path} decrypts but its items are malformed",
            hint="restore it from a backup; the file was left untouched",
        ) from exc
    if len({item.id for item in items}) != len(items):
        raise VaultCorruptError(f"{path} holds two items with the same id")
    return items


def _item_record(item: Item) -> dict[str, Any]:
    totp: dict[str, Any] | None = None
    if item.totp is not None:
        totp = {
            "seed": item.totp.seed.reveal(),
            "digits": item.totp.digits,
            "period": item.totp.period,
            "algorithm": item.totp.algorithm,
        }
    return {
        "id": item.id,
        "title": item.title,
        "username": item.username,
        "password": item.password.reveal(),
        "urls": list(item.urls),
        "totp": totp,
        "match_subdomains": item.match_subdomains,
        "source": item.source,
    }


def _item_from_record(record: dict[str, Any]) -> Item:
    totp_fields = record.get("totp")
    totp = None
    if totp_fields is not None:
        totp = TotpSpec(
            Secret(_str(totp_fields["seed"]), kind="totp_seed"),
            digits=_int(totp_fields["digits"]),
            period=_int(totp_fields["period"]),
            algorithm=_str(totp_fields["algorithm"]),
        )
    urls = record["urls"]
    if not isinstance(urls, list):
        raise TypeError("urls")
    match_subdomains = record["match_subdomains"]
    if not isinstance(match_subdomains, bool):
        raise TypeError("match_subdomains")
    return Item(
        id=_str(record["id"]),
        title=_str(record["title"]),
        username=_str(record["username"]),
        password=Secret(_str(record["password"]), kind="password"),
        urls=tuple(_str(url) for url in urls),
        totp=totp,
        match_subdomains=match_subdomains,
        source=_str(record.get("source", "")),
    )


def _header_digest(header: dict[str, Any]) -> str:
    # Catches accidental damage to the header, which would otherwise look
    # like a wrong password. Deliberate changes are caught by the AEAD.
    return hashlib.sha256(_canonical(header)).hexdigest()


def _canonical(value: object) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise TypeError("expected base64 text")
    return base64.b64decode(text, validate=True)


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("expected an integer")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value
