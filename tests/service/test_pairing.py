"""Pairing over HTTP: token, short code, wrong code, rejection, re-pairing."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from blindfill.agent.link import ApproverLink, pair_browser, saved_approver_url
from blindfill.approver.admin import AdminClient, Desk, ServerInfo
from blindfill.approver.service_pairing import Answer, DeskStatus, OfferView
from blindfill.approver.testing import ScriptedPrompt
from blindfill.channel import Grant
from blindfill.errors import PairingError, UnpairedError, UsageError
from blindfill.sensitive import Secret
from blindfill.transport import ApproverTransport

from .harness import (
    login_request,
    pair_state,
    paired_link,
    run_approver,
)


async def test_token_pairing_pins_the_same_fingerprint(tmp_path: Path) -> None:
    """A token pairs; both sides show one fingerprint; the file is private."""
    state_path = tmp_path / "browser" / "pairing.json"
    async with run_approver(tmp_path) as approver:
        state = await pair_state(approver, state_path, agent_name="report-bot")
        pairing = approver.service.pairing
    assert pairing is not None
    assert pairing.fingerprint == state.fingerprint
    assert pairing.agent_name == "report-bot"
    assert stat.S_IMODE(state_path.stat().st_mode) == 0o600
    assert saved_approver_url(state_path) == approver.url
    names = approver.event_names()
    assert names.index("pairing.requested") < names.index("pairing.confirmed")


async def test_short_code_pairing_then_a_fill(tmp_path: Path) -> None:
    """A typed short code pairs too (through SPAKE2), and fills work after it."""
    state_path = tmp_path / "pairing.json"
    async with run_approver(tmp_path, prompt=ScriptedPrompt(choices=[1])) as approver:
        await pair_state(approver, state_path, use_code=True)
        async with ApproverLink.open(approver.url, state_path=state_path) as link:
            decision = await link.request_fill(**login_request())
    assert isinstance(decision, Grant)


async def test_a_wrong_code_burns_the_offer(tmp_path: Path) -> None:
    """One wrong guess uses the offer up: even the right code fails after it."""
    state_path = tmp_path / "pairing.json"
    async with run_approver(tmp_path) as approver:
        desk = approver.service.desk
        ticket = await desk.open_offer()
        right = ticket.code.reveal()
        wrong = f"{(int(right.replace('-', '')) + 1) % 10**8:08d}"
        async with ApproverTransport(approver.url) as transport:
            with pytest.raises(PairingError) as caught:
                await pair_browser(
                    transport,
                    Secret(wrong),
                    agent_name="guesser",
                    state_path=state_path,
                )
            view = await desk.wait_change(ticket.offer_id, since=None, wait_s=0)
            with pytest.raises(PairingError):
                await pair_browser(
                    transport, Secret(right), agent_name="late", state_path=state_path
                )
        pairing = approver.service.pairing
    assert "wrong or expired" in str(caught.value)
    assert view.status is DeskStatus.FAILED
    assert "did not match" in view.detail
    assert pairing is None
    assert not state_path.exists()


async def test_a_rejected_pairing_saves_nothing(tmp_path: Path) -> None:
    """The person says no: the browser side is told, no state on either side."""
    state_path = tmp_path / "pairing.json"
    async with run_approver(tmp_path) as approver:
        desk = approver.service.desk
        ticket = await desk.open_offer()
        async with ApproverTransport(approver.url) as transport:
            task = asyncio.create_task(
                pair_browser(
                    transport, ticket.token, agent_name="bot", state_path=state_path
                )
            )
            view = await _until(desk, ticket.offer_id, DeskStatus.CONFIRMING)
            assert view.agent_name == "bot"
            await desk.answer(ticket.offer_id, Answer.REJECT)
            with pytest.raises(PairingError) as caught:
                await task
    assert caught.value.code == "pairing_rejected"
    assert approver.service.pairing is None
    assert not state_path.exists()


async def test_no_open_offer_refuses_pairing(tmp_path: Path) -> None:
    """A token for an offer the approver does not hold is refused."""
    async with run_approver(tmp_path / "a") as first, run_approver(tmp_path / "b") as b:
        ticket = await first.service.desk.open_offer()
        async with ApproverTransport(b.url) as transport:
            with pytest.raises(PairingError):
                await pair_browser(
                    transport,
                    ticket.token,
                    agent_name="bot",
                    state_path=tmp_path / "p.json",
                )
        refused = [f for n, f in b.events if n == "pairing.refused"]
    assert refused
    assert refused[0]["error_code"] == "pairing_no_offer"


async def test_repairing_replaces_the_old_device(tmp_path: Path) -> None:
    """After a new pairing, the old browser side is told it is unpaired."""
    prompt = ScriptedPrompt(choices=[1, 1])
    async with run_approver(tmp_path, prompt=prompt) as approver:
        old = await paired_link(approver, tmp_path / "old")
        async with old:
            assert isinstance(await old.request_fill(**login_request()), Grant)
            new = await paired_link(approver, tmp_path / "new")
            async with new:
                assert isinstance(await new.request_fill(**login_request()), Grant)
            with pytest.raises(UnpairedError) as caught:
                await old.request_fill(**login_request())
    assert "pair this browser side again" in str(caught.value)
    unknown = [f for n, f in approver.events if n == "device.unknown"]
    assert [f["error_code"] for f in unknown] == ["pairing_replaced"]
    assert len(prompt.questions) == 2  # the old device never reached a person


async def test_admin_client_drives_the_desk(tmp_path: Path) -> None:
    """`approver pair`'s admin calls open, watch and confirm an offer."""
    token = Secret("admin-test-token-123", kind="admin_token")
    async with run_approver(tmp_path, admin_token=token) as approver:
        admin = AdminClient(ServerInfo(approver.url, 0, token))
        ticket = await admin.open_offer()
        async with ApproverTransport(approver.url) as transport:
            task = asyncio.create_task(
                pair_browser(
                    transport,
                    ticket.code,
                    agent_name="bot",
                    state_path=tmp_path / "p.json",
                )
            )
            view = await _until(admin, ticket.offer_id, DeskStatus.CONFIRMING)
            done = await admin.answer(ticket.offer_id, Answer.CONFIRM)
            state = await task
        await admin.aclose()
    assert view.fingerprint == state.fingerprint
    assert done.status is DeskStatus.PAIRED


