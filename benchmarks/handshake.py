"""CPU time of one fill handshake against the X25519 work it cannot avoid.

Subject: one whole fill through the public channel API, both sides in one
process: `new_request`, `start_fill`, `receive`, `grant`, `pending.receive`
(Noise KKpsk0, framing, payload encoding, replay checks, chain steps).

Baseline: the raw X25519 operations that handshake needs, done directly with
`cryptography`. KKpsk0 (`-> psk, e, es, ss` then `<- e, ee, se`) needs:

* 2 key generations, one ephemeral key per side, each with its public key
  (a fixed-base scalar multiplication; `cryptography` computes the public
  key when the private key is made, so `public_key()` only copies it);
* 8 exchanges: message 1 is written with es and ss and read with es and ss,
  message 2 written with ee and se and read with ee and se.

Not counted, because a fill does not need them: deriving the public key of
a static key. The pinned keys are loaded from the state file once, into the
`KeyPair` and `PublicKey` objects a `BrowserState` or `ApproverState`
holds, and every fill reuses those objects (`test_fill.py` checks that a
fill makes exactly two private keys). The ss secret is the same in every
fill of a pairing and could be cached, saving two exchanges; the channel
follows the Noise processing rules and computes it each time, so the
baseline counts it. A channel that cached it would have to drop it here.

Reference: the same KKpsk0 handshake with `noiseprotocol` alone, as its
documentation shows it (a connection built from the protocol name, no
framing, no payloads), except that the static key pairs are built once with
the library's own key class rather than by `set_keypair_from_private_bytes`
in every handshake: the documented call would add two public-key
derivations per handshake, work neither the baseline nor the channel does.

The three run interleaved in short rounds (their order reversed every
round), each timed in process CPU time with garbage collection off, as
`timeit` does. `ratio` is the median over rounds of the fill's time divided
by the X25519 time of the same round, so both sides of every ratio ran
within a few milliseconds of each other: on a shared machine whose load
changes from second to second, a ratio of two medians can pair a slow fill
with a fast baseline taken at another moment (it is still reported, as
`ratio_of_medians`). `ratio_q1` and `ratio_q3` are the quartiles of the
per-round ratios, to show the spread; `noise_only_ratio` is the median
per-round ratio of the reference.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from noise.backends.default.keypairs import KeyPair25519
from noise.connection import NoiseConnection

from blindfill.channel import (
    ApproverChannel,
    BrowserChannel,
    BrowserPairing,
    FieldRole,
    FormKind,
    PairingOffer,
)
from blindfill.channel.testing import FakeClock, run_pairing
from blindfill.sensitive import Secret

ROUNDS = 31
PER_ROUND = 20
KEYGENS = 2  # one ephemeral key per side
EXCHANGES = 8  # es, ss written and read; ee, se written and read


def _paired(clock: FakeClock) -> tuple[BrowserChannel, ApproverChannel]:
    offer = PairingOffer.create(approver_name="bench", clock=clock)
    browser, approver = run_pairing(
        offer, BrowserPairing(offer.token, agent_name="bench")
    )
    return (
        BrowserChannel(browser, clock=clock),
        ApproverChannel(approver, clock=clock),
    )


def _fill_runner() -> Callable[[], None]:
    clock = FakeClock()
    browser, approver = _paired(clock)
    values = {FieldRole.PASSWORD: Secret("benchmark-password")}

    def fill() -> None:
        clock.advance(0.01)
        request = browser.new_request(
            frame_origin="https://bank.test",
            top_origin="https://bank.test",
            form_kind=FormKind.LOGIN,
            fields=(FieldRole.USERNAME, FieldRole.PASSWORD),
            reason="benchmark",
        )
        start = browser.start_fill(request)
        reply = approver.receive(start.frame).grant(values)
        start.pending.receive(reply.frame)

    return fill


def _x25519_runner() -> Callable[[], None]:
    peer = X25519PrivateKey.generate().public_key()
    mine = X25519PrivateKey.generate()

    def operations() -> None:
        for _ in range(KEYGENS):
            X25519PrivateKey.generate().public_key().public_bytes_raw()
        for _ in range(EXCHANGES):
            mine.exchange(peer)

    return operations


def _noise_runner() -> Callable[[], None]:
    name = b"Noise_KKpsk0_25519_ChaChaPoly_SHA256"
    initiator_private = X25519PrivateKey.generate().private_bytes_raw()
    responder_private = X25519PrivateKey.generate().private_bytes_raw()
    # Loaded once, as a long-lived pairing state would hold them.
    initiator_static = KeyPair25519.from_private_bytes(initiator_private)
    responder_static = KeyPair25519.from_private_bytes(responder_private)
    initiator_pinned = KeyPair25519.from_public_bytes(initiator_static.public_bytes)
    responder_pinned = KeyPair25519.from_public_bytes(responder_static.public_bytes)
    psk = bytes(32)
    payload = bytes(512)

    def handshake() -> None:
        initiator = NoiseConnection.from_name(name)
        initiator.set_as_initiator()
        initiator.set_psks(psk)
        initiator.noise_protocol.keypairs["s"] = initiator_static
        initiator.noise_protocol.keypairs["rs"] = responder_pinned
        responder = NoiseConnection.from_name(name)
        responder.set_as_responder()
        responder.set_psks(psk)
        responder.noise_protocol.keypairs["s"] = responder_static
        responder.noise_protocol.keypairs["rs"] = initiator_pinned
        initiator.start_handshake()
        responder.start_handshake()
        responder.read_message(bytes(initiator.write_message(payload)))
        initiator.read_message(bytes(responder.write_message(payload)))

    return handshake


def _time(run: Callable[[], None]) -> float:
    start = time.process_time_ns()
    for _ in range(PER_ROUND):
        run()
    return (time.process_time_ns() - start) / PER_ROUND / 1000


def run() -> dict[str, object]:
    runners = {
        "fill": _fill_runner(),
        "x25519": _x25519_runner(),
        "noise_only": _noise_runner(),
    }
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for runner in runners.values():  # warm up caches and lazy imports
        runner()
    order = list(runners.items())
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(ROUNDS):
            for name, runner in order:
                samples[name].append(_time(runner))
            order.reverse()  # so that no runner always follows another
    finally:
        if gc_was_enabled:
            gc.enable()

    median = {name: statistics.median(values) for name, values in samples.items()}
    ratios = {
        name: [s / x for s, x in zip(samples[name], samples["x25519"], strict=True)]
        for name in ("fill", "noise_only")
    }
    q1, ratio, q3 = statistics.quantiles(ratios["fill"], n=4)
    return {
        "fill_handshake_us": round(median["fill"], 1),
        "x25519_ops_us": round(median["x25519"], 1),
        "noise_only_us": round(median["noise_only"], 1),
        "ratio": round(ratio, 3),
        "ratio_q1": round(q1, 3),
        "ratio_q3": round(q3, 3),
        "ratio_of_medians": round(median["fill"] / median["x25519"], 3),
        "noise_only_ratio": round(statistics.median(ratios["noise_only"]), 3),
        "x25519_keygens": KEYGENS,
        "x25519_exchanges": EXCHANGES,
        "rounds": ROUNDS,
        "runs_per_round": PER_ROUND,
        "target_ratio": 2.0,
    }
