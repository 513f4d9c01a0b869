"""Fills: KKpsk0 per request, the key chain, replay and tamper resistance."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from blindfill.channel import (
    ApproverChannel,
    BrowserChannel,
    Decline,
    DeclineReason,
    FieldRole,
    FillStatus,
    FormKind,
    Grant,
    decode_frame,
    refusal_frame,
)
from blindfill.channel._frames import HEADER_SIZE
from blindfill.channel._keys import KeyPair, fill_psk
from blindfill.channel._noise import FILL_PROTOCOL, NoiseHandshake
from blindfill.channel.testing import ChannelPair, SeededEntropy
from blindfill.errors import (
    AuthenticationError,
    LocalProtocolError,
    RemoteError,
    RemoteProtocolError,
    ReplayError,
)
from blindfill.sensitive import Secret
from tests.channel.conftest import DHCounter

PASSWORD = {FieldRole.USERNAME: "alice", FieldRole.PASSWORD: "correct-horse-42"}


def _with_epoch(frame: bytes, epoch: int) -> bytes:
    """The same frame with another epoch written into its header."""
    return frame[:18] + struct.pack(">Q", epoch) + frame[26:]


# --- the ordinary path ------------------------------------------------------


def test_grant_reaches_the_browser_side_and_both_advance(pair: ChannelPair) -> None:
    """A granted fill delivers the values and moves both sides to the next link."""
    before = pair.browser_state
    outcome = pair.fill(PASSWORD)

    assert isinstance(outcome.decision, Grant)
    values = {r: v.reveal() for r, v in outcome.decision.values.items()}
    assert values == PASSWORD
    assert outcome.state.epoch == before.epoch + 1
    assert outcome.state.chain_link != before.chain_link
    assert outcome.state.retry_token is None
    # The approver keeps the current link and the next one until it is used.
    approver = pair.approver_state
    assert approver.epoch == before.epoch
    assert approver.chain_link == before.chain_link
    assert approver.next_link is not None
    assert approver.next_link.chain_link == outcome.state.chain_link


def test_using_the_next_link_deletes_the_old_one(pair: ChannelPair) -> None:
    """When the browser side uses the next link, the approver drops the old one."""
    first_link = pair.approver_state.chain_link
    pair.fill(PASSWORD)
    pair.fill()
    approver = pair.approver_state
    assert approver.epoch == 1
    assert approver.chain_link != first_link
    assert approver.next_link is not None
    assert approver.next_link.chain_link == pair.browser_state.chain_link
    assert all(w.epoch >= 1 for w in approver.windows)
    serialised = approver.to_bytes() + pair.browser_state.to_bytes()
    assert first_link.reveal() not in serialised


def test_hundred_fills_stay_in_step(pair: ChannelPair) -> None:
    """Many fills in a row keep both sides on the same chain."""
    for i in range(100):
        pair.clock.advance(1)
        outcome = pair.fill(PASSWORD if i % 2 else None)
        assert outcome.granted == bool(i % 2)
    assert pair.browser_state.epoch == 100


def test_declines_look_the_same_whatever_the_cause(pair: ChannelPair) -> None:
    """ "No item matched" and "the human said no" give the same reason and size."""
    grant = pair.fill(PASSWORD)
    no_match = pair.fill(decline=DeclineReason.DECLINED)
    said_no = pair.fill(decline=DeclineReason.DECLINED)
    assert no_match.decision == said_no.decision == Decline(DeclineReason.DECLINED)
    sizes = {len(frame) for frame in pair.frames[1::2]}
    assert len(sizes) == 1, "grant and declines differ in size on the wire"
    assert grant.granted


@pytest.mark.parametrize("reason", list(DeclineReason))
def test_each_decline_reason_arrives(pair: ChannelPair, reason: DeclineReason) -> None:
    """Rate-limited and locked declines are told apart from a plain decline."""
    assert pair.fill(decline=reason).decision == Decline(reason)


def test_request_reaches_the_approver_unchanged(pair: ChannelPair) -> None:
    """The approver sees exactly the request the browser side built."""
    request = pair.browser.new_request(
        frame_origin="https://login.bank.test",
        top_origin="https://bank.test",
        form_kind=FormKind.ONE_TIME_CODE_STEP,
        fields=(FieldRole.ONE_TIME_CODE,),
        reason="finish signing in (code step)",
    )
    start = pair.browser.start_fill(request)
    pending = pair.approver.receive(start.frame)
    assert pending.request == request
    assert pending.request.frame_chain == (
        "https://bank.test",
        "https://login.bank.test",
    )


def test_answer_can_come_a_minute_later(pair: ChannelPair) -> None:
    """The human may take a minute; the pending request can still be answered."""
    start = pair.browser.start_fill(pair.request())
    pending = pair.approver.receive(start.frame)
    pair.clock.advance(90)
    reply = pending.grant({FieldRole.PASSWORD: Secret("later")})
    assert start.pending.receive(reply.frame).granted


def test_approver_cannot_grant_a_field_nobody_asked_for(pair: ChannelPair) -> None:
    """A grant for a role not in the request is refused before anything changes."""
    start = pair.browser.start_fill(pair.request(fields=(FieldRole.USERNAME,)))
    pending = pair.approver.receive(start.frame)
    before = pair.approver_state
    with pytest.raises(LocalProtocolError) as caught:
        pending.grant({FieldRole.PASSWORD: Secret("nope")})
    assert caught.value.code == "grant_unrequested"
    assert pair.approver_state == before
    assert pending.status is FillStatus.WAITING


def test_browser_side_refuses_values_it_did_not_ask_for(pair: ChannelPair) -> None:
    """Security case 10: an approver granting an unrequested role is refused."""
    start = pair.browser.start_fill(pair.request(fields=(FieldRole.USERNAME,)))
    pending = pair.approver.receive(start.frame)
    # Bypass the approver's own check, as a hostile approver would.
    reply = pending._answer(Grant({FieldRole.PASSWORD: Secret("smuggled")}))
    before = pair.browser_state
    with pytest.raises(RemoteProtocolError) as caught:
        start.pending.receive(reply.frame)
    assert caught.value.code == "grant_unrequested"
    assert pair.browser_state == before


def test_answering_twice_is_misuse(pair: ChannelPair) -> None:
    """A pending request can be answered once."""
    start = pair.browser.start_fill(pair.request())
    pending = pair.approver.receive(start.frame)
    pending.decline()
    with pytest.raises(LocalProtocolError):
        pending.decline()


# --- replay -----------------------------------------------------------------


def test_replayed_message_one_in_the_same_epoch_is_refused(pair: ChannelPair) -> None:
    """Security case 26: a replay in the same epoch is refused without a prompt."""
    start = pair.browser.start_fill(pair.request())
    pending = pair.approver.receive(start.frame)
    # While the human is still deciding ...
    with pytest.raises(ReplayError) as caught:
        pair.approver.receive(start.frame)
    assert caught.value.code == "replayed"
    # ... and after the answer.
    start.pending.receive(pending.grant({FieldRole.PASSWORD: Secret("x")}).frame)
    with pytest.raises(ReplayError):
        pair.approver.receive(start.frame)


def test_replay_from_an_older_epoch_is_refused(pair: ChannelPair) -> None:
    """Security case 26: message 1 of an earlier epoch is refused."""
    pair.fill(PASSWORD)
    old = pair.frames[0]
    pair.fill()  # the approver moves to epoch 1
    before = pair.approver_state
    with pytest.raises(ReplayError) as caught:
        pair.approver.receive(old)
    assert caught.value.code == "stale_epoch"
    # Rewriting the epoch in the header only breaks authentication.
    with pytest.raises(AuthenticationError):
        pair.approver.receive(_with_epoch(old, before.epoch))
    assert pair.approver_state == before


def test_request_outside_the_clock_window_is_refused(pair: ChannelPair) -> None:
    """A request stamped more than 120 s away from the approver's clock is refused."""
    start = pair.browser.start_fill(pair.request())
    pair.clock.advance(121)
    with pytest.raises(ReplayError) as caught:
        pair.approver.receive(start.frame)
    assert caught.value.code == "stale_timestamp"

    pair.clock.advance(-121 - 121)  # now the request is from the future
    with pytest.raises(ReplayError):
        pair.approver.receive(start.frame)


