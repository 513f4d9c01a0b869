"""Reading password-manager CSV exports into vault items.

The first row names the columns; names are matched without regard to case
or surrounding spaces, and the first column found for each role wins.

* title: `name` or `title` (optional; the URL's host stands in);
* URL: `url`, `login_uri`, `uri` or `website` (the column is required; a
  row may leave it empty);
* username: `username`, `login_username`, `user name` or `login`;
* password: `password` or `login_password` (required);
* TOTP: `totp`, `login_totp` or `otp`, holding a base32 seed or an
  `otpauth://totp/` URI;
* subdomains: `match_subdomains` or `subdomains`, `true`/`yes`/`on`/`1`
  (blindfill's own column);
* type: `type` (Bitwarden); rows other than `login` are skipped.

That covers the exports of Chrome and Edge (`name,url,username,password`),
Firefox (`url,username,password,...`), Bitwarden (`name,...,login_uri,
login_username,login_password,login_totp`) and KeePassXC (`Title,Username,
Password,URL,Notes,TOTP,...`). A URL cell may list several URLs separated
by commas or newlines (Bitwarden does). Other columns (notes, folders) are
ignored: they are not needed to sign in.

A row without a password is skipped, and so is a row whose TOTP cannot be
read (its item is kept without the code); each skip is reported by line,
never by value. A file that cannot be read as CSV is refused as a whole,
naming the line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from blindfill.approver.items import (
    MAX_TITLE,
    MAX_URLS,
    Item,
    TotpSpec,
    new_item_id,
    parse_totp,
)
from blindfill.approver.origins import origin_of_url
from blindfill.errors import BlindfillError, InvalidInputError, StorageError
from blindfill.sensitive import Secret

__all__ = ["COLUMNS", "CsvImport", "parse_csv_export", "read_csv_export"]

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 100_000

COLUMNS: dict[str, tuple[str, ...]] = {
    "title": ("name", "title"),
    "url": ("url", "login_uri", "uri", "website"),
    "username": ("username", "login_username", "user name", "login"),
    "password": ("password", "login_password"),
    "totp": ("totp", "login_totp", "otp"),
    "subdomains": ("match_subdomains", "subdomains"),
    "type": ("type",),
}
_TRUE = frozenset({"true", "yes", "on", "1"})


@dataclass(frozen=True, slots=True)
class CsvImport:
    """Items read from an export, and one note per row left out or changed."""

    items: tuple[Item, ...]
    notes: tuple[str, ...]


def read_csv_export(path: Path) -> CsvImport:
    """Read the CSV export at `path` (UTF-8, with or without a BOM).

    Raises `StorageError` if it cannot be read, `InvalidInputError` if it is
    not a CSV export this module understands (naming the line at fault).
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError as exc:
        raise StorageError(f"{path} does not exist", code="storage_missing") from exc
    except OSError as exc:
        raise StorageError(f"could not read {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_BYTES:
        raise InvalidInputError(f"{path} is larger than {MAX_BYTES // 2**20} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidInputError(
            f"{path} line {line}: not UTF-8 text",
            hint="export the passwords as UTF-8 CSV",
        ) from None
    return parse_csv_export(text, source=str(path))


def parse_csv_export(text: str, *, source: str = "CSV") -> CsvImport:
    """Parse an export's text. See the module docstring for the columns.

    Raises `InvalidInputError` naming `source` and the line at fault.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = _rows(reader, source)
    try:
        header_line, header = next(rows)
    except StopIteration:
        raise InvalidInputError(f"{source} is empty") from None
    columns = _find_columns(header, source)

    items: list[Item] = []
    notes: list[str] = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue  # blank lines are common at the end of exports
        if len(row) != len(header):
            raise InvalidInputError(
                f"{source} line {line}: {len(row)} fields, but the header on "
                f"line {header_line} has {len(header)}"
            )
        if len(items) >= MAX_ROWS:
            raise InvalidInputError(f"{source} has more than {MAX_ROWS} rows")
        item = _item_from_row(row, columns, line, source, notes)
        if item is not None:
            items.append(item)
    return CsvImport(tuple(items), tuple(notes))


def _rows(reader: Iterator[list[str]], source: str) -> Iterator[tuple[int, list[str]]]:
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidInputError(
                f"{source} line {line}: not valid CSV ({exc})"
            ) from None
        yield line, row
        line = getattr(reader, "line_num", line) + 1


def _find_columns(header: list[str], source: str) -> dict[str, int]:
    names = [cell.strip().lower() for cell in header]
    columns: dict[str, int] = {}
    for role, accepted in COLUMNS.items():
        for name in accepted:
            if name in names:
                columns[role] = names.index(name)
                break
    missing = [role for role in ("password", "url") if role not in columns]
    if missing:
        wanted = "; ".join(
            f"{role}: one of {', '.join(COLUMNS[role])}" for role in missing
        )
        raise InvalidInputError(
            f"{source} line 1: the header has no {' or '.join(missing)} column",
            hint=f"the first row must name the columns ({wanted})",
        )
    return columns


def _item_from_row(
    row: list[str],
    columns: dict[str, int],
    line: int,
    source: str,
    notes: list[str],
) -> Item | None:
    def cell(role: str) -> str:
        index = columns.get(role)
        return row[index].strip() if index is not None else ""

    kind = cell("type").lower()
    if kind and kind != "login":
        notes.append(f"line {line}: skipped a {kind!r} row (only logins are imported)")
        return None
    password = row[columns["password"]]
    if not password:
        notes.append(f"line {line}: skipped (no password)")
        return None

    urls = [url.strip() for url in re.split(r"[,\n]", cell("url")) if url.strip()]
    title = cell("title") or _host_of(urls) or "(untitled)"
    if len(title) > MAX_TITLE:
        title = title[: MAX_TITLE - 1] + "…"
    totp: TotpSpec | None = None
    if cell("totp"):
        try:
            totp = parse_totp(cell("totp"))
        except BlindfillError:
            notes.append(
                f"line {line}: imported without its one-time code "
                "(the TOTP value is not a seed or otpauth URI)"
            )
    try:
        return Item(
            id=new_item_id(),
            title=title,
            username=cell("username"),
            password=Secret(password, kind="password"),
            urls=tuple(urls[:MAX_URLS]),
            totp=totp,
            match_subdomains=cell("subdomains").lower() in _TRUE,
            source=f"{source}:{line}",
        )
    except InvalidInputError as exc:
        raise InvalidInputError(f"{source} line {line}: {exc.message}") from None


def _host_of(urls: list[str]) -> str:
    for url in urls:
        origin = origin_of_url(url)
        if origin is not None:
            return origin.host
    return ""
