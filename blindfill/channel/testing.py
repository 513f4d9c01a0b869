"""An in-memory browser side and approver, joined without a network.

For tests of the channel and of everything built on it (the approver service,
the browser side, end-to-end flows)::

    pair = ChannelPair.paired()                  # pairing already done
    outcome = pair.fill(grant={FieldRole.PASSWORD: "hunter2"})
    assert outcome.granted

    start = pair.browser.start_fill(pair.request())  # or drive steps by hand
    pending = pair.approver.receive(start.frame)
    reply = pending.decline()
    outcome = start.pending.receive(reply.frame)

`FakeClock` is the injected clock; `SeededEntropy` is deterministic
randomness (never use it outside tests: anyone who knows the seed knows every
key). Both sides share one clock and one entropy stream by default.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from blindfill.channel._fill import ApproverChannel, BrowserChannel, FillOutcome
from blindfill.channel._messages import (
    DeclineReason,
    FieldRole,
    FillRequest,
    FormKind,
)
from blindfill.channel._pairing import (
    BrowserPairing,
    ConfirmationNeeded,
    PairingOffer,
    ReplyReady,
)
from blindfill.channel._state import ApproverState, BrowserState
from blindfill.errors import LocalProtocolError
from blindfill.sensitive import Secret

__all__ = ["ChannelPair", "FakeClock", "SeededEntropy", "run_pairing"]

DEFAULT_START = 1_750_000_000.0  # a fixed moment in 2025, seconds


class FakeClock:
    """A clock that moves only when told to; call it like `time.time`."""

    def __init__(self, start: float = DEFAULT_START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now})"


class SeededEntropy:
    """Deterministic randomness for tests and published vectors.

    Draw `i` (counting from 0) of `size` bytes is the first `size` bytes of
    SHA-256(seed | u64 i | u32 0) | SHA-256(seed | u64 i | u32 1) | ...;
    an X25519 key is a 32-byte draw. `draws` records every draw in order.
    """

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._count = 0
        self.draws: list[bytes] = []

    def random_bytes(self, size: int) -> bytes:
        out = b""
        block = 0
        while len(out) < size:
            out += hashlib.sha256(
                self._seed + struct.pack(">QI", self._count, block)
            ).digest()
            block += 1
        self._count += 1
        draw = out[:size]
        self.draws.append(draw)
        return draw

    def x25519_key(self) -> X25519PrivateKey:
        return X25519PrivateKey.from_private_bytes(self.random_bytes(32))

    def __repr__(self) -> str:
        return f"SeededEntropy(draws={self._count})"


def run_pairing(
    offer: PairingOffer,
    pairing: BrowserPairing,
    *,
    previous: ApproverState | None = None,
) -> tuple[BrowserState, ApproverState]:
    """Run a whole pairing in memory, the human confirming at once."""
    event = offer.receive(pairing.hello())
    if not isinstance(event, ReplyReady):
        raise LocalProtocolError("the offer did not answer the hello")
    event2 = offer.receive(pairing.receive_reply(event.frame))
    if not isinstance(event2, ConfirmationNeeded):
        raise LocalProtocolError("the offer did not ask for confirmation")
    paired = offer.confirm(previous=previous)
    return pairing.receive_result(paired.frame), paired.state


@dataclass
class ChannelPair:
    """A paired browser side and approver, with a shared fake clock."""

    browser: BrowserChannel
    approver: ApproverChannel
    clock: FakeClock
    entropy: SeededEntropy
    frames: list[bytes] = field(default_factory=list)

    @classmethod
    def paired(
        cls,
        *,
        seed: bytes = b"blindfill channel tests",
        agent_name: str = "test-agent",
        approver_name: str = "test-approver",
        use_code: bool = False,
        clock: FakeClock | None = None,
    ) -> ChannelPair:
        """Pair a new browser side with a new approver and wrap both."""
        clock = clock or FakeClock()
        entropy = SeededEntropy(seed)
        offer = PairingOffer.create(
            approver_name=approver_name, clock=clock, entropy=entropy
        )
        secret = offer.code if use_code else offer.token
        pairing = BrowserPairing(secret, agent_name=agent_name, entropy=entropy)
        browser_state, approver_state = run_pairing(offer, pairing)
        return cls(
            browser=BrowserChannel(browser_state, clock=clock, entropy=entropy),
            approver=ApproverChannel(approver_state, clock=clock, entropy=entropy),
            clock=clock,
            entropy=entropy,
        )

    def request(
        self,
        *,
        origin: str = "https://bank.test",
        form_kind: FormKind = FormKind.LOGIN,
        fields: tuple[FieldRole, ...] = (FieldRole.USERNAME, FieldRole.PASSWORD),
        reason: str = "sign in to download the statement",
    ) -> FillRequest:
        """A fresh, valid request for a top-level login form at `origin`."""
        return self.browser.new_request(
            frame_origin=origin,
            top_origin=origin,
            form_kind=form_kind,
            fields=fields,
            reason=reason,
        )

    def fill(
        self,
        grant: Mapping[FieldRole, str] | None = None,
        *,
        decline: DeclineReason = DeclineReason.DECLINED,
        request: FillRequest | None = None,
    ) -> FillOutcome:
        """Run one whole fill: grant `grant` if given, else decline.

        Every frame is appended to `frames` (message 1, then message 2).
        """
        start = self.browser.start_fill(request or self.request())
        self.frames.append(start.frame)
        pending = self.approver.receive(start.frame)
        if grant is None:
            reply = pending.decline(decline)
        else:
            reply = pending.grant(
                {role: Secret(value, kind=role.value) for role, value in grant.items()}
            )
        self.frames.append(reply.frame)
        return start.pending.receive(reply.frame)

    @property
    def browser_state(self) -> BrowserState:
        return self.browser.state

    @property
    def approver_state(self) -> ApproverState:
        return self.approver.state
