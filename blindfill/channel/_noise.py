"""The one seam between blindfill and `noiseprotocol` (and `cryptography`).

No exception type of either library leaves this module. `NoiseHandshake`
wraps one `NoiseConnection` and works around its quirks:

* A failed handshake message surfaces as `cryptography`'s `InvalidTag`, a
  low-order public key as a `ValueError` from the X25519 exchange, and misuse
  as one of `noise.exceptions`; all become `AuthenticationError` (the peer's
  bytes did not authenticate) or `LocalProtocolError` (we called it wrongly).
* `write_message` returns a `bytearray`, which `encrypt` and our frames
  refuse; every output here is `bytes`.
* The peer's static key is gone once an XX handshake finishes (the library
  deletes its handshake state); we keep a reference to that state and read
  the key from it.
* After a failed read the connection is half-advanced and unusable; the
  wrapper marks itself broken and answers later calls with
  `ChannelBrokenError` instead of garbage.
* The library does not enforce the 65,535-byte message limit; we do.
* `from_name` accepts a `str` but then fails on it; names are passed as
  bytes.
* Setting an ephemeral key before `start_handshake` makes the library warn
  (a warning is an error in our tests); the fixed ephemeral that tests and
  vectors need is put into the handshake state right after it starts.
* XXpsk3 mixes its PSK in message 3, and when the PSK comes out of SPAKE2 it
  is only known after message 1 is read; `set_psk` supplies it late.

One cipher suite per protocol version: version 1 uses Curve25519,
ChaCha20-Poly1305 and SHA-256 (SHA-256 measured faster than BLAKE2s here).
The library's default backend builds a `cryptography` HMAC object for each
of the ~25 HMACs a handshake side computes, and an AEAD object for every
key the handshake derives; together that costs about as much as the
handshake's X25519 work. `_Backend` computes the same functions with fewer
objects (see its docstring); the cacophony vectors check the result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from noise.backends.default import DefaultNoiseBackend
from noise.backends.default.ciphers import ChaCha20Cipher
from noise.backends.default.hashes import SHA256Hash
from noise.backends.default.keypairs import KeyPair25519
from noise.connection import NoiseConnection
from noise.constants import Empty
from noise.exceptions import (
    NoiseHandshakeError,
    NoiseInvalidMessage,
    NoiseMaxNonceError,
    NoiseProtocolNameError,
    NoisePSKError,
    NoiseValidationError,
    NoiseValueError,
)

from blindfill.channel._keys import KEY_SIZE, KeyPair, PublicKey
from blindfill.errors import (
    AuthenticationError,
    ChannelBrokenError,
    LocalProtocolError,
)

__all__ = ["FILL_PROTOCOL", "PAIRING_PROTOCOL", "NoiseHandshake"]

FILL_PROTOCOL: Final = b"Noise_KKpsk0_25519_ChaChaPoly_SHA256"
PAIRING_PROTOCOL: Final = b"Noise_XXpsk3_25519_ChaChaPoly_SHA256"
MAX_MESSAGE: Final = 65_535


class _SHA256(SHA256Hash):  # type: ignore[misc]
    def hash(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()


_BLOCK: Final = 64
_IPAD: Final = bytes(b ^ 0x36 for b in range(256))
_OPAD: Final = bytes(b ^ 0x5C for b in range(256))


def _hmac_pair(key: bytes) -> tuple[Any, Any]:
    """SHA-256 states that have absorbed key^ipad and key^opad (RFC 2104)."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))


def _hmac_sha256(key: bytes, data: bytes, algorithm: object = None) -> bytes:
    inner, outer = _hmac_pair(key)
    inner.update(data)
    outer.update(inner.digest())
    return bytes(outer.digest())


