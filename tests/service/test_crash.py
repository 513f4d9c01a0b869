"""Security case 32 and shutdown: `blindfill approver serve` killed or stopped."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from blindfill.agent.link import ApproverLink
from blindfill.approver.audit import verify_log
from blindfill.channel import Decline, DeclineReason, Grant
from blindfill.errors import ApproverUnreachableError

from .harness import SECRETS, login_request, pair_state, run_approver
from .process import ServeProcess, free_port, run_cli

PROMPT = "Fill with item [1]"

pytestmark = pytest.mark.slow


async def _paired(tmp_path: Path) -> Path:
    """Pair a browser side with the approver files in `tmp_path`."""
    state_path = tmp_path / "browser.json"
    async with run_approver(tmp_path) as approver:
        await pair_state(approver, state_path)
    return state_path


def _records(audit_path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in audit_path.read_text().splitlines()]


@pytest.mark.parametrize("step", ["received", "prompting", "decided", "answered"])
async def test_kill_9_at_any_step_of_a_fill(tmp_path: Path, step: str) -> None:
    """Security case 32: the approver killed with SIGKILL at a step of a fill
    restarts, the next fill works without pairing again, and every audit
    record written survives, its chain intact."""
    state_path = await _paired(tmp_path)
    port = free_port()
    frozen = {} if step == "prompting" else {"BLINDFILL_DEBUG_STOP_AT": step}
    first = ServeProcess(tmp_path, port=port, env=frozen)
    await first.start()
    link = ApproverLink.open(first.url, state_path=state_path)
    fill = asyncio.create_task(link.request_fill(**login_request()))

    if step != "received":
        await first.wait_stderr(PROMPT)
        if step != "prompting":
            await first.type_line("1")  # approve, then die
    if step != "prompting":
        await first.wait_frozen()
    await first.kill9()
    with pytest.raises(ApproverUnreachableError):
        await fill

    second = ServeProcess(tmp_path, port=port)
    await second.start()
    retry = asyncio.create_task(link.request_fill(**login_request()))
    await second.wait_stderr(PROMPT)
    await second.type_line("1")
    decision = await retry
    await link.aclose()
    assert await second.terminate() == 0

    assert isinstance(decision, Grant)
    # A request the kill interrupted before its decision is audited as such
    # when the approver starts again; a decided one keeps its own record.
    first_record = (
        ("granted", "person")
        if step in ("decided", "answered")
        else ("declined", "interrupted")
    )
    records = _records(first.audit_path)
    assert [(r["decision"], r["decided_by"]) for r in records] == [
        first_record,
        ("granted", "person"),
    ]
    assert records[0]["origin"] == "https://bank.test"
    assert verify_log(first.audit_path).ok
    status, out, _err = await run_cli(
        "audit", "verify", "--log", str(first.audit_path), env=second.env
    )
    assert status == 0
    assert "chain intact" in out
    for output in (first.stdout, first.stderr, second.stdout, second.stderr):
        for secret in SECRETS:
            assert secret not in output


async def test_sigterm_declines_and_audits_a_waiting_fill(tmp_path: Path) -> None:
    """SIGTERM while a person is asked: the fill is answered with a decline,
    its audit record is written, and the process exits 0."""
    state_path = await _paired(tmp_path)
    server = ServeProcess(tmp_path, port=free_port())
    await server.start()
    async with ApproverLink.open(server.url, state_path=state_path) as link:
        fill = asyncio.create_task(link.request_fill(**login_request()))
        await server.wait_stderr(PROMPT)
        status = await server.terminate()
        decision = await fill
    assert status == 0
    assert decision == Decline(DeclineReason.DECLINED)
    records = _records(server.audit_path)
    assert [(r["decision"], r["decided_by"]) for r in records] == [
        ("declined", "cancelled")
    ]
    assert verify_log(server.audit_path).ok
    names = [e["event"] for e in server.events]
    assert names.index("service.stopping") < names.index("service.stopped")
    assert "Traceback" not in server.stderr
