"""Fills over HTTP: grants, declines, limits, locking, waiting, shutdown."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from blindfill.agent.link import ApproverLink
from blindfill.approver.audit import verify_log
from blindfill.approver.decisions import EngineConfig
from blindfill.approver.prompt import UnlockQuestion
from blindfill.approver.testing import HANG, ScriptedPrompt
from blindfill.channel import (
    BrowserChannel,
    Decline,
    DeclineReason,
    FieldRole,
    FormKind,
    Grant,
)
from blindfill.errors import InvalidInputError, RateLimitedError, UnpairedError
from blindfill.pairing_state import load_browser_state
from blindfill.sensitive import Secret
from blindfill.transport import ApproverTransport

from .harness import (
    BANK_ORIGIN,
    BANK_PASSWORD,
    MAIL_ORIGIN,
    MASTER,
    NOWHERE_ORIGIN,
    SECRETS,
    RecordingTransport,
    eventually,
    login_request,
    pair_state,
    paired_link,
    run_approver,
)

# Every request asks again: no multi-step continuation between fills.
ASK_EACH_TIME = EngineConfig(continuation_steps=1)


async def test_a_granted_fill_returns_exactly_the_fields(tmp_path: Path) -> None:
    """Granted: the username and password arrive as Secrets; audit records it."""
    prompt = ScriptedPrompt(choices=[1])
    with capture_logs() as logs:
        async with (
            run_approver(tmp_path, prompt=prompt) as approver,
            await paired_link(approver, tmp_path) as link,
        ):
            decision = await link.request_fill(**login_request())
    assert isinstance(decision, Grant)
    assert decision.values[FieldRole.USERNAME] == Secret("alice")
    assert decision.values[FieldRole.PASSWORD].reveal() == BANK_PASSWORD
    assert prompt.questions[0].origin.startswith("https://bank.test")
    records = [
        json.loads(line) for line in approver.audit_path.read_text().splitlines()
    ]
    assert [r["decision"] for r in records] == ["granted"]
    assert verify_log(approver.audit_path).ok
    for secret in SECRETS:
        assert secret not in repr(logs)
        assert secret not in repr(approver.events)


async def test_a_declined_fill(tmp_path: Path) -> None:
    """The person says no: a Decline, and the next fill still works."""
    prompt = ScriptedPrompt(choices=[None, 1])
    async with (
        run_approver(tmp_path, prompt=prompt, config=ASK_EACH_TIME) as approver,
        await paired_link(approver, tmp_path) as link,
    ):
        first = await link.request_fill(**login_request())
        second = await link.request_fill(**login_request())
    assert first == Decline(DeclineReason.DECLINED)
    assert isinstance(second, Grant)


@pytest.mark.parametrize("no_prompt", [False, True])
async def test_no_match_looks_like_a_decline_on_the_wire(
    tmp_path: Path, no_prompt: bool
) -> None:
    """An origin with no item and a "no" give the same status, size, reason."""
    prompt = ScriptedPrompt(choices=[None, None])
    async with run_approver(
        tmp_path, prompt=prompt, config=ASK_EACH_TIME, no_prompt=no_prompt
    ) as approver:
        state_path = tmp_path / "browser.json"
        await pair_state(approver, state_path)
        transport = RecordingTransport(approver.url)
        async with ApproverLink(
            transport, state_path=state_path, owns_transport=True
        ) as link:
            declined = await link.request_fill(**login_request(BANK_ORIGIN))
            no_match = await link.request_fill(**login_request(NOWHERE_ORIGIN))
    assert declined == no_match == Decline(DeclineReason.DECLINED)
    assert len(transport.received[0]) == len(transport.received[1])
    assert transport.received[0][:2] == transport.received[1][:2]  # version, type
    if not no_prompt:
        # The person saw both; the second with nothing to choose.
        assert [len(q.candidates) for q in prompt.questions] == [1, 0]


async def test_rate_limits_per_origin_and_per_agent(tmp_path: Path) -> None:
    """Security case 13: a request loop is refused per origin, then per agent,
    without asking the person, who is shown the recent counts."""
    config = EngineConfig(continuation_steps=1, max_per_origin=2, max_per_agent=4)
    prompt = ScriptedPrompt(choices=[None] * 10)
    async with (
        run_approver(tmp_path, prompt=prompt, config=config) as approver,
        await paired_link(approver, tmp_path) as link,
    ):
        bank = [await link.request_fill(**login_request()) for _ in range(3)]
        mail = [await link.request_fill(**login_request(MAIL_ORIGIN)) for _ in range(2)]
    limited = Decline(DeclineReason.RATE_LIMITED)
    assert bank[:2] == [Decline(DeclineReason.DECLINED)] * 2
    assert bank[2] == limited  # third for one origin
    assert mail[0] == Decline(DeclineReason.DECLINED)
    assert mail[1] == limited  # the agent's fifth request, over its four
    assert len(prompt.questions) == 3  # the refused ones never reached a person
    assert prompt.questions[1].origin_recent == 2
    assert prompt.questions[2].agent_recent == 4
    records = approver.audit_path.read_text().count('"decision":"rate_limited"')
    assert records == 2


class GatedPrompt(ScriptedPrompt):
    """Answers the unlock question only once `gate` is set."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.gate = asyncio.Event()

    async def ask_unlock(self, question: UnlockQuestion) -> Secret[str] | None:
        self.unlock_questions.append(question)
        await self.gate.wait()
        return Secret(MASTER)


