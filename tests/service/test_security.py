"""Security cases 26-31 at the approver service, over real HTTP."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from blindfill.agent.link import ApproverLink
from blindfill.approver.decisions import EngineConfig
from blindfill.approver.testing import HANG, ScriptedPrompt
from blindfill.channel import (
    BrowserChannel,
    BrowserState,
    FieldRole,
    FormKind,
    FrameType,
    Grant,
    NoticeReason,
    decode_frame,
)
from blindfill.errors import (
    AuthenticationError,
    BlindfillError,
    RemoteError,
    TimeoutFault,
    UnpairedError,
)
from blindfill.pairing_state import APPROVER_STATE_FILE, load_browser_state
from blindfill.transport.protocol import FILL_PATH, FRAME_CONTENT_TYPE

from .conftest import DHCounter
from .harness import (
    BANK_ORIGIN,
    Approver,
    RecordingTransport,
    eventually,
    login_request,
    pair_state,
    run_approver,
)
from .relay import DROP, TAMPER, run_relay

ASK_EACH_TIME = EngineConfig(continuation_steps=1)


def message_1(state: BrowserState) -> bytes:
    """A fresh, valid fill message 1 from `state`, without saving anything."""
    channel = BrowserChannel(state, clock=time.time)
    request = channel.new_request(
        frame_origin=BANK_ORIGIN,
        top_origin=BANK_ORIGIN,
        form_kind=FormKind.LOGIN,
        fields=(FieldRole.USERNAME, FieldRole.PASSWORD),
        reason="forged or replayed",
    )
    return channel.start_fill(request).frame


async def post_raw(
    url: str, body: bytes, content_type: str = FRAME_CONTENT_TYPE
) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False) as client:
        return await client.post(
            url + FILL_PATH, content=body, headers={"content-type": content_type}
        )


def notice_of(response: httpx.Response) -> NoticeReason:
    frame = decode_frame(response.content)
    assert frame.header.type is FrameType.NOTICE
    return NoticeReason(frame.body[0])


def approver_state_bytes(approver: Approver) -> bytes:
    return (approver.state_dir / APPROVER_STATE_FILE).read_bytes()


def browser_state(path: Path) -> BrowserState:
    state = load_browser_state(path)
    assert state is not None
    return state


async def test_replayed_message_1_is_refused_without_a_prompt(
    tmp_path: Path,
) -> None:
    """Security case 26: the same message 1 again, in its epoch or after the
    chain moved on, is refused and never reaches the person."""
    prompt = ScriptedPrompt(choices=[1, 1, 1])
    state_path = tmp_path / "browser.json"
    async with run_approver(tmp_path, prompt=prompt, config=ASK_EACH_TIME) as approver:
        await pair_state(approver, state_path)
        transport = RecordingTransport(approver.url)
        async with ApproverLink(
            transport, state_path=state_path, owns_transport=True
        ) as link:
            await link.request_fill(**login_request())
            captured = transport.sent[0]
            same_epoch = await post_raw(approver.url, captured)
            await link.request_fill(**login_request())  # the chain moves on
            await link.request_fill(**login_request())
            old_epoch = await post_raw(approver.url, captured)
    assert (same_epoch.status_code, notice_of(same_epoch)) == (
        403,
        NoticeReason.REFUSED,
    )
    assert (old_epoch.status_code, notice_of(old_epoch)) == (403, NoticeReason.REFUSED)
    assert len(prompt.questions) == 3  # the honest fills only
    refused = [f["error_code"] for n, f in approver.events if n == "fill.refused"]
    assert refused == ["replayed", "stale_epoch"]


async def test_a_replay_is_refused_after_a_restart(tmp_path: Path) -> None:
    """Security case 26: message 1 seen before a restart (while the person
    was still deciding) is refused after it, without a prompt."""
    state_path = tmp_path / "browser.json"
    async with run_approver(tmp_path, prompt=ScriptedPrompt(choices=[HANG])) as first:
        await pair_state(first, state_path)
        captured = message_1(browser_state(state_path))
        pending = asyncio.create_task(post_raw(first.url, captured))
        await eventually(lambda: first.prompt.questions)
    pending.cancel()
    await asyncio.gather(pending, return_exceptions=True)

    prompt = ScriptedPrompt(choices=[1])
    async with run_approver(tmp_path, prompt=prompt) as second:
        replay = await post_raw(second.url, captured)
    assert replay.status_code == 403
    assert prompt.questions == []


async def test_a_dropped_message_2_times_out_and_the_retry_works(
    tmp_path: Path,
) -> None:
    """Security case 27: message 2 held back by the relay: the browser side
    times out with a clear error; the next attempt succeeds, no re-pairing."""
    prompt = ScriptedPrompt(choices=[1, 1])
    state_path = tmp_path / "browser.json"
    async with run_approver(tmp_path, prompt=prompt, config=ASK_EACH_TIME) as approver:
        await pair_state(approver, state_path)
        async with (
            run_relay(approver.url, DROP) as (relay, relay_url),
            ApproverLink.open(
                relay_url, state_path=state_path, response_timeout=1.0
            ) as link,
        ):
            with pytest.raises(TimeoutFault) as caught:
                await link.request_fill(**login_request())
        assert relay.answers, "the approver did answer; the relay dropped it"
        async with ApproverLink.open(approver.url, state_path=state_path) as link:
            decision = await link.request_fill(**login_request())
    assert "nothing was filled" in str(caught.value)
    assert "retries without pairing" in str(caught.value)
    assert isinstance(decision, Grant)


async def test_a_slow_person_times_out_the_client_and_is_withdrawn(
    tmp_path: Path,
) -> None:
    """Security case 27: the browser side gives up while the person has not
    answered; the prompt is withdrawn (audited), and the next fill works."""
    prompt = ScriptedPrompt(choices=[HANG, 1])
    async with run_approver(tmp_path, prompt=prompt, config=ASK_EACH_TIME) as approver:
        state_path = tmp_path / "browser.json"
        await pair_state(approver, state_path)
        async with ApproverLink.open(
            approver.url, state_path=state_path, response_timeout=0.5
        ) as link:
            with pytest.raises(TimeoutFault):
                await link.request_fill(**login_request())
            await eventually(lambda: "fill.withdrawn" in approver.event_names())
        async with ApproverLink.open(approver.url, state_path=state_path) as again:
            link_decision = await again.request_fill(**login_request())
    assert isinstance(link_decision, Grant)
    assert '"decided_by":"cancelled"' in approver.audit_path.read_text()


@pytest.mark.parametrize(
    ("where", "offset", "status"),
    [
        ("version", 0, 400),
        ("type", 1, 400),
        ("pairing id", 5, 403),
        ("epoch", 25, 403),
        ("length", 27, 400),
        ("ephemeral key", 40, 403),
        ("payload", 200, 403),
        ("tag", -1, 403),
    ],
)
async def test_tampered_message_1_is_refused_and_changes_nothing(
    tmp_path: Path, where: str, offset: int, status: int
) -> None:
    """Security case 28: one flipped bit anywhere in message 1 is refused,
    the approver's state file is unchanged and nobody is asked."""
    prompt = ScriptedPrompt(choices=[1])
    state_path = tmp_path / "browser.json"
    async with run_approver(tmp_path, prompt=prompt) as approver:
        await pair_state(approver, state_path)
        frame = bytearray(message_1(browser_state(state_path)))
        frame[offset] ^= 0x01
        before = approver_state_bytes(approver)
        response = await post_raw(approver.url, bytes(frame))
        after = approver_state_bytes(approver)
        # The honest browser side is unaffected.
        async with ApproverLink.open(approver.url, state_path=state_path) as link:
            honest = await link.request_fill(**login_request())
    assert response.status_code == status, where
    assert decode_frame(response.content).header.type is FrameType.NOTICE
    assert before == after
    assert len(prompt.questions) == 1  # only the honest fill
    assert isinstance(honest, Grant)


