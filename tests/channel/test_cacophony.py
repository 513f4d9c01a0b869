"""The cacophony test vectors for the Noise suites the channel uses.

/work/shared/vectors/noise/cacophony.txt (public domain, see its NOTICE)
holds vectors for many patterns and suites; the channel uses two, both run
here through the same `NoiseHandshake` seam and backend the channel uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from blindfill.channel._keys import KeyPair, PublicKey
from blindfill.channel._noise import FILL_PROTOCOL, PAIRING_PROTOCOL, NoiseHandshake

VECTORS = Path("/work/shared/vectors/noise/cacophony.txt")
USED = {FILL_PROTOCOL.decode(), PAIRING_PROTOCOL.decode()}


def _vectors() -> list[dict[str, Any]]:
    if not VECTORS.exists():
        return []
    data = json.loads(VECTORS.read_text())
    return [v for v in data["vectors"] if v["protocol_name"] in USED]


def _side(vector: dict[str, Any], prefix: str, *, initiator: bool) -> NoiseHandshake:
    remote = vector.get(f"{prefix}_remote_static")
    return NoiseHandshake(
        vector["protocol_name"].encode(),
        initiator=initiator,
        prologue=bytes.fromhex(vector[f"{prefix}_prologue"]),
        static=KeyPair.from_private_bytes(bytes.fromhex(vector[f"{prefix}_static"])),
        ephemeral=KeyPair.from_private_bytes(
            bytes.fromhex(vector[f"{prefix}_ephemeral"])
        ),
        remote_static=PublicKey(bytes.fromhex(remote)) if remote else None,
        psk=bytes.fromhex(vector[f"{prefix}_psks"][0]),
    )


def test_vectors_for_both_suites_are_present() -> None:
    """The shared file holds vectors for KKpsk0 and XXpsk3 with our suite."""
    if not VECTORS.exists():
        pytest.skip("the shared cacophony vectors are not on this machine")
    assert {v["protocol_name"] for v in _vectors()} == USED


@pytest.mark.parametrize(
    "vector", _vectors(), ids=lambda v: v["protocol_name"] if isinstance(v, dict) else v
)
def test_cacophony_vector(vector: dict[str, Any]) -> None:
    """Every handshake and transport message matches the published bytes."""
    initiator = _side(vector, "init", initiator=True)
    responder = _side(vector, "resp", initiator=False)
    messages = vector["messages"]
    sender, receiver = initiator, responder
    index = 0
    while not (initiator.finished and responder.finished):
        message = messages[index]
        payload = bytes.fromhex(message["payload"])
        ciphertext = sender.write(payload, what=f"message {index}")
        assert ciphertext.hex() == message["ciphertext"]
        assert receiver.read(ciphertext, what=f"message {index}") == payload
        sender, receiver = receiver, sender
        index += 1
    assert initiator.handshake_hash.hex() == vector["handshake_hash"]
    assert responder.handshake_hash == initiator.handshake_hash

    # Transport messages alternate direction, starting with the side whose
    # turn it is after the handshake.
    for message in messages[index:]:
        payload = bytes.fromhex(message["payload"])
        ciphertext = sender.encrypt(payload, what="transport")
        assert ciphertext.hex() == message["ciphertext"]
        assert receiver.decrypt(ciphertext, what="transport") == payload
        sender, receiver = receiver, sender