async def test_a_locked_approver_holds_the_request_until_unlocked(
    tmp_path: Path,
) -> None:
    """Locked: the request waits, the browser side warns it is slow, then the
    person unlocks and approves, and the fill goes through."""
    prompt = GatedPrompt(choices=[1])
    slow = asyncio.Event()
    async with run_approver(tmp_path, prompt=prompt, locked=True) as approver:
        link = await paired_link(approver, tmp_path, slow_after=0.2, on_slow=slow.set)
        async with link:
            with capture_logs() as logs:
                fill = asyncio.create_task(link.request_fill(**login_request()))
                async with asyncio.timeout(10):
                    await slow.wait()
                assert not fill.done()
                prompt.gate.set()
                decision = await fill
    assert isinstance(decision, Grant)
    assert prompt.unlock_questions
    warnings = [e for e in logs if e["event"] == "approval.slow"]
    assert warnings
    assert warnings[0]["log_level"] == "warning"
    assert "may be locked" in warnings[0]["message"]
    waiting = [f["stage"] for n, f in approver.events if n == "fill.waiting"]
    assert "locked" in waiting


async def test_a_locked_approver_nobody_unlocks_declines_as_locked(
    tmp_path: Path,
) -> None:
    """Nobody unlocks in time: a `locked` decline, audited."""
    prompt = ScriptedPrompt(passwords=[HANG])
    config = EngineConfig(decision_timeout=0.5)
    async with (
        run_approver(tmp_path, prompt=prompt, locked=True, config=config) as approver,
        await paired_link(approver, tmp_path) as link,
    ):
        decision = await link.request_fill(**login_request())
    assert decision == Decline(DeclineReason.LOCKED)
    assert '"decision":"locked"' in approver.audit_path.read_text()


async def test_fills_of_one_pairing_wait_their_turn(tmp_path: Path) -> None:
    """While one fill waits for the person, others queue, and a full queue is
    refused with 429 at once."""
    prompt = ScriptedPrompt(choices=[HANG])
    async with run_approver(tmp_path, prompt=prompt, max_waiting_fills=1) as approver:
        state_path = tmp_path / "browser.json"
        await pair_state(approver, state_path)
        state = load_browser_state(state_path)
        assert state is not None
        channel = BrowserChannel(state, clock=time.time)
        frames = [
            channel.start_fill(
                channel.new_request(
                    frame_origin=BANK_ORIGIN,
                    top_origin=BANK_ORIGIN,
                    form_kind=FormKind.LOGIN,
                    fields=(FieldRole.PASSWORD,),
                    reason="queue test",
                )
            ).frame
            for _ in range(3)
        ]
        async with ApproverTransport(approver.url) as transport:
            first = asyncio.create_task(
                transport.post_fill(frames[0], answer_timeout=30)
            )
            await eventually(lambda: prompt.questions)
            second = asyncio.create_task(
                transport.post_fill(frames[1], answer_timeout=30)
            )
            await asyncio.sleep(0.2)
            with pytest.raises(RateLimitedError) as caught:
                await transport.post_fill(frames[2], answer_timeout=30)
            assert not second.done()
            first.cancel()
            second.cancel()
            await asyncio.gather(first, second, return_exceptions=True)
    assert caught.value.code == "approver_busy"
    assert len(prompt.questions) == 1


async def test_shutdown_declines_and_audits_waiting_fills(tmp_path: Path) -> None:
    """Closing the service answers a fill still waiting for the person with a
    decline, after its audit record, and the pairing survives a restart."""
    prompt = ScriptedPrompt(choices=[HANG])
    state_path = tmp_path / "browser.json"
    async with run_approver(tmp_path, prompt=prompt) as approver:
        await pair_state(approver, state_path)
        link = ApproverLink.open(approver.url, state_path=state_path)
        fill = asyncio.create_task(link.request_fill(**login_request()))
        await eventually(lambda: prompt.questions)
        await approver.service.close()
        decision = await fill
        await link.aclose()
    assert decision == Decline(DeclineReason.DECLINED)
    records = [json.loads(x) for x in approver.audit_path.read_text().splitlines()]
    assert [(r["decision"], r["decided_by"]) for r in records] == [
        ("declined", "cancelled")
    ]
    assert verify_log(approver.audit_path).ok

    async with (
        run_approver(tmp_path, prompt=ScriptedPrompt(choices=[1])) as again,
        ApproverLink.open(again.url, state_path=state_path) as link,
    ):
        assert isinstance(await link.request_fill(**login_request()), Grant)


async def test_an_unpaired_approver_refuses_fills(tmp_path: Path) -> None:
    """A browser side paired elsewhere gets UnpairedError from a fresh approver."""
    async with run_approver(tmp_path / "one") as one:
        link = await paired_link(one, tmp_path)
    async with (
        run_approver(tmp_path / "two") as two,
        ApproverLink.open(two.url, state_path=link.state_path) as moved,
    ):
        with pytest.raises(UnpairedError):
            await moved.request_fill(**login_request())
    assert "device.unknown" in two.event_names()
    await link.aclose()


@pytest.mark.parametrize(
    "overrides",
    [
        {"form_kind": "signup"},
        {"fields": ("username", "credit_card")},
        {"frame_origin": "null", "top_origin": "null"},
        {"frame_origin": "https://bank.test/login?next=1"},
    ],
)
async def test_malformed_requests_are_refused_before_sending(
    tmp_path: Path, overrides: dict[str, object]
) -> None:
    """A request breaking the schema is an InvalidInputError; nothing is sent."""
    prompt = ScriptedPrompt(choices=[1])
    async with (
        run_approver(tmp_path, prompt=prompt) as approver,
        await paired_link(approver, tmp_path) as link,
    ):
        with pytest.raises(InvalidInputError):
            await link.request_fill(**login_request(**overrides))
        assert isinstance(await link.request_fill(**login_request()), Grant)
    assert len(prompt.questions) == 1
    assert "fill.received" in approver.event_names()
