"""KeePass databases (`.kdbx`, versions 3 and 4) as a read-only vault.

Entries become items like this (`docs/vault-format.md` has the same
mapping as a table):

* `id`: the entry UUID, as 32 hex digits;
* `title`, `username`, `password`: the standard fields, with field
  references (`{REF:...}`) resolved;
* `urls`: the URL field, then the additional URLs that KeePassXC and
  Keepass2Android keep as the custom fields `KP2A_URL`, `KP2A_URL_1`,
  `KP2A_URL_2`, ... (in that order);
* `totp`: the `otp` field (an `otpauth://totp/` URI or a base32 seed), else
  KeePassXC's older `TOTP Seed` field with `TOTP Settings` (`period;digits`);
* `match_subdomains`: true when the entry has the tag
  `blindfill-subdomains`, or a custom field `blindfill-subdomains` set to
  `true`, `yes`, `on` or `1`.

Entries in the recycle bin and history entries are left out. An entry whose
one-time-code field cannot be read keeps its password but loses the code;
the problem is listed in `warnings` (by entry title, never by value).
"""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path
from typing import Any

from blindfill.approver.items import MAX_TITLE, MAX_URLS, Item, TotpSpec, parse_totp
from blindfill.errors import (
    BlindfillError,
    InvalidInputError,
    StorageError,
    VaultCorruptError,
    VaultPasswordError,
)
from blindfill.sensitive import Secret

__all__ = ["KDBX_MAGIC", "SUBDOMAINS_MARK", "KeePassVault"]

KDBX_MAGIC = bytes.fromhex("03d9a29a67fb4bb5")
SUBDOMAINS_MARK = "blindfill-subdomains"
_EXTRA_URL = re.compile(r"^KP2A_URL(?:_(\d+))?$")
_TRUE = frozenset({"true", "yes", "on", "1"})


class KeePassVault:
    """The entries of a KeePass database, read once at open. Read-only."""

    read_only = True

    def __init__(self, path: Path, items: list[Item], warnings: list[str]) -> None:
        self.path = path
        self._items = items
        self.warnings = warnings

    def __repr__(self) -> str:
        return f"KeePassVault(path={str(self.path)!r}, items={len(self._items)})"

    @classmethod
    def open(
        cls, path: Path, password: Secret[str], *, key_file: Path | None = None
    ) -> KeePassVault:
        """Decrypt the database at `path` with a password and/or key file.

        Raises `StorageError` (file missing or unreadable), `InvalidInputError`
        (key file missing), `VaultPasswordError` (wrong password or key file)
        or `VaultCorruptError` (not a KeePass database, or damaged). Never
        writes to the database.
        """
        from pykeepass import PyKeePass
        from pykeepass.exceptions import CredentialsError

        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(
                f"{path} does not exist", code="storage_missing"
            ) from exc
        except OSError as exc:
            raise StorageError(f"could not read {path}: {exc.strerror or exc}") from exc
        if key_file is not None and not key_file.is_file():
            raise InvalidInputError(f"the key file {key_file} does not exist")
        if not data.startswith(KDBX_MAGIC):
            raise VaultCorruptError(f"{path} is not a KeePass database")

        try:
            database = PyKeePass(
                io.BytesIO(data),
                password=password.reveal() or None,
                keyfile=str(key_file) if key_file else None,
            )
        except CredentialsError:
            raise VaultPasswordError(
                f"the password or key file does not open {path}"
            ) from None
        except Exception as exc:
            # pykeepass surfaces damage as its own checksum errors or as
            # construct/lxml parse errors; all mean the same to a user.
            raise VaultCorruptError(
                f"{path} is damaged or not a KeePass database it can read",
                hint="open it in KeePassXC to check; the file was left untouched",
            ) from exc

        items: list[Item] = []
        warnings: list[str] = []
        bin_uuid = _recycle_bin_uuid(database)
        for entry in database.entries:
            if bin_uuid is not None and _in_group(entry, bin_uuid):
                continue
            item = _item_from_entry(entry, warnings)
            if item is not None:
                items.append(item)
        return cls(path, items, warnings)

    def items(self) -> tuple[Item, ...]:
        return tuple(self._items)

    def get(self, item_id: str) -> Item | None:
        return next((item for item in self._items if item.id == item_id), None)


def _item_from_entry(entry: Any, warnings: list[str]) -> Item | None:
    title = _text(entry.title)[:MAX_TITLE]
    label = repr(title or entry.uuid.hex)
    properties: dict[str, Any] = entry.custom_properties

    urls = [_text(entry.url)] if entry.url else []
    extra = []
    for key, value in properties.items():
        match = _EXTRA_URL.match(key)
        if match and value:
            extra.append((int(match.group(1) or 0), _text(value)))
    urls.extend(url for _, url in sorted(extra))

    tags = {tag.strip().lower() for tag in (entry.tags or [])}
    flag = _text(properties.get(SUBDOMAINS_MARK, "")).strip().lower()
    subdomains = SUBDOMAINS_MARK in tags or flag in _TRUE

    try:
        return Item(
            id=entry.uuid.hex,
            title=title,
            username=_text(entry.deref("username")),
            password=Secret(_text(entry.deref("password")), kind="password"),
            urls=tuple(urls[:MAX_URLS]),
            totp=_totp_of(entry, properties, label, warnings),
            match_subdomains=subdomains,
            source="keepass:" + "/".join(entry.group.path or []),
        )
    except BlindfillError as exc:
        warnings.append(f"entry {label} was left out: {exc.message}")
        return None


def _totp_of(
    entry: Any, properties: dict[str, Any], label: str, warnings: list[str]
) -> TotpSpec | None:
    try:
        if entry.otp:
            return parse_totp(_text(entry.otp))
        seed = properties.get("TOTP Seed")
        if seed:
            settings = _text(properties.get("TOTP Settings", "30;6")).split(";")
            digits = int(settings[1]) if len(settings) > 1 else 6
            return TotpSpec(
                Secret(_text(seed), kind="totp_seed"),
                period=int(settings[0]),
                digits=digits,
            )
    except (BlindfillError, ValueError):
        warnings.append(f"entry {label}: its one-time-code field is not usable")
    return None


def _recycle_bin_uuid(database: Any) -> uuid.UUID | None:
    try:
        group = database.recyclebin_group
    except Exception:  # the element is absent or empty in many databases
        return None
    return None if group is None else group.uuid


def _in_group(entry: Any, group_uuid: uuid.UUID) -> bool:
    group = entry.group
    while group is not None:
        if group.uuid == group_uuid:
            return True
        group = group.parentgroup
    return False


def _text(value: object) -> str:
    return "" if value is None else str(value)
