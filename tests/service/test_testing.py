"""The in-process approver for tests and demos."""

from __future__ import annotations

from pathlib import Path

from blindfill.agent.link import ApproverLink
from blindfill.approver.items import Item
from blindfill.approver.policy import Policy
from blindfill.approver.service_testing import pair_in_process, serve_test_approver
from blindfill.approver.testing import ScriptedPrompt
from blindfill.channel import Decline, DeclineReason, FieldRole, Grant
from blindfill.sensitive import Secret

from .harness import BANK_ORIGIN, BANK_PASSWORD, login_request

BANK = Item(
    id="bank1",
    title="Bank",
    username="alice",
    password=Secret(BANK_PASSWORD, kind="password"),
    urls=(BANK_ORIGIN,),
)


async def test_a_test_approver_pairs_and_fills(tmp_path: Path) -> None:
    """`serve_test_approver` and `pair_in_process` give a working link."""
    async with serve_test_approver(
        items=[BANK],
        state_dir=tmp_path / "approver",
        audit_path=tmp_path / "audit.jsonl",
        prompt=ScriptedPrompt(choices=[1]),
    ) as running:
        state = await pair_in_process(running, tmp_path / "b.json", use_code=True)
        async with ApproverLink.open(
            running.url, state_path=tmp_path / "b.json"
        ) as link:
            decision = await link.request_fill(**login_request())
    assert state.agent_name == "test-agent"
    assert isinstance(decision, Grant)
    assert decision.values[FieldRole.PASSWORD].reveal() == BANK_PASSWORD


async def test_policy_only_approver(tmp_path: Path) -> None:
    """Without a prompt, a policy rule grants and everything else declines."""
    policy = Policy.parse(
        'version = 1\n[[rule]]\nname = "bank"\nagent = "test-agent"\n'
        f'origins = ["{BANK_ORIGIN}"]\n'
    )
    async with serve_test_approver(
        items=[BANK],
        state_dir=tmp_path / "approver",
        audit_path=tmp_path / "audit.jsonl",
        policy=policy,
    ) as running:
        await pair_in_process(running, tmp_path / "b.json")
        async with ApproverLink.open(
            running.url, state_path=tmp_path / "b.json"
        ) as link:
            granted = await link.request_fill(**login_request())
            declined = await link.request_fill(**login_request("https://mail.test"))
    assert isinstance(granted, Grant)
    assert declined == Decline(DeclineReason.DECLINED)
    assert '"decided_by":"rule:bank"' in (tmp_path / "audit.jsonl").read_text()