async def test_admin_endpoints_need_the_token(tmp_path: Path) -> None:
    """A wrong admin token is refused with a clear error."""
    token = Secret("admin-test-token-123", kind="admin_token")
    async with run_approver(tmp_path, admin_token=token) as approver:
        intruder = AdminClient(ServerInfo(approver.url, 0, Secret("guess")))
        with pytest.raises(UsageError) as caught:
            await intruder.open_offer()
        await intruder.aclose()
    assert caught.value.code == "admin_refused"


async def test_a_browser_side_leaving_cancels_the_confirmation(tmp_path: Path) -> None:
    """If the browser side disconnects while the person decides, it is over."""
    async with run_approver(tmp_path) as approver:
        desk = approver.service.desk
        ticket = await desk.open_offer()
        async with ApproverTransport(approver.url) as transport:
            task = asyncio.create_task(
                pair_browser(
                    transport,
                    ticket.token,
                    agent_name="bot",
                    state_path=tmp_path / "p.json",
                )
            )
            await _until(desk, ticket.offer_id, DeskStatus.CONFIRMING)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        view = await _until(desk, ticket.offer_id, DeskStatus.CANCELLED)
    assert "left" in view.detail
    assert approver.service.pairing is None


async def _until(desk: Desk, offer_id: str, wanted: DeskStatus) -> OfferView:
    view = await desk.wait_change(offer_id, since=None, wait_s=0)
    async with asyncio.timeout(20):
        while view.status is not wanted:
            assert not view.status.final, view
            view = await desk.wait_change(offer_id, since=view.status, wait_s=5)
    return view
