"""Pairing: one-time secrets, SPAKE2 for short codes, XXpsk3, replacement."""

from __future__ import annotations

import pytest

from blindfill.channel import (
    ApproverChannel,
    BrowserChannel,
    BrowserPairing,
    BrowserPairingStatus,
    ConfirmationNeeded,
    FieldRole,
    FormKind,
    FrameType,
    OfferStatus,
    PairingOffer,
    PairingSecret,
    ReplyReady,
    refusal_frame,
)
from blindfill.channel._frames import NO_PAIRING_ID, FrameHeader, encode_frame
from blindfill.channel._keys import KeyPair
from blindfill.channel._messages import PairHello, PairingMode
from blindfill.channel._noise import PAIRING_PROTOCOL, NoiseHandshake
from blindfill.channel.testing import ChannelPair, FakeClock, SeededEntropy, run_pairing
from blindfill.errors import (
    InvalidInputError,
    LocalProtocolError,
    PairingError,
    RemoteError,
    RemoteProtocolError,
    UnpairedError,
)
from blindfill.sensitive import Secret


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def offer(clock: FakeClock) -> PairingOffer:
    return PairingOffer.create(
        approver_name="laptop", clock=clock, entropy=SeededEntropy(b"offer")
    )


def _handshake_until_confirmation(
    offer: PairingOffer, pairing: BrowserPairing
) -> ConfirmationNeeded:
    reply = offer.receive(pairing.hello())
    assert isinstance(reply, ReplyReady)
    event = offer.receive(pairing.receive_reply(reply.frame))
    assert isinstance(event, ConfirmationNeeded)
    return event


@pytest.mark.parametrize("form", ["token", "code"])
def test_pairing_pins_both_static_keys_and_agrees_on_link_zero(
    offer: PairingOffer, form: str
) -> None:
    """Token and code pairing both end with pinned keys and the same chain link."""
    secret = offer.token if form == "token" else offer.code
    pairing = BrowserPairing(secret, agent_name="build-bot")
    browser, approver = run_pairing(offer, pairing)

    assert browser.pairing_id == approver.pairing_id == offer.pairing_id
    assert browser.approver_key.raw == approver.static_key.public
    assert approver.agent_key.raw == browser.static_key.public
    assert browser.chain_link == approver.chain_link
    assert browser.epoch == approver.epoch == 0
    assert approver.agent_name == "build-bot"
    assert browser.approver_name == "laptop"
    assert offer.status is OfferStatus.PAIRED
    assert pairing.status is BrowserPairingStatus.PAIRED


def test_the_human_sees_the_name_and_the_fingerprint_both_sides_show(
    offer: PairingOffer,
) -> None:
    """The approver shows the agent's name and the browser side's fingerprint."""
    pairing = BrowserPairing(offer.code, agent_name="build-bot")
    event = _handshake_until_confirmation(offer, pairing)
    assert event.agent_name == "build-bot"
    assert event.fingerprint == pairing.fingerprint == offer.fingerprint
    assert len(event.fingerprint.replace("-", "")) == 16
    paired = offer.confirm()
    assert paired.state.fingerprint == event.fingerprint
    assert pairing.receive_result(paired.frame).fingerprint == event.fingerprint


def test_code_may_be_typed_with_spaces_and_dashes(offer: PairingOffer) -> None:
    """A typed code is normalised: '1234 5678' and '1234-5678' are the same."""
    typed = offer.code.reveal().replace("-", " ")
    browser, approver = run_pairing(offer, BrowserPairing(typed, agent_name="bot"))
    assert browser.chain_link == approver.chain_link


def test_wrong_code_burns_the_offer_with_a_clear_error(offer: PairingOffer) -> None:
    """A wrong code fails at the finish, uses the offer up, and both sides say why."""
    right = offer.code.reveal()
    wrong = "0000-0000" if right != "0000-0000" else "1111-1111"
    pairing = BrowserPairing(wrong, agent_name="bot")
    reply = offer.receive(pairing.hello())
    assert isinstance(reply, ReplyReady)
    finish = pairing.receive_reply(reply.frame)
    with pytest.raises(PairingError) as caught:
        offer.receive(finish)
    assert caught.value.code == "pairing_secret_mismatch"
    assert "new offer" in str(caught.value)
    assert offer.status is OfferStatus.FAILED

    # The browser side hears "pairing failed" through the approver's notice.
    with pytest.raises(PairingError):
        pairing.receive_result(refusal_frame(finish, caught.value))

    # The right code no longer helps: the attempt was spent.
    again = BrowserPairing(right, agent_name="bot")
    with pytest.raises(PairingError) as caught:
        offer.receive(again.hello())
    assert caught.value.code == "pairing_used"


