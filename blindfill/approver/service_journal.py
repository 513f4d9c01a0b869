"""Requests accepted but not yet decided, so that a crash still leaves a record.

The decision engine writes a request's audit record when it decides. A
kill -9 while the person is still deciding would leave no trace of a
request the approver had accepted. The journal closes that gap: the service
writes the request's would-be audit entry to `pending-decisions.json` in
the state directory (atomically, mode 0600) right after accepting message 1
and before anyone is asked. On the next start `recover` appends, for each
entry left over, a record declined by `interrupted`, unless the log already
holds a record for that request.

That last rule is also why a decided request is forgotten in memory only:
its entry stays in the file until the next `add` rewrites it (or `recover`
empties it), and `recover` skips it because the engine's record is in the
log. This saves a durable write (two fsyncs) on every fill.

Fills of a pairing are processed one at a time, so the journal holds at most
one undecided entry in practice; it is a list so that nothing depends on that.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Final

from blindfill.approver.audit import AuditEntry, AuditLog, read_records
from blindfill.errors import StorageError
from blindfill.storage import read_private, write_atomic

__all__ = ["JOURNAL_FILE", "DecisionJournal"]

JOURNAL_FILE: Final = "pending-decisions.json"
_INTERRUPTED: Final = "interrupted"


class DecisionJournal:
    """The pending-decisions file of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / JOURNAL_FILE
        self._pending: list[AuditEntry] = []

    def add(self, entry: AuditEntry) -> None:
        """Record `entry` as pending. Raises `StorageError` if it cannot.

        The file is rewritten with the undecided entries only, which drops
        the entries of requests decided since the last write.
        """
        pending = [e for e in self._pending if e.request_id != entry.request_id]
        self._save([*pending, entry])
        self._pending = [*pending, entry]

    def remove(self, request_id: str) -> None:
        """Forget `request_id`: it was decided and its record is in the log.

        Nothing is written; see the module docstring for why that is safe.
        """
        self._pending = [e for e in self._pending if e.request_id != request_id]

    def recover(self, audit: AuditLog) -> int:
        """Audit every leftover entry as interrupted; return how many.

        Raises `StorageError` if the journal or the log cannot be read or
        written; the journal is then left for the next start.
        """
        entries = self._load()
        if not entries:
            return 0
        recorded = _recorded_ids(audit.path)
        appended = 0
        for entry in entries:
            if entry.request_id in recorded:
                continue
            audit.append(
                replace(
                    entry,
                    decision="declined",
                    decided_by=_INTERRUPTED,
                    detail="the approver stopped before this request was decided",
                )
            )
            appended += 1
        self._save([])
        return appended

    def _load(self) -> list[AuditEntry]:
        try:
            data = read_private(self.path)
        except StorageError as exc:
            if exc.code == "storage_missing":
                return []
            raise
        try:
            document = json.loads(data)
            return [_entry(raw) for raw in document["pending"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(
                f"{self.path} is damaged",
                code="journal_damaged",
                hint="check `blindfill audit show`, then delete the file",
            ) from exc

    def _save(self, entries: list[AuditEntry]) -> None:
        if not entries and not self.path.exists():
            return
        document = {"version": 1, "pending": [asdict(e) for e in entries]}
        write_atomic(self.path, json.dumps(document, sort_keys=True).encode())


def _entry(raw: dict[str, Any]) -> AuditEntry:
    fields = dict(raw)
    fields["frame_chain"] = tuple(fields["frame_chain"])
    fields["fields"] = tuple(fields["fields"])
    return AuditEntry(**fields)


def _recorded_ids(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {
        str(line.record.get("request_id"))
        for line in read_records(path)
        if line.record is not None
    }
