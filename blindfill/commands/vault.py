"""`blindfill vault`: create and manage the approver's vault.

Secrets never come from the command line, where other users can read them
in the process list and shells keep them in history. They come from a
prompt that does not echo, or from standard input with `--password-stdin`:
one secret a line, in the order the command needs them (the master
password first, unless `BLINDFILL_VAULT_PASSWORD` is set; then, for `add`,
the item password and, with `--totp`, the TOTP seed). Nothing prints a
password or seed; `list --json` included.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from blindfill.approver.csvimport import read_csv_export
from blindfill.approver.items import Item, TotpSpec, new_item_id, parse_totp
from blindfill.approver.paths import default_vault_path
from blindfill.approver.text import clean_text
from blindfill.approver.vault import PASSWORD_ENV, VaultKind, detect_kind, open_vault
from blindfill.approver.vaultfile import KdfParams, VaultFile, edit_vault
from blindfill.errors import ExitStatus, UsageError
from blindfill.log import get_logger
from blindfill.sensitive import Secret

__all__ = ["SecretSource", "register"]


def _log() -> Any:
    # Looked up per call: a logger bound at import time would keep
    # structlog's defaults instead of the CLI's configuration.
    return get_logger("blindfill.vault")


_STDIN_HELP = (
    "read secrets from standard input, one a line: the master password "
    f"(unless {PASSWORD_ENV} is set), then what the command asks for"
)


def register(subparsers: Any) -> None:
    """Add `blindfill vault ...` to the command line."""
    parser = subparsers.add_parser(
        "vault",
        help="create and manage the approver's vault",
        description=(
            "Manage the approver's encrypted vault. A KeePass .kdbx file can "
            "be used in its place for reading (list) and by the approver. "
            f"For unattended use the master password may come from {PASSWORD_ENV}."
        ),
    )
    parser.set_defaults(handler=lambda _args: _print_usage(parser))
    commands = parser.add_subparsers(dest="vault_command", metavar="ACTION")

    init = commands.add_parser("init", help="create a new, empty vault")
    _common(init)
    costs = init.add_argument_group(
        "key derivation costs",
        "Argon2id costs; the defaults (64 MiB, 3 passes, 4 lanes) follow RFC "
        "9106. Lower them only for tests or very small machines.",
    )
    defaults = KdfParams()
    costs.add_argument(
        "--kdf-memory-kib", type=int, default=defaults.memory_kib, metavar="KIB"
    )
    costs.add_argument(
        "--kdf-iterations", type=int, default=defaults.iterations, metavar="N"
    )
    costs.add_argument("--kdf-lanes", type=int, default=defaults.lanes, metavar="N")
    init.set_defaults(handler=_init)

    add = commands.add_parser(
        "add", help="add an item; the password is asked for, never an argument"
    )
    _common(add)
    add.add_argument("--title", required=True, help="a name for the item")
    add.add_argument("--username", default="", help="the user name or e-mail")
    add.add_argument(
        "--url",
        action="append",
        required=True,
        help="a URL the item belongs to (repeat for more); its origin matters",
    )
    add.add_argument(
        "--subdomains",
        action="store_true",
        help="also match other hosts of the URL's registrable domain",
    )
    add.add_argument(
        "--totp",
        action="store_true",
        help="also ask for a TOTP seed (base32 or otpauth:// URI)",
    )
    add.set_defaults(handler=_add)

    listing = commands.add_parser("list", help="list items (never their secrets)")
    _common(listing)
    listing.add_argument("--json", action="store_true", help="one JSON document")
    listing.add_argument(
        "--key-file", type=Path, help="the key file of a KeePass database"
    )
    listing.set_defaults(handler=_list)

    remove = commands.add_parser("remove", help="remove an item by id")
    _common(remove)
    remove.add_argument("id", help="the item id, or a unique start of it")
    remove.set_defaults(handler=_remove)

    importer = commands.add_parser(
        "import",
        help="import a CSV export (Chrome, Firefox, Bitwarden, KeePassXC)",
        description=(
            "Import a CSV export. Recognised columns: name or title; url, "
            "login_uri, uri or website; username or login_username; password "
            "or login_password; totp, login_totp or otp; match_subdomains. "
            "See docs/vault-format.md."
        ),
    )
    _common(importer)
    importer.add_argument("csv", type=Path, help="the CSV file")
    importer.set_defaults(handler=_import)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vault",
        type=Path,
        default=None,
        help=f"the vault file (default: {default_vault_path()})",
    )
    parser.add_argument("--password-stdin", action="store_true", help=_STDIN_HELP)


def _print_usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return ExitStatus.USAGE


class SecretSource:
    """Reads secrets from a non-echoing prompt or from standard input.

    With `stdin=True`, each call takes the next line of `stream`; otherwise it
    prompts on the terminal. The master password comes from
    `BLINDFILL_VAULT_PASSWORD` first when that is set.
    """

    def __init__(self, *, stdin: bool, stream: TextIO | None = None) -> None:
        self._stdin = stdin
        self._stream = stream or sys.stdin

    def master(self, *, confirm: bool = False) -> Secret[str]:
        from_env = os.environ.get(PASSWORD_ENV)
        if from_env:
            return Secret(from_env, kind="master_password")
        return self.read("Master password", kind="master_password", confirm=confirm)

    def read(self, label: str, *, kind: str, confirm: bool = False) -> Secret[str]:
        """The next secret. Raises `UsageError` when there is no way to ask."""
        if self._stdin:
            line = self._stream.readline()
            if not line:
                raise UsageError(
                    f"standard input ended before the {label.lower()}",
                    hint="give one secret a line",
                )
            return Secret(line.rstrip("\r\n"), kind=kind)
        if not self._stream.isatty():
            raise UsageError(
                f"no terminal to ask for the {label.lower()}",
                hint=(
                    f"use --password-stdin, or {PASSWORD_ENV} for the master password"
                ),
            )
        value = getpass.getpass(f"{label}: ")
        if confirm and getpass.getpass(f"{label} again: ") != value:
            raise UsageError("the two entries differ; nothing was changed")
        return Secret(value, kind=kind)


def _vault_path(args: argparse.Namespace) -> Path:
    path: Path | None = args.vault
    return path if path is not None else default_vault_path()


def _writable(path: Path) -> None:
    if detect_kind(path) is VaultKind.KEEPASS:
        raise UsageError(
            f"{path} is a KeePass database, which blindfill only reads",
            hint="change it in KeePassXC or KeePass",
        )


def _init(args: argparse.Namespace) -> int:
    path = _vault_path(args)
    kdf = KdfParams(
        memory_kib=args.kdf_memory_kib,
        iterations=args.kdf_iterations,
        lanes=args.kdf_lanes,
    )
    if path.exists():
        raise UsageError(f"{path} already exists; it was left untouched")
    password = SecretSource(stdin=args.password_stdin).master(confirm=True)
    VaultFile.create(path, password, kdf=kdf)
    _log().info("vault.created", path=str(path))
    print(
        f"created {path} (Argon2id {kdf.memory_kib} KiB, "
        f"{kdf.iterations} passes, {kdf.lanes} lanes)"
    )
    if kdf.is_weak:
        print(
            "warning: these key derivation costs are below the recommended "
            "minimum; a stolen vault file is easier to guess",
            file=sys.stderr,
        )
    return ExitStatus.OK


def _add(args: argparse.Namespace) -> int:
    path = _vault_path(args)
    _writable(path)
    secrets = SecretSource(stdin=args.password_stdin)
    master = secrets.master()
    password = secrets.read(
        f"Password for {clean_text(args.title, limit=60)}",
        kind="password",
        confirm=True,
    )
    totp: TotpSpec | None = None
    if args.totp:
        totp = parse_totp(secrets.read("TOTP seed", kind="totp_seed").reveal())
    item = Item(
        id=new_item_id(),
        title=args.title,
        username=args.username,
        password=password,
        urls=tuple(args.url),
        totp=totp,
        match_subdomains=args.subdomains,
        source="added",
    )
    with edit_vault(path, master) as vault:
        vault.add(item)
    _log().info("vault.item_added", path=str(path), item_id=item.id)
    print(f"added {item.id} {clean_text(item.title, limit=80)!r}")
    return ExitStatus.OK


def _list(args: argparse.Namespace) -> int:
    path = _vault_path(args)
    master = SecretSource(stdin=args.password_stdin).master()
    vault = open_vault(path, master, key_file=args.key_file)
    for warning in getattr(vault, "warnings", []):
        print(f"warning: {clean_text(warning)}", file=sys.stderr)
    items = vault.items()
    if args.json:
        json.dump({"items": [_public(item) for item in items]}, sys.stdout, indent=2)
        print()
        return ExitStatus.OK
    if not items:
        print(f"{path} holds no items")
    for item in items:
        print(_line(item))
    return ExitStatus.OK


def _line(item: Item) -> str:
    urls = " ".join(clean_text(url, limit=80) for url in item.urls)
    marks = [
        mark
        for mark, present in (
            ("totp", item.has_totp),
            ("subdomains", item.match_subdomains),
        )
        if present
    ]
    suffix = f"  [{', '.join(marks)}]" if marks else ""
    return (
        f"{item.id}  {clean_text(item.title, limit=40)}  "
        f"{clean_text(item.username, limit=40) or '-'}  {urls or '-'}{suffix}"
    )


def _public(item: Item) -> dict[str, object]:
    # Everything a person may see about an item; no password, no seed.
    return {
        "id": item.id,
        "title": item.title,
        "username": item.username,
        "urls": list(item.urls),
        "has_totp": item.has_totp,
        "match_subdomains": item.match_subdomains,
        "source": item.source,
    }


def _remove(args: argparse.Namespace) -> int:
    path = _vault_path(args)
    _writable(path)
    master = SecretSource(stdin=args.password_stdin).master()
    with edit_vault(path, master) as vault:
        removed = vault.remove(args.id)
    _log().info("vault.item_removed", path=str(path), item_id=removed.id)
    print(f"removed {removed.id} {clean_text(removed.title, limit=80)!r}")
    return ExitStatus.OK


def _import(args: argparse.Namespace) -> int:
    path = _vault_path(args)
    _writable(path)
    exported = read_csv_export(args.csv)  # before the password: fail fast
    master = SecretSource(stdin=args.password_stdin).master()
    notes = list(exported.notes)
    with edit_vault(path, master) as vault:
        known = {_identity(item) for item in vault.items()}
        fresh = []
        for item in exported.items:
            if _identity(item) in known:
                notes.append(f"{item.source}: already in the vault, skipped")
                continue
            known.add(_identity(item))
            fresh.append(item)
        vault.add_all(fresh)
    _log().info("vault.imported", path=str(path), items=len(fresh), notes=len(notes))
    for note in notes:
        print(f"note: {clean_text(note)}", file=sys.stderr)
    print(f"imported {len(fresh)} items into {path}")
    return ExitStatus.OK


def _identity(item: Item) -> tuple[str, str, tuple[str, ...]]:
    return item.title, item.username, item.urls
