"""The one seam between blindfill and `noiseprotocol` (and `cryptography`).

No exception type of either library leaves this module or `_kk`, the
hand-written fill handshake, which maps its errors with `foreign_error`
from here. Pairing runs through `NoiseHandshake`, and so do the tests that
hold `_kk` to the library's bytes. `NoiseHandshake` wraps one
`NoiseConnection` and works around its quirks:

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
  bytes. It also re-parses the name each time; connections are cloned from
  a parsed template instead (`_fresh_connection`).
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
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from noise.backends.default import DefaultNoiseBackend
from noise.backends.default.ciphers import ChaCha20Cipher
from noise.backends.default.diffie_hellmans import ED25519
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

from blindfill.channel._keys import (
    KEY_SIZE,
    KeyPair,
    PublicKey,
    hmac_pads,
    hmac_sha256,
)
from blindfill.errors import (
    AuthenticationError,
    BlindfillError,
    ChannelBrokenError,
    LocalProtocolError,
    RemoteProtocolError,
)

__all__ = [
    "FILL_PROTOCOL",
    "FOREIGN",
    "MAX_MESSAGE",
    "PAIRING_PROTOCOL",
    "NoiseHandshake",
    "foreign_error",
    "translated",
]

FILL_PROTOCOL: Final = b"Noise_KKpsk0_25519_ChaChaPoly_SHA256"
PAIRING_PROTOCOL: Final = b"Noise_XXpsk3_25519_ChaChaPoly_SHA256"
MAX_MESSAGE: Final = 65_535


class _SHA256(SHA256Hash):  # type: ignore[misc]
    def hash(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()


def _hmac_sha256(key: bytes, data: bytes, algorithm: object = None) -> bytes:
    """HMAC-SHA-256 (RFC 2104) from two one-shot hashes."""
    return hmac_sha256(key, data)


def _hkdf(
    chaining_key: bytes, input_key_material: bytes, num_outputs: int, hmac_hash_fn: Any
) -> tuple[bytes, ...]:
    """Noise's HKDF (section 4.3), padding temp_key only once."""
    sha256 = hashlib.sha256
    ipad, opad = hmac_pads(hmac_sha256(chaining_key, input_key_material))
    output1 = sha256(opad + sha256(ipad + b"\x01").digest()).digest()
    output2 = sha256(opad + sha256(ipad + output1 + b"\x02").digest()).digest()
    if num_outputs == 2:
        return output1, output2
    output3 = sha256(opad + sha256(ipad + output2 + b"\x03").digest()).digest()
    return output1, output2, output3


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


class _KeyPair25519(KeyPair25519):  # type: ignore[misc]
    @classmethod
    def from_public_bytes(cls, public_bytes: bytes) -> _KeyPair25519:
        # Keeps the received bytes instead of serialising the key again.
        if len(public_bytes) != KEY_SIZE:
            raise NoiseValueError("an X25519 public key is 32 bytes")
        public = X25519PublicKey.from_public_bytes(public_bytes)
        return cls(public=public, public_bytes=bytes(public_bytes))


class _X25519(ED25519):  # type: ignore[misc]
    """X25519 without the library's per-call ABC isinstance checks.

    Our keys are always `cryptography` X25519 objects: `KeyPair` and
    `PublicKey` build them, and `_KeyPair25519` builds received ones.
    """

    @property
    def klass(self) -> type[_KeyPair25519]:
        return _KeyPair25519

    def dh(self, private_key: X25519PrivateKey, public_key: X25519PublicKey) -> bytes:
        return private_key.exchange(public_key)


class _Backend(DefaultNoiseBackend):  # type: ignore[misc]
    """The default backend with cheaper SHA-256, HMAC, HKDF and cipher set-up.

    Each computes exactly what the default does (the cacophony vectors check
    it); only the number of objects built per handshake changes.
    """

    def __init__(self) -> None:
        super().__init__()
        self.diffie_hellmans = {"25519": _X25519}
        self.keypairs = {"25519": _KeyPair25519}
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


FOREIGN: Final = (
    InvalidTag,
    NoiseInvalidMessage,
    ValueError,
    NoiseValueError,
    *_MISUSE,
)


def foreign_error(exc: Exception, what: str) -> BlindfillError:
    """The blindfill error for one of the `FOREIGN` exceptions."""
    if isinstance(exc, (InvalidTag, NoiseInvalidMessage)):
        return AuthenticationError(
            f"{what} failed authentication: it was changed in transit, sent "
            "with other keys, or belongs to another epoch",
        )
    if isinstance(exc, (ValueError, NoiseValueError)):
        # A low-order or malformed public key makes X25519 refuse to compute
        # a shared secret.
        return AuthenticationError(
            f"{what} carries a key that cannot be used", code="bad_public_key"
        )
    return LocalProtocolError(
        f"{what}: the handshake was driven out of order ({type(exc).__name__})",
        code="noise_misuse",
    )


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Re-raise any foreign exception from the block as a blindfill error."""
    try:
        yield
    except FOREIGN as exc:
        raise foreign_error(exc, what) from exc


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
            conn = _fresh_connection(protocol)
            conn.set_prologue(prologue)
            # A placeholder keeps the library's checks happy until set_psk;
            # _check_usable refuses to reach the message that would use it.
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
            raise RemoteProtocolError(
                f"{what} exceeds {MAX_MESSAGE} bytes", code="frame_too_large"
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


_TEMPLATES: dict[bytes, NoiseConnection] = {}


def _fresh_connection(protocol: bytes) -> NoiseConnection:
    """A new connection for `protocol`, cloned from a parsed template.

    `from_name` parses the name and builds the pattern, functions and
    partials every time; they are stateless, so a clone shares them. What a
    handshake mutates is fresh per clone: the keypairs dict here; psks,
    prologue, role and handshake state are assigned (not mutated) later, and
    the pattern's token lists are copied by the handshake state.
    """
    template = _TEMPLATES.get(protocol)
    if template is None:
        template = NoiseConnection.from_name(protocol, backend=BACKEND)
        _TEMPLATES[protocol] = template
    conn = NoiseConnection.__new__(NoiseConnection)
    conn.__dict__.update(template.__dict__)
    shared = template.noise_protocol
    proto = shared.__class__.__new__(shared.__class__)
    proto.__dict__.update(shared.__dict__)
    proto.keypairs = {"s": None, "e": None, "rs": None, "re": None}
    conn.noise_protocol = proto
    return conn


def _noise_pair(pair: KeyPair) -> KeyPair25519:
    return KeyPair25519(
        private=pair.private, public=pair.public_key, public_bytes=pair.public
    )