def test_timestamps_must_increase_inside_an_epoch(pair: ChannelPair) -> None:
    """An older request arriving after a newer one in the same epoch is refused."""
    older = pair.request()
    pair.clock.advance(1)
    newer = pair.request()
    second = pair.browser.start_fill(newer)
    pair.approver.receive(second.frame)
    first = pair.browser.start_fill(older)
    with pytest.raises(ReplayError) as caught:
        pair.approver.receive(first.frame)
    assert caught.value.code == "timestamp_regressed"


def test_future_epoch_is_refused_before_diffie_hellman(
    pair: ChannelPair, dh_counter: DHCounter
) -> None:
    """An epoch beyond what the approver holds is refused from the header alone."""
    start = pair.browser.start_fill(pair.request())
    dh_counter.calls = 0
    with pytest.raises(AuthenticationError) as caught:
        pair.approver.receive(_with_epoch(start.frame, 5))
    assert caught.value.code == "unknown_epoch"
    assert dh_counter.calls == 0


def test_a_fill_makes_exactly_two_private_keys(
    pair: ChannelPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One ephemeral key per side; the pinned static keys are never reloaded.

    Making an X25519 private key computes its public key, a scalar
    multiplication as costly as an exchange; the static keys are loaded once
    with the state and their objects reused by every fill.
    """
    made: list[str] = []
    for name in ("generate", "from_private_bytes"):
        original = getattr(X25519PrivateKey, name)

        def counting(
            cls: object, *args: object, _original: object = original, _name: str = name
        ) -> object:
            made.append(_name)
            return _original(*args)  # type: ignore[operator]

        monkeypatch.setattr(X25519PrivateKey, name, classmethod(counting))
    pair.fill()
    pair.fill()
    assert len(made) == 4


# --- tampering --------------------------------------------------------------


def test_every_flipped_bit_of_message_one_is_refused(pair: ChannelPair) -> None:
    """Security case 28: any single changed bit of message 1 is refused, state kept."""
    start = pair.browser.start_fill(pair.request())
    frame = start.frame
    before = pair.approver_state
    for bit in range(len(frame) * 8):
        tampered = bytearray(frame)
        tampered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(RemoteError):
            pair.approver.receive(bytes(tampered))
        assert pair.approver.state is before, f"bit {bit} changed the state"
    # The genuine frame still works afterwards.
    pending = pair.approver.receive(frame)
    assert start.pending.receive(pending.decline().frame).decision == Decline()


def test_every_flipped_bit_of_message_two_is_refused(pair: ChannelPair) -> None:
    """Security case 28: any single changed bit of message 2 is refused, state kept."""
    request = pair.request()
    snapshot = replace(pair.browser_state, retry_token=Secret(bytes(16)))

    def restart() -> BrowserChannel:
        # The same entropy gives the same ephemeral key, hence the same
        # message 1, so one message 2 can be tried against many restarts.
        return BrowserChannel(
            snapshot, clock=pair.clock, entropy=SeededEntropy(b"flip")
        )

    start = restart().start_fill(request)
    reply = pair.approver.receive(start.frame).grant({FieldRole.PASSWORD: Secret("pw")})
    for bit in range(len(reply.frame) * 8):
        tampered = bytearray(reply.frame)
        tampered[bit // 8] ^= 1 << (bit % 8)
        channel = restart()
        attempt = channel.start_fill(request)
        with pytest.raises(RemoteError):
            attempt.pending.receive(bytes(tampered))
        assert channel.state == snapshot, f"bit {bit} changed the state"
    assert restart().start_fill(request).pending.receive(reply.frame).granted


def test_after_a_tampered_answer_the_next_attempt_succeeds(pair: ChannelPair) -> None:
    """Security case 28: tampering costs one attempt, not the pairing."""
    start = pair.browser.start_fill(pair.request())
    reply = pair.approver.receive(start.frame).grant({FieldRole.PASSWORD: Secret("a")})
    tampered = bytearray(reply.frame)
    tampered[HEADER_SIZE + 40] ^= 4
    with pytest.raises(AuthenticationError):
        start.pending.receive(bytes(tampered))
    assert start.pending.status is FillStatus.FAILED
    pair.clock.advance(1)
    assert pair.fill(PASSWORD).granted
    assert pair.fill().decision == Decline()


def test_stranger_claiming_our_pairing_id_fails_authentication(
    pair: ChannelPair,
) -> None:
    """Security case 29: without the pinned keys and link, message 1 is refused."""
    stranger = ChannelPair.paired(seed=b"stranger", clock=pair.clock)
    start = stranger.browser.start_fill(stranger.request())
    ours = pair.approver_state.pairing_id
    forged = start.frame[:2] + ours + start.frame[18:]
    with pytest.raises(AuthenticationError):
        pair.approver.receive(forged)
    assert pair.approver_state.windows == ()


def test_notice_instead_of_an_answer_keeps_the_state(pair: ChannelPair) -> None:
    """A refusal notice raises a RemoteError and changes nothing."""
    start = pair.browser.start_fill(pair.request())
    notice = refusal_frame(start.frame, ReplayError("replayed"))
    with pytest.raises(AuthenticationError) as caught:
        start.pending.receive(notice)
    assert caught.value.code == "refused_by_approver"
    assert pair.browser_state == start.state


# --- post-compromise and forward secrecy -------------------------------------


def test_stolen_state_is_useless_after_one_honest_fill(pair: ChannelPair) -> None:
    """Security case 31: state stolen before an honest fill cannot be used after it."""
    stolen = pair.browser_state
    pair.fill(PASSWORD)  # the thief does not see this one

    thief = BrowserChannel(stolen, clock=pair.clock)
    start = thief.start_fill(pair.request())
    with pytest.raises(AuthenticationError) as caught:
        pair.approver.receive(start.frame)
    assert caught.value.code == "chain_superseded"

    pair.fill()  # and once the genuine side moved on, it is simply too old
    start = BrowserChannel(stolen, clock=pair.clock).start_fill(pair.request())
    with pytest.raises(ReplayError):
        pair.approver.receive(start.frame)
    assert pair.fill(PASSWORD).granted


def test_stolen_state_used_first_locks_out_and_reveals_the_copy(
    pair: ChannelPair,
) -> None:
    """If a thief fills first, the genuine side is refused with chain_superseded."""
    thief = BrowserChannel(pair.browser_state, clock=pair.clock)
    start = thief.start_fill(pair.request())
    pair.approver.receive(start.frame).decline()
    honest = pair.browser.start_fill(pair.request())
    with pytest.raises(AuthenticationError) as caught:
        pair.approver.receive(honest.frame)
    assert caught.value.code == "chain_superseded"
    assert "pair it again" in str(caught.value)


def test_later_state_cannot_read_an_earlier_fill(pair: ChannelPair) -> None:
    """Forward secrecy: both sides' later keys do not open an earlier request."""
    pair.fill(PASSWORD, request=pair.request(reason="earlier secret errand"))
    old_request = pair.frames[0]
    pair.fill()
    pair.fill()
    browser, approver = pair.browser_state, pair.approver_state

    # Every link either side holds now, used as a chain link of epoch 0 or raw.
    links = [browser.chain_link.reveal(), approver.chain_link.reveal()]
    if approver.next_link is not None:
        links.append(approver.next_link.chain_link.reveal())
    frame = decode_frame(old_request)
    candidates = links + [fill_psk(k, frame.header.pairing_id, 0) for k in links]
    for psk in candidates:
        handshake = NoiseHandshake(
            FILL_PROTOCOL,
            initiator=False,
            prologue=frame.header.prologue(),
            static=approver.static_key,
            ephemeral=KeyPair.generate(SeededEntropy(b"attacker")),
            remote_static=approver.agent_key,
            psk=psk,
        )
        with pytest.raises(AuthenticationError):
            handshake.read(frame.body, what="old request")
    later = browser.to_bytes() + approver.to_bytes()
    assert b"correct-horse-42" not in later
    assert b"earlier secret errand" not in later


# --- lost messages, retries and crashes --------------------------------------


def test_lost_message_two_costs_a_retry_not_a_pairing(pair: ChannelPair) -> None:
    """Security case 27: after a lost answer the retry succeeds and both agree."""
    lost = pair.browser.start_fill(pair.request())
    lost_reply = pair.approver.receive(lost.frame).grant(
        {FieldRole.PASSWORD: Secret("lost")}
    )
    pair.clock.advance(30)  # the browser side times out and tries again

    outcome = pair.fill(PASSWORD)
    assert outcome.granted
    # Should the lost answer turn up after all, it no longer counts.
    with pytest.raises(LocalProtocolError) as caught:
        lost.pending.receive(lost_reply.frame)
    assert caught.value.code == "fill_superseded"
    assert lost.pending.status is FillStatus.SUPERSEDED
    pair.clock.advance(1)
    assert pair.fill().decision == Decline()
    assert pair.approver_state.epoch == pair.browser_state.epoch - 1


def test_many_lost_answers_in_a_row_still_heal(pair: ChannelPair) -> None:
    """Security case 27: several lost answers in one epoch still heal."""
    for _ in range(5):
        start = pair.browser.start_fill(pair.request())
        pair.approver.receive(start.frame).decline()
        pair.clock.advance(10)
    assert pair.fill(PASSWORD).granted
    assert pair.fill().decision == Decline()


def test_late_answer_to_an_abandoned_attempt_is_ignored(pair: ChannelPair) -> None:
    """Security case 27: a delayed answer after a retry started cannot desync."""
    first = pair.browser.start_fill(pair.request())
    pending_first = pair.approver.receive(first.frame)
    pair.clock.advance(5)
    second = pair.browser.start_fill(pair.request())
    pending_second = pair.approver.receive(second.frame)

    late = pending_first.decline()
    with pytest.raises(LocalProtocolError) as caught:
        first.pending.receive(late.frame)
    assert caught.value.code == "fill_superseded"
    second.pending.receive(
        pending_second.grant({FieldRole.PASSWORD: Secret("s")}).frame
    )
    pair.clock.advance(1)
    assert pair.fill().decision == Decline()


def test_approver_refuses_to_answer_an_older_attempt_after_a_newer_one(
    pair: ChannelPair,
) -> None:
    """Answers in the wrong order would desync the chain; the older one is refused."""
    first = pair.browser.start_fill(pair.request())
    pending_first = pair.approver.receive(first.frame)
    pair.clock.advance(5)
    second = pair.browser.start_fill(pair.request())
    pending_second = pair.approver.receive(second.frame)
    reply = pending_second.decline()
    with pytest.raises(LocalProtocolError) as caught:
        pending_first.decline()
    assert caught.value.code == "fill_superseded"
    assert pending_first.status is FillStatus.SUPERSEDED
    assert pair.approver_state == reply.state
    second.pending.receive(reply.frame)
    assert pair.fill(PASSWORD).granted


def test_restarted_browser_side_retries_with_its_saved_token(
    pair: ChannelPair,
) -> None:
    """Security case 32: a browser side restarted after sending message 1 heals."""
    start = pair.browser.start_fill(pair.request())
    pair.approver.receive(start.frame).grant({FieldRole.PASSWORD: Secret("x")})
    # kill -9: only the state saved before sending survives.
    restarted = BrowserChannel(start.state, clock=pair.clock)
    pair.clock.advance(2)
    retry = restarted.start_fill(pair.request())
    reply = pair.approver.receive(retry.frame).grant({FieldRole.PASSWORD: Secret("y")})
    assert retry.pending.receive(reply.frame).granted


def test_approver_receive_without_answer_changes_only_replay_memory(
    pair: ChannelPair,
) -> None:
    """Receiving records the request id; the chain moves only when answering."""
    before = pair.approver_state
    start = pair.browser.start_fill(pair.request())
    pair.approver.receive(start.frame)
    after = pair.approver_state
    assert after.chain_link == before.chain_link
    assert after.next_link is None
    window = after.window(0)
    assert window is not None
    assert window.request_ids == (start.pending.request.request_id,)


def test_approver_channel_built_from_reloaded_state_keeps_refusing_replays(
    pair: ChannelPair,
) -> None:
    """Replay memory survives a save and reload of the approver's state."""
    pair.fill(PASSWORD)
    reloaded = ApproverChannel(
        type(pair.approver_state).from_bytes(pair.approver_state.to_bytes()),
        clock=pair.clock,
    )
    with pytest.raises(ReplayError):
        reloaded.receive(pair.frames[0])