def _hkdf(
    chaining_key: bytes, input_key_material: bytes, num_outputs: int, hmac_hash_fn: Any
) -> tuple[bytes, ...]:
    """Noise's HKDF (section 4.3), keying HMAC with temp_key only once."""
    temp_key = _hmac_sha256(chaining_key, input_key_material)
    inner, outer = _hmac_pair(temp_key)
    outputs: list[bytes] = []
    previous = b""
    for index in range(1, num_outputs + 1):
        step_inner, step_outer = inner.copy(), outer.copy()
        step_inner.update(previous + bytes([index]))
        step_outer.update(step_inner.digest())
        previous = step_outer.digest()
        outputs.append(previous)
    return tuple(outputs)


class _LazyChaCha(ChaCha20Cipher):  # type: ignore[misc]
    """Builds the AEAD object on first use: most handshake keys never encrypt."""

    cipher: ChaCha20Poly1305 | None

    def initialize(self, key: bytes) -> None:
        self._key = key
        self.cipher = None

    def encrypt(self, k: bytes, n: int, ad: bytes, plaintext: bytes) -> bytes:
        if self.cipher is None:
            self.cipher = ChaCha20Poly1305(self._key)
        return bytes(super().encrypt(k, n, ad, plaintext))

    def decrypt(self, k: bytes, n: int, ad: bytes, ciphertext: bytes) -> bytes:
        if self.cipher is None:
            self.cipher = ChaCha20Poly1305(self._key)
        return bytes(super().decrypt(k, n, ad, ciphertext))


class _Backend(DefaultNoiseBackend):  # type: ignore[misc]
    """The default backend with cheaper SHA-256, HMAC, HKDF and cipher set-up.

    Each computes exactly what the default does (the cacophony vectors check
    it); only the number of objects built per handshake changes.
    """

    def __init__(self) -> None:
        super().__init__()
        self.hashes = {"SHA256": _SHA256}
        self.ciphers = {"ChaChaPoly": _LazyChaCha}
        self.hmac = _hmac_sha256
        self.hkdf = _hkdf


BACKEND: Final = _Backend()

