"""Deterministic test vectors for the channel's pairing and fill messages.

Run `python -m tests.vectors.generate` from the repository root to rewrite
`tests/vectors/channel-v1.json`; `tests/channel/test_vectors.py` checks that
the file matches what the code produces. Another implementation can replay
the recorded random draws (in order) and clock, and must produce the same
frames, links and states byte for byte. See docs/protocol.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from blindfill.channel import (
    ApproverChannel,
    BrowserChannel,
    BrowserPairing,
    ConfirmationNeeded,
    DeclineReason,
    FieldRole,
    FormKind,
    Grant,
    PairingOffer,
    ReplyReady,
)
from blindfill.channel._keys import fill_psk
from blindfill.channel.testing import FakeClock, SeededEntropy
from blindfill.sensitive import Secret

PATH = Path(__file__).with_name("channel-v1.json")
SEED = b"blindfill test vectors v1"
START = 1_750_000_000.0


def _pairing(mode: str, clock: FakeClock, entropy: SeededEntropy) -> dict[str, Any]:
    first_draw = len(entropy.draws)
    offer = PairingOffer.create(
        approver_name="vector-approver", clock=clock, entropy=entropy
    )
    secret = offer.token if mode == "token" else offer.code
    pairing = BrowserPairing(secret, agent_name="vector-agent", entropy=entropy)
    hello = pairing.hello()
    reply = offer.receive(hello)
    assert isinstance(reply, ReplyReady)
    finish = pairing.receive_reply(reply.frame)
    event = offer.receive(finish)
    assert isinstance(event, ConfirmationNeeded)
    paired = offer.confirm()
    browser = pairing.receive_result(paired.frame)
    return {
        "mode": mode,
        "secret": secret.reveal(),
        "agent_name": "vector-agent",
        "approver_name": "vector-approver",
        "random_draws": [d.hex() for d in entropy.draws[first_draw:]],
        "frames": {
            "pair_hello": hello.hex(),
            "pair_reply": reply.frame.hex(),
            "pair_finish": finish.hex(),
            "pair_result": paired.frame.hex(),
        },
        "fingerprint": event.fingerprint,
        "chain_link_0": browser.chain_link.reveal().hex(),
        "browser_state": json.loads(browser.to_bytes()),
        "approver_state": json.loads(paired.state.to_bytes()),
        "_states": (browser, paired.state),
    }


def _fills(
    pairing: dict[str, Any], clock: FakeClock, entropy: SeededEntropy
) -> list[dict[str, Any]]:
    browser_state, approver_state = pairing.pop("_states")
    browser = BrowserChannel(browser_state, clock=clock, entropy=entropy)
    approver = ApproverChannel(approver_state, clock=clock, entropy=entropy)
    plans: list[tuple[str, Any]] = [
        ("grant", {FieldRole.USERNAME: "alice@bank.test", FieldRole.PASSWORD: "pw-1"}),
        ("decline", DeclineReason.DECLINED),
        ("lost_then_retry", {FieldRole.PASSWORD: "pw-3"}),
        ("grant", {FieldRole.PASSWORD: "pw-4"}),
    ]
    fills = []
    for kind, plan in plans:
        clock.advance(60)
        first_draw = len(entropy.draws)
        state = browser.state
        record: dict[str, Any] = {
            "kind": kind,
            "clock": clock(),
            "epoch": state.epoch,
            "psk": fill_psk(
                state.chain_link.reveal(), state.pairing_id, state.epoch
            ).hex(),
        }
        if kind == "lost_then_retry":
            lost = browser.start_fill(_request(browser))
            answered = approver.receive(lost.frame).grant(_secrets(plan))
            record["lost_message_1"] = lost.frame.hex()
            record["lost_message_2"] = answered.frame.hex()
            clock.advance(5)
        start = browser.start_fill(_request(browser))
        pending = approver.receive(start.frame)
        if isinstance(plan, DeclineReason):
            reply = pending.decline(plan)
        else:
            reply = pending.grant(_secrets(plan))
        outcome = start.pending.receive(reply.frame)
        decision = outcome.decision
        record.update(
            {
                "request": start.pending.request.to_wire(),
                "retry_token": start.state.retry_token.reveal().hex()
                if start.state.retry_token
                else None,
                "message_1": start.frame.hex(),
                "decision": (
                    {r.value: v.reveal() for r, v in decision.values.items()}
                    if isinstance(decision, Grant)
                    else decision.reason.value
                ),
                "message_2": reply.frame.hex(),
                "random_draws": [d.hex() for d in entropy.draws[first_draw:]],
                "next_chain_link": outcome.state.chain_link.reveal().hex(),
                "browser_state_after": json.loads(outcome.state.to_bytes()),
                "approver_state_after": json.loads(reply.state.to_bytes()),
            }
        )
        fills.append(record)
    return fills


def _request(browser: BrowserChannel) -> Any:
    return browser.new_request(
        frame_origin="https://login.bank.test",
        top_origin="https://bank.test",
        form_kind=FormKind.LOGIN,
        fields=(FieldRole.USERNAME, FieldRole.PASSWORD),
        reason="download the March statement",
    )


def _secrets(values: dict[FieldRole, str]) -> dict[FieldRole, Secret[str]]:
    return {role: Secret(value) for role, value in values.items()}


def generate() -> dict[str, Any]:
    """Build the vectors from the fixed seed and clock."""
    vectors: dict[str, Any] = {
        "about": (
            "Deterministic vectors for blindfill channel protocol version 1. "
            "Randomness: draw i of n bytes is the first n bytes of "
            "SHA-256(seed | u64 i | u32 0) | SHA-256(seed | u64 i | u32 1) | ...; "
            "every draw is also listed in order. X25519 keys are 32-byte draws."
        ),
        "suites": {
            "pairing": "Noise_XXpsk3_25519_ChaChaPoly_SHA256",
            "fill": "Noise_KKpsk0_25519_ChaChaPoly_SHA256",
        },
        "seed": SEED.hex(),
        "clock_start": START,
        "cases": [],
    }
    for mode in ("token", "code"):
        clock = FakeClock(START)
        entropy = SeededEntropy(SEED + mode.encode())
        pairing = _pairing(mode, clock, entropy)
        fills = _fills(pairing, clock, entropy)
        vectors["cases"].append(
            {"seed": (SEED + mode.encode()).hex(), "pairing": pairing, "fills": fills}
        )
    return vectors


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=1, sort_keys=True) + "\n"


def main() -> int:
    PATH.write_text(render(generate()))
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
