"""`blindfill audit`: read and verify the approver's audit log."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from blindfill.approver.audit import AuditRecord, read_records, verify_log
from blindfill.approver.paths import default_audit_path
from blindfill.approver.text import clean_text
from blindfill.errors import ExitStatus

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add `blindfill audit ...` to the command line."""
    parser = subparsers.add_parser(
        "audit",
        help="show or verify the approver's audit log",
        description=(
            "The approver records every decision in an append-only, "
            "hash-chained log. `show` prints it; `verify` checks that no "
            "record was edited, deleted or reordered."
        ),
    )
    parser.set_defaults(handler=lambda _args: _usage(parser))
    commands = parser.add_subparsers(dest="audit_command", metavar="ACTION")

    show = commands.add_parser("show", help="print the records")
    _log_flag(show)
    show.add_argument("--json", action="store_true", help="one JSON document")
    show.add_argument(
        "--last", type=int, default=None, metavar="N", help="only the last N records"
    )
    show.set_defaults(handler=_show)

    verify = commands.add_parser(
        "verify", help="check the hash chain; exit status 1 if it is broken"
    )
    _log_flag(verify)
    verify.add_argument("--json", action="store_true", help="one JSON document")
    verify.set_defaults(handler=_verify)


def _log_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log",
        type=Path,
        default=None,
        help=f"the audit log (default: {default_audit_path()})",
    )


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return ExitStatus.USAGE


def _path(args: argparse.Namespace) -> Path:
    path: Path | None = args.log
    return path if path is not None else default_audit_path()


def _show(args: argparse.Namespace) -> int:
    entries = list(read_records(_path(args)))
    if args.last is not None:
        entries = entries[-args.last :] if args.last > 0 else []
    if args.json:
        document = {
            "records": [e.record for e in entries if e.record is not None],
            "unreadable_lines": [e.line for e in entries if e.record is None],
        }
        json.dump(document, sys.stdout, indent=2)
        print()
        return ExitStatus.OK
    for entry in entries:
        print(_describe(entry))
    return ExitStatus.OK


def _describe(entry: AuditRecord) -> str:
    record = entry.record
    if record is None:
        return f"line {entry.line}: (unreadable or incomplete record)"

    def text(value: object, limit: int = 120) -> str:
        return clean_text(str(value if value is not None else ""), limit=limit)

    # The log is a file anyone with access may have edited: take nothing
    # about its shape for granted.
    agent = _mapping(record.get("agent"))
    item = _mapping(record.get("item"))
    chain = " > ".join(text(o, 80) for o in _sequence(record.get("frame_chain")))
    fields = ", ".join(text(f, 20) for f in _sequence(record.get("fields")))
    lines = [
        f"#{text(record.get('seq'))}  {text(record.get('time'))}  "
        f"{text(record.get('decision')).upper()} by {text(record.get('decided_by'))}",
        f"    origin   {text(record.get('origin'))}   (frame chain: {chain})",
        f"    agent    {text(agent.get('name'), 60)}  "
        f"key {text(agent.get('fingerprint'), 80)}",
        f"    asked    {fields or '-'} for a {text(record.get('form_kind'), 30)} form",
    ]
    if item:
        lines.append(
            f"    item     {text(item.get('title'), 80)!r} ({text(item.get('id'), 64)})"
        )
    if record.get("detail"):
        lines.append(f"    detail   {text(record.get('detail'))}")
    lines.append(f"    reason   (unverified) {text(record.get('reason'), 300)!r}")
    return "\n".join(lines)


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _sequence(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _verify(args: argparse.Namespace) -> int:
    path = _path(args)
    report = verify_log(path)
    if args.json:
        json.dump(
            {
                "ok": report.ok,
                "records": report.records,
                "last_hash": report.last_hash,
                "problems": report.problems,
                "notes": report.notes,
            },
            sys.stdout,
            indent=2,
        )
        print()
    else:
        for note in report.notes:
            print(f"note: {note}", file=sys.stderr)
        for problem in report.problems:
            print(f"problem: {problem}", file=sys.stderr)
        verdict = "intact" if report.ok else "BROKEN"
        print(
            f"{path}: {report.records} records, chain {verdict}; "
            f"last hash {report.last_hash}"
        )
    return ExitStatus.OK if report.ok else ExitStatus.FAILED
