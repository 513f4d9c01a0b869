"""The approver's audit log: append-only, hash-chained JSON Lines.

Every decision the approver makes (a fill granted or declined, by a person
or a rule, or refused because of a limit) becomes one record: when, where
(the frame origin, the top origin and the frame chain), why (the agent's
reason, cleaned and capped), which item (id and title, never a secret),
which fields, the decision and who made it, and the agent's key
fingerprint.

Chaining. Each record carries `prev`, the SHA-256 of the previous record's
canonical JSON (sorted keys, no spaces, ASCII), and `seq`, its position
from 1. The first record's `prev` is 64 zeros. A record is written as
exactly its canonical JSON and a newline, so the hash of a line is the
hash of its bytes. Editing a record breaks the next record's link;
deleting or reordering records breaks `seq` and the links. Deleting
records at the end leaves a shorter but consistent chain, which is why a
small head file (`<log>.head`, replaced atomically after each append) keeps
the last `seq` and hash: a log shorter than its head has lost records.
Someone who can rewrite both files can forge a consistent history; copy
`blindfill audit verify`'s last hash somewhere else when that matters.

Durability. An append opens the file with O_APPEND, takes an exclusive
advisory lock, writes the line with one `write` call and fsyncs before it
returns, so a decision is only released once its record is on disk. A
crash in the middle of a write can leave a torn last line; `verify`
reports it, and the next append first ends the torn line, then links its
record to the last complete one, so the log keeps working.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from blindfill.approver.items import Item
from blindfill.approver.paths import ensure_private_dir
from blindfill.approver.request import ApprovalRequest
from blindfill.approver.text import clean_text
from blindfill.errors import StorageError
from blindfill.storage import write_atomic

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditLog",
    "AuditRecord",
    "VerifyReport",
    "canonical_json",
    "read_records",
    "record_hash",
    "verify_log",
]

GENESIS: Final = "0" * 64
RECORD_VERSION: Final = 1
REASON_KEPT: Final = 500  # characters of the agent's reason a record keeps
_TAIL_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What the decision engine knows about one decision. No secrets.

    `decision` is the outcome (`granted`, `declined`, `rate_limited`,
    `busy`, `locked`); `decided_by` is `person`, `rule:<name>`,
    `continuation:<request id>`, or the limit or condition that decided
    (`timeout`, `no_prompt`, `rate_limit`, `queue_full`, `locked`);
    `detail` says why, for the person reading the log.
    """

    request_id: str
    agent_name: str
    agent_fingerprint: str
    origin: str
    top_origin: str
    frame_chain: tuple[str, ...]
    form_kind: str
    fields: tuple[str, ...]
    reason: str
    decision: str
    decided_by: str
    detail: str = ""
    item_id: str | None = None
    item_title: str | None = None
    requested_at: float | None = None

    @classmethod
    def of(
        cls,
        request: ApprovalRequest,
        *,
        decision: str,
        decided_by: str,
        detail: str = "",
        item: Item | None = None,
    ) -> AuditEntry:
        """The entry for `request`, its reason cleaned and capped."""
        return cls(
            request_id=request.request_id,
            agent_name=request.agent.name,
            agent_fingerprint=request.agent.fingerprint,
            origin=request.frame_origin,
            top_origin=request.top_origin,
            frame_chain=request.frame_chain,
            form_kind=request.form_kind.value,
            fields=tuple(role.value for role in request.fields),
            reason=clean_text(request.reason, limit=REASON_KEPT),
            decision=decision,
            decided_by=decided_by,
            detail=detail,
            item_id=item.id if item else None,
            item_title=item.title if item else None,
            requested_at=request.requested_at,
        )

    def to_record(self, *, seq: int, prev: str, now: float) -> dict[str, Any]:
        item = None
        if self.item_id is not None:
            item = {"id": self.item_id, "title": self.item_title or ""}
        return {
            "v": RECORD_VERSION,
            "seq": seq,
            "time": _iso(now),
            "requested_at": (
                None if self.requested_at is None else _iso(self.requested_at)
            ),
            "request_id": self.request_id,
            "agent": {"name": self.agent_name, "fingerprint": self.agent_fingerprint},
            "origin": self.origin,
            "top_origin": self.top_origin,
            "frame_chain": list(self.frame_chain),
            "form_kind": self.form_kind,
            "fields": list(self.fields),
            "reason": self.reason,
            "item": item,
            "decision": self.decision,
            "decided_by": self.decided_by,
            "detail": self.detail,
            "prev": prev,
        }


