"""The journal of accepted but undecided requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blindfill.approver.audit import AuditEntry, AuditLog, read_records, verify_log
from blindfill.approver.service import ApproverService
from blindfill.approver.service_journal import JOURNAL_FILE, DecisionJournal
from blindfill.approver.testing import ScriptedPrompt
from blindfill.errors import StorageError
from blindfill.storage import write_atomic

from .harness import login_request, paired_link, run_approver


def _entry(request_id: str) -> AuditEntry:
    return AuditEntry(
        request_id=request_id,
        agent_name="bot",
        agent_fingerprint="AAAA-BBBB",
        origin="https://bank.test",
        top_origin="https://bank.test",
        frame_chain=("https://bank.test",),
        form_kind="login",
        fields=("username", "password"),
        reason="why",
        decision="pending",
        decided_by="pending",
        requested_at=1_750_000_000.0,
    )


def test_leftovers_are_audited_as_interrupted(tmp_path: Path) -> None:
    """A request left in the journal becomes a declined, interrupted record."""
    journal = DecisionJournal(tmp_path)
    journal.add(_entry("a" * 32))
    log = AuditLog(tmp_path / "audit.jsonl")
    assert journal.recover(log) == 1
    record = json.loads((tmp_path / "audit.jsonl").read_text())
    assert (record["decision"], record["decided_by"]) == ("declined", "interrupted")
    assert record["frame_chain"] == ["https://bank.test"]
    assert verify_log(log.path).ok
    assert journal.recover(log) == 0  # the journal was emptied


def test_requests_already_audited_are_not_counted_twice(tmp_path: Path) -> None:
    """A crash after the engine's record but before the journal's removal."""
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(_entry("b" * 32))
    journal = DecisionJournal(tmp_path)
    journal.add(_entry("b" * 32))
    journal.add(_entry("c" * 32))
    assert journal.recover(log) == 1
    ids = [json.loads(x)["request_id"] for x in log.path.read_text().splitlines()]
    assert ids == ["b" * 32, "c" * 32]


def test_a_damaged_journal_stops_the_start(tmp_path: Path) -> None:
    """A damaged journal is a clear storage error, left for a person to see."""
    write_atomic(tmp_path / JOURNAL_FILE, b"{not json")
    with pytest.raises(StorageError) as caught:
        ApproverService(
            state_dir=tmp_path, engine=None, audit=AuditLog(tmp_path / "a.jsonl")
        )
    assert caught.value.code == "journal_damaged"
    assert (tmp_path / JOURNAL_FILE).exists()


async def test_a_decided_fill_is_not_reported_as_interrupted(tmp_path: Path) -> None:
    """After a normal fill, a restart finds nothing interrupted to record."""
    async with (
        run_approver(tmp_path, prompt=ScriptedPrompt(choices=[1])) as approver,
        await paired_link(approver, tmp_path) as link,
    ):
        await link.request_fill(**login_request())
    log = AuditLog(approver.audit_path)
    before = len(list(read_records(log.path)))
    assert DecisionJournal(approver.state_dir).recover(log) == 0
    assert len(list(read_records(log.path))) == before