def test_token_of_another_offer_is_refused(
    clock: FakeClock, offer: PairingOffer
) -> None:
    """A token names its offer; another offer refuses its hello."""
    other = PairingOffer.create(approver_name="laptop", clock=clock)
    pairing = BrowserPairing(other.token, agent_name="bot")
    with pytest.raises(PairingError) as caught:
        offer.receive(pairing.hello())
    assert caught.value.code == "pairing_unknown"
    assert offer.status is OfferStatus.WAITING


def test_offer_expires_after_ten_minutes(clock: FakeClock, offer: PairingOffer) -> None:
    """An offer is refused once 10 minutes have passed."""
    pairing = BrowserPairing(offer.token, agent_name="bot")
    clock.advance(600.5)
    assert offer.status is OfferStatus.EXPIRED
    with pytest.raises(PairingError) as caught:
        offer.receive(pairing.hello())
    assert caught.value.code == "pairing_expired"


def test_offer_can_be_used_once(offer: PairingOffer) -> None:
    """A second hello to the same offer is refused."""
    first = BrowserPairing(offer.token, agent_name="bot")
    offer.receive(first.hello())
    second = BrowserPairing(offer.token, agent_name="bot")
    with pytest.raises(PairingError) as caught:
        offer.receive(second.hello())
    assert caught.value.code == "pairing_used"


def test_rejection_reaches_the_browser_side(offer: PairingOffer) -> None:
    """When the human says no, the browser side gets PairingError, not a state."""
    pairing = BrowserPairing(offer.token, agent_name="bot")
    _handshake_until_confirmation(offer, pairing)
    frame = offer.reject()
    assert offer.status is OfferStatus.REJECTED
    with pytest.raises(PairingError) as caught:
        pairing.receive_result(frame)
    assert caught.value.code == "pairing_rejected"
    with pytest.raises(LocalProtocolError):
        offer.confirm()


def test_confirm_before_the_handshake_finished_is_misuse(offer: PairingOffer) -> None:
    """The offer cannot be committed before the agent proved the secret."""
    with pytest.raises(LocalProtocolError):
        offer.confirm()
    pairing = BrowserPairing(offer.token, agent_name="bot")
    offer.receive(pairing.hello())
    with pytest.raises(LocalProtocolError):
        offer.confirm()


def test_tampered_reply_ends_the_attempt(offer: PairingOffer) -> None:
    """Security case 28: a changed pairing reply is refused by the browser side."""
    pairing = BrowserPairing(offer.token, agent_name="bot")
    reply = offer.receive(pairing.hello())
    assert isinstance(reply, ReplyReady)
    tampered = bytearray(reply.frame)
    tampered[-1] ^= 1
    with pytest.raises(RemoteError):
        pairing.receive_reply(bytes(tampered))
    assert pairing.status is BrowserPairingStatus.FAILED


def test_tampered_finish_burns_the_offer(offer: PairingOffer) -> None:
    """Security case 28: a changed finish is refused and the offer used up."""
    pairing = BrowserPairing(offer.token, agent_name="bot")
    reply = offer.receive(pairing.hello())
    assert isinstance(reply, ReplyReady)
    finish = bytearray(pairing.receive_reply(reply.frame))
    finish[40] ^= 0x10
    with pytest.raises(PairingError):
        offer.receive(bytes(finish))
    assert offer.status is OfferStatus.FAILED


def _hello_frame(payload: PairHello, pairing_id: bytes = NO_PAIRING_ID) -> bytes:
    header = FrameHeader(FrameType.PAIR_HELLO, pairing_id, 0)
    entropy = SeededEntropy(b"hand-built hello")
    handshake = NoiseHandshake(
        PAIRING_PROTOCOL,
        initiator=True,
        prologue=header.prologue(),
        static=KeyPair.generate(entropy),
        ephemeral=KeyPair.generate(entropy),
        psk=bytes(32),
    )
    body = handshake.write(payload.encode(), what="hello")
    return encode_frame(FrameType.PAIR_HELLO, pairing_id, 0, body)