@pytest.mark.parametrize("offset", [0, 1, 30, 100, -1])
async def test_tampered_message_2_is_refused_and_the_retry_works(
    tmp_path: Path, offset: int
) -> None:
    """Security case 28: a flipped bit in message 2 is refused by the browser
    side, its state file is unchanged, and the next fill works."""
    prompt = ScriptedPrompt(choices=[1, 1])
    state_path = tmp_path / "browser.json"
    async with run_approver(tmp_path, prompt=prompt, config=ASK_EACH_TIME) as approver:
        await pair_state(approver, state_path)
        async with run_relay(approver.url, TAMPER) as (relay, relay_url):
            relay.tamper_at = offset
            link = ApproverLink.open(relay_url, state_path=state_path)
            with pytest.raises(BlindfillError) as caught:
                await link.request_fill(**login_request())
            saved = state_path.read_bytes()
            await link.aclose()
        async with ApproverLink.open(approver.url, state_path=state_path) as honest:
            decision = await honest.request_fill(**login_request())
    assert isinstance(caught.value, RemoteError)
    assert browser_state(state_path).epoch >= 1
    assert b'"retry_token":null' not in saved  # still the pre-answer state
    assert isinstance(decision, Grant)


async def test_old_device_and_strangers_are_refused_and_logged(
    tmp_path: Path,
) -> None:
    """Security case 29: a device paired with another approver, and one that
    forges the current pairing id without its keys, are refused at message 1;
    the unknown device is logged, and nobody is asked."""
    prompt = ScriptedPrompt(choices=[1])
    async with run_approver(tmp_path / "other") as other:
        stranger_path = tmp_path / "stranger.json"
        await pair_state(other, stranger_path)
    stranger = browser_state(stranger_path)

    async with run_approver(tmp_path / "mine", prompt=prompt) as approver:
        await pair_state(approver, tmp_path / "mine.json")
        mine = browser_state(tmp_path / "mine.json")
        before = approver_state_bytes(approver)
        unknown = await post_raw(approver.url, message_1(stranger))
        forged_state = BrowserState(
            pairing_id=mine.pairing_id,
            agent_name="forger",
            approver_name=mine.approver_name,
            static_key=stranger.static_key,
            approver_key=mine.approver_key,
            epoch=mine.epoch,
            chain_link=stranger.chain_link,
        )
        forged = await post_raw(approver.url, message_1(forged_state))
        after = approver_state_bytes(approver)
    assert (unknown.status_code, notice_of(unknown)) == (403, NoticeReason.UNPAIRED)
    assert (forged.status_code, notice_of(forged)) == (403, NoticeReason.REFUSED)
    logged = [f for n, f in approver.events if n == "device.unknown"]
    assert [f["error_code"] for f in logged] == ["pairing_unknown"]
    assert logged[0]["pairing"] == stranger.pairing_id.hex()[:8]
    assert before == after
    assert prompt.questions == []


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("empty", b"", 400),
        ("truncated header", b"\x01\x10" + bytes(10), 400),
        ("header only", b"\x01\x10" + bytes(26), 400),
        ("wrong version", b"\x02\x10" + bytes(26 + 560), 400),
        ("unknown type", b"\x01\x7f" + bytes(26), 400),
        ("garbage", os.urandom(600), 400),
        ("oversized", b"\x01\x10" + bytes(70_000), 413),
    ],
)
async def test_malformed_frames_are_refused_before_any_dh(
    tmp_path: Path, dh_counter: DHCounter, name: str, body: bytes, status: int
) -> None:
    """Security case 30: bad frames get a clear status and a NOTICE, with no
    Diffie-Hellman work, no prompt and no state change; the service lives on."""
    prompt = ScriptedPrompt(choices=[1])
    async with run_approver(tmp_path, prompt=prompt) as approver:
        await pair_state(approver, tmp_path / "browser.json")
        before = approver_state_bytes(approver)
        dh_counter.calls = 0
        response = await post_raw(approver.url, body)
        dh_calls = dh_counter.calls
        after = approver_state_bytes(approver)
        async with ApproverLink.open(
            approver.url, state_path=tmp_path / "browser.json"
        ) as link:
            still_works = await link.request_fill(**login_request())
    assert response.status_code == status, name
    assert notice_of(response) is NoticeReason.REFUSED
    assert dh_calls == 0
    assert before == after
    assert isinstance(still_works, Grant)
    refused = [f["error_code"] for n, f in approver.events if n == "fill.refused"]
    assert refused
    assert refused[0].startswith("frame_")


