"""The hand-written KKpsk0 fill handshake against `noiseprotocol`.

`FillHandshake` must produce exactly the bytes of the reference seam
`NoiseHandshake` (which runs `noiseprotocol`): the same messages, payloads
and handshake hash for any keys, prologue, PSK and payloads, in either role
and mixed with the reference on the other end. It must also fail the same
way: only blindfill errors, and a broken handshake after a failure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blindfill.channel._frames import FrameHeader, FrameType
from blindfill.channel._keys import KeyPair, PublicKey
from blindfill.channel._kk import FillHandshake
from blindfill.channel._noise import FILL_PROTOCOL, NoiseHandshake
from blindfill.channel.testing import SeededEntropy
from blindfill.errors import (
    AuthenticationError,
    ChannelBrokenError,
    LocalProtocolError,
    RemoteProtocolError,
)

VECTORS = Path("/work/shared/vectors/noise/cacophony.txt")
ENTROPY = SeededEntropy(b"kk")
INITIATOR = KeyPair.generate(ENTROPY)
RESPONDER = KeyPair.generate(ENTROPY)
PROLOGUE = FrameHeader(FrameType.FILL_REQUEST, bytes(16), 0).prologue()

Handshake = FillHandshake | NoiseHandshake


def _make(
    fast: bool,
    *,
    initiator: bool,
    prologue: bytes,
    static: KeyPair,
    ephemeral: KeyPair,
    remote_static: PublicKey,
    psk: bytes,
) -> Handshake:
    if fast:
        return FillHandshake(
            initiator=initiator,
            prologue=prologue,
            static=static,
            ephemeral=ephemeral,
            remote_static=remote_static,
            psk=psk,
        )
    return NoiseHandshake(
        FILL_PROTOCOL,
        initiator=initiator,
        prologue=prologue,
        static=static,
        ephemeral=ephemeral,
        remote_static=remote_static,
        psk=psk,
    )


def _pair(
    *,
    fast_initiator: bool = True,
    fast_responder: bool = True,
    psk: bytes = bytes(32),
    responder_psk: bytes | None = None,
) -> tuple[Handshake, Handshake]:
    initiator = _make(
        fast_initiator,
        initiator=True,
        prologue=PROLOGUE,
        static=INITIATOR,
        ephemeral=KeyPair.generate(ENTROPY),
        remote_static=PublicKey(RESPONDER.public),
        psk=psk,
    )
    responder = _make(
        fast_responder,
        initiator=False,
        prologue=PROLOGUE,
        static=RESPONDER,
        ephemeral=KeyPair.generate(ENTROPY),
        remote_static=PublicKey(INITIATOR.public),
        psk=psk if responder_psk is None else responder_psk,
    )
    return initiator, responder


def _kk_vectors() -> list[dict[str, Any]]:
    if not VECTORS.exists():
        return []
    data = json.loads(VECTORS.read_text())
    return [v for v in data["vectors"] if v["protocol_name"] == FILL_PROTOCOL.decode()]


@pytest.mark.parametrize("vector", _kk_vectors())
def test_cacophony_vector(vector: dict[str, Any]) -> None:
    """Both handshake messages and the hash match the published KKpsk0 bytes."""

    def side(prefix: str, *, initiator: bool) -> Handshake:
        return FillHandshake(
            initiator=initiator,
            prologue=bytes.fromhex(vector[f"{prefix}_prologue"]),
            static=KeyPair.from_private_bytes(
                bytes.fromhex(vector[f"{prefix}_static"])
            ),
            ephemeral=KeyPair.from_private_bytes(
                bytes.fromhex(vector[f"{prefix}_ephemeral"])
            ),
            remote_static=PublicKey(bytes.fromhex(vector[f"{prefix}_remote_static"])),
            psk=bytes.fromhex(vector[f"{prefix}_psks"][0]),
        )

    initiator = side("init", initiator=True)
    responder = side("resp", initiator=False)
    for index, (sender, receiver) in enumerate(
        [(initiator, responder), (responder, initiator)]
    ):
        message = vector["messages"][index]
        payload = bytes.fromhex(message["payload"])
        ciphertext = sender.write(payload, what="message")
        assert ciphertext.hex() == message["ciphertext"]
        assert receiver.read(ciphertext, what="message") == payload
    assert initiator.handshake_hash.hex() == vector["handshake_hash"]
    assert responder.handshake_hash == initiator.handshake_hash


def test_the_kkpsk0_vector_is_present() -> None:
    """The shared vector file holds the KKpsk0 vector for the fill suite."""
    if not VECTORS.exists():
        pytest.skip("the shared cacophony vectors are not on this machine")
    assert _kk_vectors()


_keys = st.binary(min_size=32, max_size=32)


@settings(max_examples=60, deadline=None)
@given(
    private_keys=st.lists(_keys, min_size=4, max_size=4),
    prologue=st.binary(max_size=80),
    psk=_keys,
    payloads=st.lists(st.binary(max_size=1200), min_size=2, max_size=2),
    fast_initiator=st.booleans(),
    fast_responder=st.booleans(),
)
def test_same_bytes_as_noiseprotocol(  # noqa: PLR0917 (hypothesis passes all)
    private_keys: list[bytes],
    prologue: bytes,
    psk: bytes,
    payloads: list[bytes],
    fast_initiator: bool,
    fast_responder: bool,
) -> None:
    """On random inputs the messages, payloads and hash equal the reference's.

    The hand-written side and `noiseprotocol` run the same handshake side by
    side; each also completes a handshake with the other on the far end.
    """
    s_i, s_r, e_i, e_r = (KeyPair.from_private_bytes(k) for k in private_keys)

    def run(fast_i: bool, fast_r: bool) -> tuple[bytes, bytes, bytes]:
        initiator = _make(
            fast_i,
            initiator=True,
            prologue=prologue,
            static=s_i,
            ephemeral=e_i,
            remote_static=PublicKey(s_r.public),
            psk=psk,
        )
        responder = _make(
            fast_r,
            initiator=False,
            prologue=prologue,
            static=s_r,
            ephemeral=e_r,
            remote_static=PublicKey(s_i.public),
            psk=psk,
        )
        first = initiator.write(payloads[0], what="1")
        assert responder.read(first, what="1") == payloads[0]
        second = responder.write(payloads[1], what="2")
        assert initiator.read(second, what="2") == payloads[1]
        assert initiator.finished
        assert responder.finished
        assert initiator.handshake_hash == responder.handshake_hash
        return first, second, initiator.handshake_hash

    reference = run(False, False)
    assert run(fast_initiator, fast_responder) == reference


def test_outputs_are_bytes() -> None:
    """Messages, payloads and the hash are immutable bytes."""
    initiator, responder = _pair()
    first = initiator.write(b"one", what="1")
    payload = responder.read(bytearray(first), what="1")  # type: ignore[arg-type]
    assert type(first) is bytes
    assert type(payload) is bytes
    initiator.read(responder.write(b"two", what="2"), what="2")
    assert type(initiator.handshake_hash) is bytes


def test_wrong_psk_fails_authentication_and_breaks_the_handshake() -> None:
    """A PSK mismatch is an AuthenticationError; the handshake is then broken."""
    initiator, responder = _pair(responder_psk=bytes([1]) * 32)
    message = initiator.write(b"payload", what="test")
    with pytest.raises(AuthenticationError) as caught:
        responder.read(message, what="test message")
    assert "test message failed authentication" in str(caught.value)
    with pytest.raises(ChannelBrokenError):
        responder.read(message, what="test message")
    with pytest.raises(ChannelBrokenError):
        responder.write(b"", what="test answer")


@pytest.mark.parametrize("offset", [0, 31, 32, 40, 47])
def test_any_changed_byte_fails_authentication(offset: int) -> None:
    """A flipped bit in the key, the ciphertext or the tag is refused."""
    initiator, responder = _pair()
    message = bytearray(initiator.write(bytes(8), what="1"))
    message[offset] ^= 1
    with pytest.raises(AuthenticationError):
        responder.read(bytes(message), what="1")


def test_forged_message_two_fails_and_breaks_the_initiator() -> None:
    """Message 2 from other keys is refused; the initiator is then broken."""
    initiator, responder = _pair()
    responder.read(initiator.write(b"", what="1"), what="1")
    answer = bytearray(responder.write(b"verdict", what="2"))
    answer[-1] ^= 1
    with pytest.raises(AuthenticationError):
        initiator.read(bytes(answer), what="2")
    with pytest.raises(ChannelBrokenError):
        initiator.read(bytes(answer), what="2")
    assert not initiator.finished


def test_low_order_ephemeral_is_a_bad_public_key() -> None:
    """X25519's refusal of an all-zero shared secret becomes bad_public_key."""
    initiator, responder = _pair()
    message = bytearray(initiator.write(b"", what="1"))
    message[:32] = bytes(32)
    with pytest.raises(AuthenticationError) as caught:
        responder.read(bytes(message), what="1")
    assert caught.value.code == "bad_public_key"


