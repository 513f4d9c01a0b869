"""The hash-chained audit log and `blindfill audit`."""

from __future__ import annotations

import itertools
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from blindfill.approver.audit import (
    GENESIS,
    AuditEntry,
    AuditLog,
    read_records,
    record_hash,
    verify_log,
)
from blindfill.cli import main
from blindfill.errors import ExitStatus


def entry(n: int, **changes: object) -> AuditEntry:
    fields: dict[str, object] = {
        "request_id": f"req-{n}",
        "agent_name": "ci-agent",
        "agent_fingerprint": "ab12cd34",
        "origin": "https://bank.test",
        "top_origin": "https://bank.test",
        "frame_chain": ("https://bank.test",),
        "form_kind": "login",
        "fields": ("username", "password"),
        "reason": f"check balance {n}",
        "decision": "granted",
        "decided_by": "person",
        "item_id": "item1",
        "item_title": "Bank",
    }
    fields.update(changes)
    return AuditEntry(**fields)  # type: ignore[arg-type]


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit" / "audit.jsonl"
    log = AuditLog(path, clock=lambda: 1_700_000_000.0)
    for n in range(1, 6):
        log.append(entry(n))
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def test_records_chain_by_hash(log_path: Path) -> None:
    """Each record names the previous record's hash and its own position."""
    records = [json.loads(line) for line in lines_of(log_path)]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[0]["prev"] == GENESIS
    for before, after in itertools.pairwise(records):
        assert after["prev"] == record_hash(before)
    assert records[0]["time"] == "2023-11-14T22:13:20.000Z"
    assert records[0]["item"] == {"id": "item1", "title": "Bank"}
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600
    report = verify_log(log_path)
    assert report.ok
    assert report.records == 5
    assert report.last_hash == record_hash(records[-1])


def test_edited_record_is_detected_by_line(log_path: Path) -> None:
    """An edit anywhere breaks the chain at the next line, which is named."""
    lines = lines_of(log_path)
    lines[2] = lines[2].replace(b'"granted"', b'"declined"')
    write_lines(log_path, lines)
    report = verify_log(log_path)
    assert not report.ok
    assert report.problems == [
        "line 4: the chain breaks here; line 3 or this line was edited"
    ]


def test_edit_to_the_last_record_is_caught_by_the_head(log_path: Path) -> None:
    """An edit to the last record, which no later link covers, fails the head check."""
    lines = lines_of(log_path)
    lines[-1] = lines[-1].replace(b"check balance 5", b"nothing to see")
    write_lines(log_path, lines)
    report = verify_log(log_path)
    assert not report.ok
    assert "does not match the log" in report.problems[0]


def test_deleted_record_is_detected(log_path: Path) -> None:
    """A record deleted from the middle is reported at the line where the gap shows."""
    lines = lines_of(log_path)
    del lines[1]
    write_lines(log_path, lines)
    report = verify_log(log_path)
    assert not report.ok
    assert report.problems[0].startswith("line 2: record 3 follows record 1")


def test_deleted_last_records_are_detected(log_path: Path) -> None:
    """Cutting records off the end is caught by the head file."""
    write_lines(log_path, lines_of(log_path)[:3])
    report = verify_log(log_path)
    assert report.problems == [
        "records 4 to 5 at the end of the log were deleted (audit.jsonl.head records 5)"
    ]


def test_reordered_records_are_detected(log_path: Path) -> None:
    """Swapped records are reported as out of order."""
    lines = lines_of(log_path)
    lines[1], lines[2] = lines[2], lines[1]
    write_lines(log_path, lines)
    report = verify_log(log_path)
    assert not report.ok
    assert any(p.startswith("line 2:") for p in report.problems)
    assert any(p.startswith("line 3:") and "out of order" in p for p in report.problems)


def test_torn_last_line_is_reported_and_next_append_works(log_path: Path) -> None:
    """A crash mid-write leaves a torn line: verify notes it, appends go on."""
    with log_path.open("ab") as handle:
        handle.write(b'{"v":1,"seq":6,"time":"20')  # a write cut short
    report = verify_log(log_path)
    assert report.ok
    assert "line 6: incomplete record" in report.notes[0]

    record = AuditLog(log_path).append(entry(6))
    assert record["seq"] == 6
    assert record["prev"] == record_hash(json.loads(lines_of(log_path)[4]))
    report = verify_log(log_path)
    assert report.ok, report.problems
    assert report.records == 6
    assert "chain continues past it" in report.notes[0]