_MISUSE: Final = (
    NoiseHandshakeError,
    NoiseValidationError,
    NoisePSKError,
    NoiseProtocolNameError,
    NoiseMaxNonceError,
)


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Re-raise any foreign exception from the block as a blindfill error."""
    try:
        yield
    except (InvalidTag, NoiseInvalidMessage) as exc:
        raise AuthenticationError(
            f"{what} failed authentication: it was changed in transit, sent "
            "with other keys, or belongs to another epoch",
        ) from exc
    except (ValueError, NoiseValueError) as exc:
        # A low-order or malformed public key makes X25519 refuse to compute
        # a shared secret.
        raise AuthenticationError(
            f"{what} carries a key that cannot be used", code="bad_public_key"
        ) from exc
    except _MISUSE as exc:
        raise LocalProtocolError(
            f"{what}: the handshake was driven out of order ({type(exc).__name__})",
            code="noise_misuse",
        ) from exc


class NoiseHandshake:
    """One side of one Noise handshake, with bytes in and bytes out.

    `psk=None` defers the PSK: call `set_psk` before the message that uses it
    (XXpsk3's message 3). Every method raises only blindfill errors; after one
    of them the handshake is broken and further calls raise
    `ChannelBrokenError`.
    """

    __slots__ = ("_broken", "_conn", "_messages", "_psk_missing", "_state")

    def __init__(
        self,
        protocol: bytes,
        *,
        initiator: bool,
        prologue: bytes,
        static: KeyPair,
        ephemeral: KeyPair,
        remote_static: PublicKey | None = None,
        psk: bytes | None = None,
    ) -> None:
        self._broken = False
        self._messages = 0
        self._psk_missing = psk is None
        with translated("starting the handshake"):
            conn = NoiseConnection.from_name(protocol, backend=globals()["BACKEND"])
            conn.set_prologue(prologue)
            # A placeholder keeps the library's checks happy until set_psk;
            # _check_psk refuses to use it.
            conn.set_psks(psk if psk is not None else bytes(KEY_SIZE))
            if initiator:
                conn.set_as_initiator()
            else:
                conn.set_as_responder()
            keypairs = conn.noise_protocol.keypairs
            keypairs["s"] = _noise_pair(static)
            if remote_static is not None:
                keypairs["rs"] = KeyPair25519(
                    public=remote_static.key, public_bytes=remote_static.raw
                )
            conn.start_handshake()
            state = conn.noise_protocol.handshake_state
            state.e = _noise_pair(ephemeral)
        self._conn = conn
        # Held so the peer's static key stays readable after the handshake.
        self._state: Any = state

    def set_psk(self, psk: bytes) -> None:
        """Supply a PSK deferred at construction."""
        if len(psk) != KEY_SIZE or not self._psk_missing:
            raise LocalProtocolError("set_psk takes one deferred 32-byte PSK")
        self._conn.noise_protocol.psks = [psk]
        self._psk_missing = False

    def write(self, payload: bytes, *, what: str) -> bytes:
        """Write the next handshake message carrying `payload`."""
        self._check_usable(what)
        try:
            with translated(what):
                message = bytes(self._conn.write_message(payload))
        except BaseException:
            self._broken = True
            raise
        self._messages += 1
        if len(message) > MAX_MESSAGE:
            self._broken = True
            raise LocalProtocolError(
                f"{what} would exceed {MAX_MESSAGE} bytes", code="message_too_large"
            )
        return message

    def read(self, message: bytes, *, what: str) -> bytes:
        """Read the next handshake message and return its payload.

        Raises `AuthenticationError` if it does not authenticate; the
        handshake is then broken.
        """
        self._check_usable(what)
        if len(message) > MAX_MESSAGE:
            raise LocalProtocolError(
                f"{what} exceeds {MAX_MESSAGE} bytes", code="message_too_large"
            )
        try:
            with translated(what):
                payload = bytes(self._conn.read_message(bytes(message)))
        except BaseException:
            self._broken = True
            raise
        self._messages += 1
        return payload

    def encrypt(self, plaintext: bytes, *, what: str) -> bytes:
        """Encrypt one transport message after the handshake finished."""
        self._check_finished(what)
        with translated(what):
            return bytes(self._conn.encrypt(bytes(plaintext)))

    def decrypt(self, ciphertext: bytes, *, what: str) -> bytes:
        """Decrypt one transport message; `AuthenticationError` if forged."""
        self._check_finished(what)
        try:
            with translated(what):
                return bytes(self._conn.decrypt(bytes(ciphertext)))
        except BaseException:
            self._broken = True
            raise

    @property
    def finished(self) -> bool:
        return bool(self._conn.handshake_finished)

    @property
    def handshake_hash(self) -> bytes:
        """The handshake hash `h`: public, for salts and labels only."""
        if not self.finished:
            raise LocalProtocolError("the handshake hash exists once it finished")
        return bytes(self._conn.get_handshake_hash())

    @property
    def remote_static(self) -> bytes:
        """The peer's static public key, once the handshake revealed it."""
        rs = self._state.rs
        if isinstance(rs, Empty):
            raise LocalProtocolError("the peer's static key is not known yet")
        return bytes(rs.public_bytes)

    def _check_usable(self, what: str) -> None:
        if self._broken:
            raise ChannelBrokenError(
                f"cannot continue with {what}: this handshake already failed",
                hint="start a new attempt",
            )
        if self._psk_missing and self._messages == 2:
            # The only deferred PSK is XXpsk3's, used by message 3.
            raise LocalProtocolError("the PSK must be set before message 3")

    def _check_finished(self, what: str) -> None:
        if self._broken:
            raise ChannelBrokenError(f"cannot continue with {what}: handshake failed")
        if not self.finished:
            raise LocalProtocolError(f"{what} needs a finished handshake")


def _noise_pair(pair: KeyPair) -> KeyPair25519:
    return KeyPair25519(
        private=pair.private, public=pair.public_key, public_bytes=pair.public
    )