async def test_an_oversized_content_length_is_refused_unread(tmp_path: Path) -> None:
    """Security case 30: a huge announced body gets 413 before it is sent."""
    from tests.transport.helpers import raw_exchange, status_of

    async with run_approver(tmp_path) as approver:
        head = (
            f"POST {FILL_PATH} HTTP/1.1\r\nhost: x\r\n"
            f"content-type: {FRAME_CONTENT_TYPE}\r\n"
            "content-length: 1000000000\r\n\r\n"
        ).encode()
        response = await raw_exchange(approver.running.port, head)
    assert status_of(response) == 413


async def test_wrong_content_type_is_refused(tmp_path: Path) -> None:
    """A frame sent as another media type is refused with 415."""
    async with run_approver(tmp_path) as approver:
        response = await post_raw(approver.url, b"\x01\x10", "text/plain")
    assert response.status_code == 415


async def test_stolen_state_is_useless_after_an_honest_fill(tmp_path: Path) -> None:
    """Security case 31: a copy of the browser-side state taken before an
    honest fill is refused afterwards, without a prompt."""
    prompt = ScriptedPrompt(choices=[1, 1])
    state_path = tmp_path / "browser.json"
    stolen_path = tmp_path / "stolen.json"
    async with run_approver(tmp_path, prompt=prompt, config=ASK_EACH_TIME) as approver:
        await pair_state(approver, state_path)
        shutil.copy(state_path, stolen_path)
        async with ApproverLink.open(approver.url, state_path=state_path) as honest:
            assert isinstance(await honest.request_fill(**login_request()), Grant)
            async with ApproverLink.open(approver.url, state_path=stolen_path) as thief:
                with pytest.raises(AuthenticationError) as after_one:
                    await thief.request_fill(**login_request())
                assert isinstance(await honest.request_fill(**login_request()), Grant)
                with pytest.raises(AuthenticationError):
                    await thief.request_fill(**login_request())
    assert after_one.value.code == "refused_by_approver"
    assert len(prompt.questions) == 2  # the honest fills only
    refused = [f["error_code"] for n, f in approver.events if n == "fill.refused"]
    assert refused == ["chain_superseded", "stale_epoch"]


