"""No secret of the channel shows in a repr, an error message or a log."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from blindfill.channel import (
    BrowserChannel,
    BrowserPairing,
    FieldRole,
    PairingOffer,
    PairingSecret,
)
from blindfill.channel.testing import ChannelPair, FakeClock, run_pairing
from blindfill.errors import BlindfillError
from blindfill.sensitive import Secret

PASSWORD = "pa55-Hunter2-Sekret"


def _spellings(secret: bytes) -> Iterator[str]:
    """Ways a binary secret could appear in text."""
    yield secret.hex()
    yield base64.b64encode(secret).decode()
    yield repr(secret)[2:-1]


def _key_material(pair: ChannelPair) -> list[bytes]:
    browser, approver = pair.browser_state, pair.approver_state
    found = [
        browser.static_key.private_bytes().reveal(),
        approver.static_key.private_bytes().reveal(),
        browser.chain_link.reveal(),
        approver.chain_link.reveal(),
    ]
    if approver.next_link is not None:
        found += [
            approver.next_link.chain_link.reveal(),
            approver.next_link.retry_token.reveal(),
        ]
    return found


def test_reprs_show_no_keys_links_tokens_or_values() -> None:
    """States, pending fills, outcomes and offers print without secrets."""
    pair = ChannelPair.paired()
    outcome = pair.fill({FieldRole.PASSWORD: PASSWORD})
    start = pair.browser.start_fill(pair.request())
    pending = pair.approver.receive(start.frame)
    offer = PairingOffer.create(approver_name="laptop", clock=FakeClock())
    texts = [
        repr(x)
        for x in (
            pair.browser_state,
            pair.approver_state,
            pair.approver_state.next_link,
            start,
            start.pending,
            pending,
            outcome,
            outcome.decision,
            offer,
            PairingSecret.parse(offer.token),
            BrowserPairing(offer.code, agent_name="bot"),
        )
    ]
    text = "\n".join(texts)
    assert PASSWORD not in text
    assert offer.token.reveal() not in text
    assert offer.code.reveal() not in text
    for secret in _key_material(pair):
        for spelling in _spellings(secret):
            assert spelling not in text


def test_error_messages_carry_no_secret() -> None:
    """Refusals along every path name faults, never values or keys."""
    pair = ChannelPair.paired()
    before_fill = pair.browser_state
    pair.fill({FieldRole.PASSWORD: PASSWORD})
    messages: list[str] = []
    start = pair.browser.start_fill(pair.request())
    for data in (start.frame[:-1], start.frame[:40] + bytes(len(start.frame) - 40)):
        with pytest.raises(BlindfillError) as caught:
            pair.approver.receive(data)
        messages.append(str(caught.value) + repr(caught.value))
    pending = pair.approver.receive(start.frame)
    with pytest.raises(BlindfillError) as caught:
        pending.grant({FieldRole.ONE_TIME_CODE: Secret(PASSWORD)})
    messages.append(str(caught.value))
    pending.decline()
    stale = BrowserChannel(before_fill, clock=pair.clock)
    with pytest.raises(BlindfillError) as caught:
        pair.approver.receive(stale.start_fill(pair.request()).frame)
    messages.append(str(caught.value))
    text = "\n".join(messages)
    assert PASSWORD not in text
    for secret in _key_material(pair):
        for spelling in _spellings(secret):
            assert spelling not in text


def test_pairing_and_fills_log_nothing() -> None:
    """The channel core is silent: a whole pairing and fill emits no log event."""
    clock = FakeClock()
    with capture_logs() as logs:
        offer = PairingOffer.create(approver_name="laptop", clock=clock)
        run_pairing(offer, BrowserPairing(offer.code, agent_name="bot"))
        ChannelPair.paired(clock=clock).fill({FieldRole.PASSWORD: PASSWORD})
    assert logs == []
