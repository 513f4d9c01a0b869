"""CPU time of one fill handshake against the X25519 work it cannot avoid.

Subject: one whole fill through the public channel API, both sides in one
process: `new_request`, `start_fill`, `receive`, `grant`, `pending.receive`
(Noise KKpsk0, framing, payload encoding, replay checks, chain steps).

Baseline: the raw X25519 operations that handshake needs, done directly with
`cryptography`: 2 key generations (with their public keys) and 8 exchanges.

Reference: the same KKpsk0 handshake written with `noiseprotocol` alone, the
way its documentation shows (keys set from bytes, no framing, no payloads).

The three run interleaved in rounds and the medians are compared, so a busy
machine slows all of them alike. Process CPU time; garbage collection is off
while timing, as `timeit` does.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from noise.connection import Keypair, NoiseConnection

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

ROUNDS = 15
PER_ROUND = 40
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
    initiator_static = X25519PrivateKey.generate()
    responder_static = X25519PrivateKey.generate()
    i_private = initiator_static.private_bytes_raw()
    r_private = responder_static.private_bytes_raw()
    i_public = initiator_static.public_key().public_bytes_raw()
    r_public = responder_static.public_key().public_bytes_raw()
    psk = bytes(32)
    payload = bytes(512)

    def handshake() -> None:
        initiator = NoiseConnection.from_name(name)
        initiator.set_as_initiator()
        initiator.set_psks(psk)
        initiator.set_keypair_from_private_bytes(Keypair.STATIC, i_private)
        initiator.set_keypair_from_public_bytes(Keypair.REMOTE_STATIC, r_public)
        responder = NoiseConnection.from_name(name)
        responder.set_as_responder()
        responder.set_psks(psk)
        responder.set_keypair_from_private_bytes(Keypair.STATIC, r_private)
        responder.set_keypair_from_public_bytes(Keypair.REMOTE_STATIC, i_public)
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
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(ROUNDS):
            for name, runner in runners.items():
                samples[name].append(_time(runner))
    finally:
        if gc_was_enabled:
            gc.enable()

    median = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "fill_handshake_us": round(median["fill"], 1),
        "x25519_ops_us": round(median["x25519"], 1),
        "noise_only_us": round(median["noise_only"], 1),
        "ratio": round(median["fill"] / median["x25519"], 3),
        "noise_only_ratio": round(median["noise_only"] / median["x25519"], 3),
        "x25519_keygens": KEYGENS,
        "x25519_exchanges": EXCHANGES,
        "rounds": ROUNDS,
        "runs_per_round": PER_ROUND,
        "target_ratio": 2.0,
    }