def canonical_json(record: object) -> bytes:
    """The bytes a record is written as and hashed over."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")


def record_hash(record: object) -> str:
    """SHA-256 of the record's canonical JSON, as 64 hex digits."""
    return hashlib.sha256(canonical_json(record)).hexdigest()


class AuditLog:
    """Appends records to one log file. Safe across threads and processes."""

    def __init__(self, path: Path, *, clock: Any = time.time) -> None:
        self.path = path
        self.head_path = path.with_name(path.name + ".head")
        self._clock = clock
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AuditLog(path={str(self.path)!r})"

    def append(self, entry: AuditEntry) -> dict[str, Any]:
        """Write `entry` as the next record, durably, and return the record.

        Raises `StorageError` if it cannot be written; no decision should be
        released then. A torn last line from an earlier crash is ended first.
        """
        with self._lock:
            try:
                return self._append(entry)
            except OSError as exc:
                raise StorageError(
                    f"could not append to the audit log {self.path}: "
                    f"{exc.strerror or exc}"
                ) from exc

    def _append(self, entry: AuditEntry) -> dict[str, Any]:
        ensure_private_dir(self.path.parent)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last, torn = _tail(self.path)
            seq = 1 if last is None else last.seq + 1
            prev = GENESIS if last is None else last.hash
            record = entry.to_record(seq=seq, prev=prev, now=self._clock())
            line = canonical_json(record) + b"\n"
            _write_all(fd, (b"\n" if torn else b"") + line)
            os.fsync(fd)
        finally:
            os.close(fd)  # also releases the lock
        write_atomic(
            self.head_path,
            canonical_json({"seq": seq, "hash": record_hash(record)}) + b"\n",
        )
        return record


# --- reading and verifying ----------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of the log: its number, and the record or why it is unreadable."""

    line: int
    record: dict[str, Any] | None
    raw: bytes

    @property
    def seq(self) -> int:
        """The record's position; 0 when it is missing or not a whole number."""
        seq = (self.record or {}).get("seq")
        return seq if isinstance(seq, int) and not isinstance(seq, bool) else 0

    @property
    def hash(self) -> str:
        return record_hash(self.record)


