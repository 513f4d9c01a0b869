"""The secure channel between the browser side and the approver, sans-IO.

This package turns bytes into events and events into bytes, in the style of
h11: it never opens a socket or a file, never logs and never reads the clock
(callers pass a `clock`, like `time.time`). The transport moves frames; the
caller persists states with `blindfill.pairing_state`. The wire format, the
state machines and every key derivation are specified in `docs/protocol.md`.

Pairing, once per browser side::

    # approver                                   # browser side
    offer = PairingOffer.create(
        approver_name="laptop", clock=time.time)
    show(offer.token or offer.code)
                                                 pairing = BrowserPairing(
                                                     secret, agent_name="bot")
                                                 frame = pairing.hello()
    event = offer.receive(frame)   # ReplyReady
                                                 frame = pairing.receive_reply(
                                                     event.frame)
                                                 show(pairing.fingerprint)
    event = offer.receive(frame)   # ConfirmationNeeded(agent_name, fingerprint)
    paired = offer.confirm(previous=old_state)   # after the human said yes
    save(paired.state); send(paired.frame)
                                                 state = pairing.receive_result(
                                                     paired.frame)
                                                 save(state)

Every fill::

    channel = BrowserChannel(state, clock=time.time)
    request = channel.new_request(frame_origin=..., top_origin=...,
                                  form_kind=FormKind.LOGIN,
                                  fields=(FieldRole.USERNAME, FieldRole.PASSWORD),
                                  reason="sign in to check the invoice")
    start = channel.start_fill(request)
    save(start.state); response = post(start.frame)

    approver = ApproverChannel(approver_state, clock=time.time)
    pending = approver.receive(frame)            # PendingRequest
    reply = pending.grant({FieldRole.PASSWORD: Secret("...")})  # or .decline()
    save(reply.state); send(reply.frame)

    outcome = start.pending.receive(response)    # FillOutcome
    save(outcome.state); use(outcome.decision)   # Grant or Decline

Errors are the project's own (`blindfill.errors`): `RemoteError` subclasses
for anything the peer sent, `LocalProtocolError` for calls out of order. A
`RemoteError` never changes a state. When the approver refuses a frame it
answers with `refusal_frame(frame, error)`; the browser side turns that
notice back into `UnpairedError`, `PairingError` or `AuthenticationError`.
"""

from __future__ import annotations

from blindfill.channel._fill import (
    CLOCK_WINDOW_S,
    ApproverChannel,
    BrowserChannel,
    Clock,
    FillOutcome,
    FillStart,
    FillStatus,
    PendingFill,
    PendingRequest,
    Reply,
    refusal_frame,
)
from blindfill.channel._frames import (
    HEADER_SIZE,
    MAX_BODY_SIZE,
    VERSION,
    Frame,
    FrameHeader,
    FrameType,
    decode_frame,
)
from blindfill.channel._keys import SYSTEM_ENTROPY, Entropy, SystemEntropy
from blindfill.channel._messages import (
    Decision,
    Decline,
    DeclineReason,
    FieldRole,
    FillRequest,
    FormKind,
    Grant,
    NoticeReason,
)
from blindfill.channel._pairing import (
    PAIRING_TTL_S,
    BrowserPairing,
    BrowserPairingStatus,
    ConfirmationNeeded,
    OfferStatus,
    Paired,
    PairingOffer,
    PairingSecret,
    ReplyReady,
)
from blindfill.channel._state import ApproverState, BrowserState

__all__ = [
    "CLOCK_WINDOW_S",
    "HEADER_SIZE",
    "MAX_BODY_SIZE",
    "PAIRING_TTL_S",
    "SYSTEM_ENTROPY",
    "VERSION",
    "ApproverChannel",
    "ApproverState",
    "BrowserChannel",
    "BrowserPairing",
    "BrowserPairingStatus",
    "BrowserState",
    "Clock",
    "ConfirmationNeeded",
    "Decision",
    "Decline",
    "DeclineReason",
    "Entropy",
    "FieldRole",
    "FillOutcome",
    "FillRequest",
    "FillStart",
    "FillStatus",
    "FormKind",
    "Frame",
    "FrameHeader",
    "FrameType",
    "Grant",
    "NoticeReason",
    "OfferStatus",
    "Paired",
    "PairingOffer",
    "PairingSecret",
    "PendingFill",
    "PendingRequest",
    "Reply",
    "ReplyReady",
    "SystemEntropy",
    "decode_frame",
    "refusal_frame",
]