async def test_a_browser_side_restarted_mid_fill_retries(tmp_path: Path) -> None:
    """Security case 32 (browser side): a browser side that died after sending
    message 1 restarts from its state file and its next fill works."""
    prompt = ScriptedPrompt(choices=[1, 1])
    state_path = tmp_path / "browser.json"
    async with run_approver(tmp_path, prompt=prompt, config=ASK_EACH_TIME) as approver:
        await pair_state(approver, state_path)
        async with run_relay(approver.url, DROP) as (relay, relay_url):
            crashed = ApproverLink.open(relay_url, state_path=state_path)
            fill = asyncio.create_task(crashed.request_fill(**login_request()))
            await relay.forwarded.wait()  # the approver answered and saved
            fill.cancel()  # the process dies before reading message 2
            await asyncio.gather(fill, return_exceptions=True)
            await crashed.aclose()
        async with ApproverLink.open(approver.url, state_path=state_path) as restarted:
            decision = await restarted.request_fill(**login_request())
    assert isinstance(decision, Grant)


async def test_unpaired_answer_keeps_the_browser_state(tmp_path: Path) -> None:
    """An "unpaired" notice is unauthenticated: the state file stays."""
    async with run_approver(tmp_path / "a") as first:
        state_path = tmp_path / "browser.json"
        await pair_state(first, state_path)
    before = browser_state(state_path)
    async with (
        run_approver(tmp_path / "b") as second,
        ApproverLink.open(second.url, state_path=state_path) as link,
    ):
        with pytest.raises(UnpairedError):
            await link.request_fill(**login_request())
    kept = browser_state(state_path)
    assert (kept.pairing_id, kept.epoch) == (before.pairing_id, before.epoch)