@dataclass(slots=True)
class VerifyReport:
    """What `verify_log` found. `ok` is False if any problem was found."""

    records: int = 0
    last_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_records(path: Path) -> Iterator[AuditRecord]:
    """Every line of the log, parsed where possible, in file order.

    Raises `StorageError` if the file cannot be read.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise StorageError(
            f"{path} does not exist",
            code="storage_missing",
            hint="the approver creates it at its first decision",
        ) from exc
    except OSError as exc:
        raise StorageError(f"could not read {path}: {exc.strerror or exc}") from exc
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        yield AuditRecord(number, _parse(raw), raw)


def verify_log(path: Path) -> VerifyReport:
    """Check the chain of the log at `path` and its head file.

    Reports (never raises for) edited, deleted, reordered and unreadable
    records, by line; a torn last line is a note, not a problem. Raises
    `StorageError` only if the log cannot be read.
    """
    report = VerifyReport()
    ends_with_newline = _ends_with_newline(path)
    records = list(read_records(path))
    expected_seq, last_hash, last_line = 1, GENESIS, 0
    pending_torn: int | None = None

    for index, entry in enumerate(records):
        is_last = index == len(records) - 1
        if entry.record is None:
            if is_last and not ends_with_newline:
                report.notes.append(
                    f"line {entry.line}: incomplete record from an interrupted "
                    "write (it was never released); ignored"
                )
            else:
                pending_torn = entry.line
            continue

        seq, prev = entry.record.get("seq"), entry.record.get("prev")
        if seq != expected_seq:
            if isinstance(seq, int) and seq > expected_seq:
                report.problems.append(
                    f"line {entry.line}: record {seq} follows record "
                    f"{expected_seq - 1}; records {expected_seq} to {seq - 1} "
                    "were deleted or moved"
                )
            else:
                report.problems.append(
                    f"line {entry.line}: record {seq!r} is out of order or "
                    f"repeated (expected record {expected_seq})"
                )
        elif prev != last_hash:
            before = f"line {last_line}" if last_line else "the start of the log"
            report.problems.append(
                f"line {entry.line}: the chain breaks here; {before} or this "
                "line was edited"
            )
        elif pending_torn is not None:
            report.notes.append(
                f"line {pending_torn}: incomplete record from an interrupted "
                "write; the chain continues past it"
            )
        if pending_torn is not None and (seq != expected_seq or prev != last_hash):
            report.problems.append(f"line {pending_torn}: unreadable record")
        pending_torn = None

        report.records += 1
        expected_seq = seq + 1 if isinstance(seq, int) else expected_seq + 1
        last_hash, last_line = entry.hash, entry.line

    if pending_torn is not None:
        report.problems.append(f"line {pending_torn}: unreadable record")
    report.last_hash = last_hash
    _check_head(path, report, expected_seq - 1, last_hash, records)
    return report


def _check_head(
    path: Path,
    report: VerifyReport,
    last_seq: int,
    last_hash: str,
    records: list[AuditRecord],
) -> None:
    head_path = path.with_name(path.name + ".head")
    try:
        head = json.loads(head_path.read_bytes())
        head_seq, head_hash = int(head["seq"]), str(head["hash"])
    except FileNotFoundError:
        if last_seq:
            report.notes.append(
                f"{head_path.name} is missing: deleted records at the end of "
                "the log cannot be detected"
            )
        return
    except (OSError, ValueError, KeyError, TypeError):
        report.problems.append(f"{head_path.name} is unreadable or malformed")
        return

    if (head_seq, head_hash) == (last_seq, last_hash):
        return
    if head_seq > last_seq:
        report.problems.append(
            f"records {last_seq + 1} to {head_seq} at the end of the log were "
            f"deleted ({head_path.name} records {head_seq})"
        )
        return
    hashes = {r.seq: r.hash for r in records if r.record is not None}
    if head_seq == last_seq - 1 and hashes.get(head_seq) == head_hash:
        report.notes.append(
            f"{head_path.name} is one record behind: a crash right after the "
            "last write; the next append brings it up to date"
        )
        return
    report.problems.append(
        f"{head_path.name} (record {head_seq}) does not match the log; the "
        "log was rewritten"
    )


# --- internals ------------------------------------------------------------


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _tail(path: Path) -> tuple[AuditRecord | None, bool]:
    """The last complete record, and whether the file ends mid-line."""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return None, False
        handle.seek(size - 1)
        torn = handle.read(1) != b"\n"
        chunk = _TAIL_CHUNK
        while True:
            start = max(0, size - chunk)
            handle.seek(start)
            data = handle.read(size - start)
            lines = data.split(b"\n")
            if start > 0:
                lines = lines[1:]  # the first piece may be a partial line
            for raw in reversed(lines):
                candidate = AuditRecord(0, _parse(raw), raw)
                if candidate.seq > 0:
                    return candidate, torn
            if start == 0:
                return None, torn
            chunk *= 4


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _ends_with_newline(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return True
            handle.seek(size - 1)
            return handle.read(1) == b"\n"
    except OSError:
        return True


def _iso(when: float) -> str:
    moment = datetime.fromtimestamp(when, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