def test_garbage_replacing_a_record_is_a_problem(log_path: Path) -> None:
    """An unreadable line the chain does not skip cleanly is a problem."""
    lines = lines_of(log_path)
    lines[2] = b"this is not json"
    write_lines(log_path, lines)
    report = verify_log(log_path)
    assert "line 3: unreadable record" in report.problems


def test_records_with_a_forged_seq_are_problems_not_crashes(log_path: Path) -> None:
    """A `seq` that is not a whole number is reported, even when the head disagrees."""
    lines = lines_of(log_path)
    lines[1] = lines[1].replace(b'"seq":2', b'"seq":"two"')
    lines[3] = lines[3].replace(b'"seq":4', b'"seq":null')
    write_lines(log_path, lines)
    head = log_path.with_name("audit.jsonl.head")
    head.write_text(json.dumps({"seq": 4, "hash": "0" * 64}))
    report = verify_log(log_path)
    assert not report.ok
    assert any(p.startswith("line 2: record 'two'") for p in report.problems)
    assert any(p.startswith("line 4: record None") for p in report.problems)
    assert any("does not match the log" in p for p in report.problems)


def test_head_one_behind_after_crash_is_a_note(log_path: Path) -> None:
    """A crash between the log write and the head update is not tampering."""
    head = log_path.with_name("audit.jsonl.head")
    records = [json.loads(line) for line in lines_of(log_path)]
    head.write_text(json.dumps({"seq": 4, "hash": record_hash(records[3])}))
    report = verify_log(log_path)
    assert report.ok
    assert "one record behind" in report.notes[0]


def test_appends_from_two_logs_on_one_file_keep_the_chain(tmp_path: Path) -> None:
    """Two writers (as two processes would) interleave without forking the chain."""
    path = tmp_path / "audit.jsonl"
    first, second = AuditLog(path), AuditLog(path)
    for n in range(6):
        (first if n % 2 else second).append(entry(n))
    assert verify_log(path).ok
    assert verify_log(path).records == 6


def test_read_records_of_missing_log_is_a_storage_error(tmp_path: Path) -> None:
    """Reading a log that does not exist raises StorageError."""
    from blindfill.errors import StorageError

    with pytest.raises(StorageError):
        list(read_records(tmp_path / "none.jsonl"))


# --- the command ---------------------------------------------------------------------


def test_audit_show_and_verify_commands(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`audit show` prints every record; `audit verify` exits 0 on an intact log."""
    assert main(["audit", "show", "--log", str(log_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("GRANTED by person") == 5
    assert "(unverified) 'check balance 3'" in out

    assert main(["audit", "show", "--json", "--last", "2", "--log", str(log_path)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [r["seq"] for r in document["records"]] == [4, 5]

    assert main(["audit", "verify", "--log", str(log_path)]) == 0
    assert "5 records, chain intact" in capsys.readouterr().out


def test_audit_show_strips_terminal_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record edited to hold escape sequences prints as plain text."""
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append(entry(1, reason="ok\x1b[2J\x1b]0;pwned\x07 done\nfake line"))
    assert main(["audit", "show", "--log", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "ok done fake line" in out


def test_audit_show_survives_records_of_the_wrong_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Records edited to hold odd types print what they can, with no traceback."""
    path = tmp_path / "audit.jsonl"
    odd = {"seq": 1, "agent": "x", "item": [1], "frame_chain": 5, "fields": "ab"}
    path.write_text(json.dumps(odd) + "\n" + json.dumps({"seq": 2, "agent": 7}) + "\n")
    assert main(["audit", "show", "--log", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("#") == 2
    assert "#1" in out
    assert "#2" in out
    assert "item " not in out


def test_audit_verify_subprocess_fails_on_tampering(log_path: Path) -> None:
    """`blindfill audit verify` exits non-zero and names the line, no traceback."""
    lines = lines_of(log_path)
    lines[0] = lines[0].replace(b"ci-agent", b"someone")
    write_lines(log_path, lines)
    proc = subprocess.run(
        [sys.executable, "-m", "blindfill", "audit", "verify", "--log", str(log_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == ExitStatus.FAILED
    assert (
        "line 2: the chain breaks here; line 1 or this line was edited" in proc.stderr
    )
    assert "BROKEN" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_audit_commands_on_missing_log(tmp_path: Path) -> None:
    """`audit verify` on a missing log exits 4 with one line, no traceback."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "blindfill",
            "audit",
            "verify",
            "--log",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == ExitStatus.ENVIRONMENT
    assert "[storage_missing]" in proc.stderr
    assert "Traceback" not in proc.stderr