def test_short_message_fails_authentication() -> None:
    """A message too short for a key and a tag is refused without a crash."""
    _, responder = _pair()
    with pytest.raises(AuthenticationError):
        responder.read(bytes(47), what="1")
    with pytest.raises(ChannelBrokenError):
        responder.read(bytes(48), what="1")


def test_oversize_message_is_refused() -> None:
    """A message over the 65,535-byte Noise limit is the peer's fault."""
    _, responder = _pair()
    with pytest.raises(RemoteProtocolError) as caught:
        responder.read(bytes(65_536), what="1")
    assert caught.value.code == "frame_too_large"


def test_oversize_payload_is_refused_before_sending() -> None:
    """A payload that would make message 1 too large is our own error."""
    initiator, _ = _pair()
    with pytest.raises(LocalProtocolError) as caught:
        initiator.write(bytes(65_535), what="1")
    assert caught.value.code == "message_too_large"


def test_out_of_order_use_is_a_local_protocol_error() -> None:
    """Reading or writing out of turn is misuse, named as such."""
    initiator, responder = _pair()
    with pytest.raises(LocalProtocolError) as caught:
        initiator.read(bytes(48), what="1")
    assert caught.value.code == "noise_misuse"
    with pytest.raises(LocalProtocolError) as caught:
        responder.write(b"", what="2")
    assert caught.value.code == "noise_misuse"


def test_handshake_hash_needs_a_finished_handshake() -> None:
    """The hash is only available once both messages went through."""
    initiator, responder = _pair()
    with pytest.raises(LocalProtocolError):
        initiator.handshake_hash  # noqa: B018
    responder.read(initiator.write(b"", what="1"), what="1")
    with pytest.raises(LocalProtocolError):
        responder.handshake_hash  # noqa: B018


def test_psk_must_be_32_bytes() -> None:
    """A PSK of another size is refused at construction."""
    with pytest.raises(LocalProtocolError):
        _pair(psk=bytes(31))
