"""The Noise seam: library quirks become the project's own errors."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from noise.exceptions import (
    NoiseHandshakeError,
    NoiseInvalidMessage,
    NoiseMaxNonceError,
    NoiseProtocolNameError,
    NoisePSKError,
    NoiseValidationError,
    NoiseValueError,
)

from blindfill.channel._frames import FrameHeader, FrameType
from blindfill.channel._keys import KeyPair, PublicKey
from blindfill.channel._noise import (
    FILL_PROTOCOL,
    PAIRING_PROTOCOL,
    NoiseHandshake,
    translated,
)
from blindfill.channel.testing import SeededEntropy
from blindfill.errors import (
    AuthenticationError,
    BlindfillError,
    ChannelBrokenError,
    LocalProtocolError,
    RemoteProtocolError,
)

ENTROPY = SeededEntropy(b"seam")
INITIATOR = KeyPair.generate(ENTROPY)
RESPONDER = KeyPair.generate(ENTROPY)
PROLOGUE = FrameHeader(FrameType.FILL_REQUEST, bytes(16), 0).prologue()


def _kk(*, initiator: bool, psk: bytes = bytes(32)) -> NoiseHandshake:
    me, peer = (INITIATOR, RESPONDER) if initiator else (RESPONDER, INITIATOR)
    return NoiseHandshake(
        FILL_PROTOCOL,
        initiator=initiator,
        prologue=PROLOGUE,
        static=me,
        ephemeral=KeyPair.generate(ENTROPY),
        remote_static=PublicKey(peer.public),
        psk=psk,
    )


def test_outputs_are_bytes_not_bytearray() -> None:
    """write_message's bytearray never leaks out of the seam."""
    message = _kk(initiator=True).write(b"payload", what="test")
    assert type(message) is bytes


def test_wrong_psk_is_an_authentication_error_and_breaks_the_handshake() -> None:
    """InvalidTag becomes AuthenticationError; the handshake then refuses reuse."""
    message = _kk(initiator=True).write(b"payload", what="test")
    responder = _kk(initiator=False, psk=bytes([1]) * 32)
    with pytest.raises(AuthenticationError) as caught:
        responder.read(message, what="test message")
    assert "test message failed authentication" in str(caught.value)
    with pytest.raises(ChannelBrokenError):
        responder.read(message, what="test message")


def test_low_order_key_is_an_authentication_error() -> None:
    """X25519's ValueError on a zero shared secret becomes AuthenticationError."""
    message = bytearray(_kk(initiator=True).write(b"", what="test"))
    message[:32] = bytes(32)  # the all-zero point: no usable shared secret
    with pytest.raises(AuthenticationError) as caught:
        _kk(initiator=False).read(bytes(message), what="test")
    assert caught.value.code == "bad_public_key"


def test_out_of_order_use_is_a_local_protocol_error() -> None:
    """Misuse of the library (reading when it is our turn) is our own error."""
    initiator = _kk(initiator=True)
    with pytest.raises(LocalProtocolError):
        initiator.read(bytes(80), what="test")


def test_oversize_message_is_refused_by_the_seam() -> None:
    """The 65,535-byte Noise limit the library does not check, the seam does."""
    with pytest.raises(RemoteProtocolError) as caught:
        _kk(initiator=False).read(bytes(65_536), what="test")
    assert caught.value.code == "frame_too_large"


def test_peer_static_key_stays_readable_after_xx() -> None:
    """After XX finishes the peer's static key is still available."""
    kwargs = {"prologue": b"p", "psk": bytes(32)}
    initiator = NoiseHandshake(
        PAIRING_PROTOCOL,
        initiator=True,
        static=INITIATOR,
        ephemeral=KeyPair.generate(ENTROPY),
        **kwargs,  # type: ignore[arg-type]
    )
    responder = NoiseHandshake(
        PAIRING_PROTOCOL,
        initiator=False,
        static=RESPONDER,
        ephemeral=KeyPair.generate(ENTROPY),
        **kwargs,  # type: ignore[arg-type]
    )
    responder.read(initiator.write(b"", what="1"), what="1")
    initiator.read(responder.write(b"", what="2"), what="2")
    responder.read(initiator.write(b"", what="3"), what="3")
    assert responder.finished
    assert initiator.finished
    assert responder.remote_static == INITIATOR.public
    assert initiator.remote_static == RESPONDER.public
    assert responder.handshake_hash == initiator.handshake_hash


def test_deferred_psk_must_be_set_before_message_three() -> None:
    """A late PSK that was never supplied is refused, not silently zero."""
    initiator = NoiseHandshake(
        PAIRING_PROTOCOL,
        initiator=True,
        prologue=b"p",
        static=INITIATOR,
        ephemeral=KeyPair.generate(ENTROPY),
    )
    responder = NoiseHandshake(
        PAIRING_PROTOCOL,
        initiator=False,
        prologue=b"p",
        static=RESPONDER,
        ephemeral=KeyPair.generate(ENTROPY),
        psk=bytes(32),
    )
    responder.read(initiator.write(b"", what="1"), what="1")
    initiator.read(responder.write(b"", what="2"), what="2")
    with pytest.raises(LocalProtocolError):
        initiator.write(b"", what="3")


def test_transport_forgery_is_an_authentication_error() -> None:
    """A forged transport message after a handshake fails authentication."""
    initiator = _kk(initiator=True)
    responder = _kk(initiator=False)
    responder.read(initiator.write(b"", what="1"), what="1")
    initiator.read(responder.write(b"", what="2"), what="2")
    sealed = bytearray(responder.encrypt(b"verdict", what="t"))
    sealed[0] ^= 1
    with pytest.raises(AuthenticationError):
        initiator.decrypt(bytes(sealed), what="t")


@pytest.mark.parametrize(
    "foreign",
    [
        InvalidTag(),
        ValueError("Error computing shared key."),
        NoiseHandshakeError("x"),
        NoiseInvalidMessage("x"),
        NoiseValueError("x"),
        NoisePSKError("x"),
        NoiseMaxNonceError("x"),
        NoiseValidationError("x"),
        NoiseProtocolNameError("x"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_foreign_exception_is_translated(foreign: Exception) -> None:
    """Each exception type the libraries raise leaves the seam as our own."""
    with pytest.raises(BlindfillError) as caught, translated("a step"):
        raise foreign
    assert caught.value.__cause__ is foreign