def test_invalid_spake2_message_is_a_pairing_error(offer: PairingOffer) -> None:
    """A SPAKE2 message that is not a group element fails cleanly."""
    frame = _hello_frame(PairHello(PairingMode.CODE, b"A" + b"\xff" * 32))
    with pytest.raises(PairingError) as caught:
        offer.receive(frame)
    assert caught.value.code == "pairing_spake2"


def test_spake2_message_from_the_wrong_side_is_refused(offer: PairingOffer) -> None:
    """A SPAKE2 message claiming the approver's side is refused."""
    frame = _hello_frame(PairHello(PairingMode.CODE, b"B" + bytes(32)))
    with pytest.raises(PairingError):
        offer.receive(frame)


def test_code_hello_must_not_name_a_pairing(offer: PairingOffer) -> None:
    """Mode and header must agree: a code hello carries the zero pairing id."""
    frame = _hello_frame(
        PairHello(PairingMode.CODE, b"A" + bytes(32)), pairing_id=offer.pairing_id
    )
    with pytest.raises(RemoteProtocolError):
        offer.receive(frame)
    assert offer.status is OfferStatus.WAITING


@pytest.mark.parametrize(
    "text",
    ["", "1234", "1234-567x", "bf1.AAAA", "bf1." + "A" * 70, "hello world"],
)
def test_malformed_secrets_are_refused_without_echoing_them(text: str) -> None:
    """A damaged token or code is a local error whose message does not repeat it."""
    with pytest.raises(InvalidInputError) as caught:
        PairingSecret.parse(text)
    if text:
        assert text not in str(caught.value)


def test_token_with_one_changed_character_fails_its_checksum(
    offer: PairingOffer,
) -> None:
    """A typo in a pasted token is caught locally, before any attempt is spent."""
    token = offer.token.reveal()
    position = 20
    changed = token[:position] + ("B" if token[position] != "B" else "C")
    changed += token[position + 1 :]
    with pytest.raises(InvalidInputError, match="checksum"):
        PairingSecret.parse(changed)
    assert PairingSecret.parse(Secret(token)).pairing_id == offer.pairing_id


def test_repairing_replaces_the_old_device_which_is_told_so(clock: FakeClock) -> None:
    """Security case 29: after re-pairing the old device gets UnpairedError."""
    old = ChannelPair.paired(clock=clock, seed=b"old device")
    old.fill({FieldRole.PASSWORD: "pw"})

    offer = PairingOffer.create(approver_name="laptop", clock=clock)
    new_browser, new_approver = run_pairing(
        offer,
        BrowserPairing(offer.token, agent_name="new-bot"),
        previous=old.approver_state,
    )
    assert new_approver.replaced_pairings == (old.approver_state.pairing_id,)
    approver = ApproverChannel(new_approver, clock=clock)

    # The old device's next attempt is refused as "replaced" ...
    start = old.browser.start_fill(old.request())
    with pytest.raises(UnpairedError) as caught:
        approver.receive(start.frame)
    assert caught.value.code == "pairing_replaced"
    assert approver.state == new_approver
    # ... and the notice tells it so.
    with pytest.raises(UnpairedError):
        start.pending.receive(refusal_frame(start.frame, caught.value))

    # The new device fills normally.
    browser = BrowserChannel(new_browser, clock=clock)
    fill = browser.start_fill(
        browser.new_request(
            frame_origin="https://bank.test",
            top_origin="https://bank.test",
            form_kind=FormKind.LOGIN,
            fields=(FieldRole.PASSWORD,),
            reason="",
        )
    )
    reply = approver.receive(fill.frame).grant({FieldRole.PASSWORD: Secret("pw2")})
    assert fill.pending.receive(reply.frame).granted


def test_stranger_with_its_own_pairing_is_an_unknown_device(clock: FakeClock) -> None:
    """Security case 29: a browser side paired elsewhere is refused as unknown."""
    ours = ChannelPair.paired(clock=clock, seed=b"ours")
    stranger = ChannelPair.paired(clock=clock, seed=b"stranger")
    start = stranger.browser.start_fill(stranger.request())
    with pytest.raises(UnpairedError) as caught:
        ours.approver.receive(start.frame)
    assert caught.value.code == "pairing_unknown"
