"""The fill handshake, Noise KKpsk0, written out for its one fixed pattern.

    KKpsk0:
      -> s
      <- s
      ...
      -> psk, e, es, ss
      <- e, ee, se

`noiseprotocol` runs any pattern through a generic interpreter: token lists,
keypair dictionaries, a cipher state object per key, a backend lookup per
call. For one fixed pattern, suite and role that machinery costs about as
much as the handshake's eight X25519 operations. `FillHandshake` computes the
same bytes with the Noise specification's processing rules (revision 34,
sections 5 and 9) spelled out in order, on plain values:

* `ck` and `h` are `bytes`. The cipher nonce is always 0: each handshake
  message encrypts exactly one payload, right after a `MixKey` reset it.
* HKDF computes only the outputs that are used: the key output of a
  `MixKey` that the next `MixKey` replaces before anything is encrypted is
  never derived. The outputs that are derived are the specification's.
* The static keys are `cryptography` objects built once per pairing state
  (`KeyPair`, `PublicKey`), never per fill.

`NoiseHandshake` (`noiseprotocol`) stays the reference: the cacophony vectors
run through both, and a test compares them on random keys, prologues, PSKs
and payloads. Errors are those of the seam in `_noise`: `InvalidTag` and
X25519's `ValueError` become `AuthenticationError`, misuse is a
`LocalProtocolError`, and a failed handshake answers every later call with
`ChannelBrokenError`.
"""

from __future__ import annotations

import hashlib
from enum import Enum
from typing import Final, NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from blindfill.channel._keys import HMAC_IPAD, HMAC_OPAD, KEY_SIZE, KeyPair, PublicKey
from blindfill.channel._noise import FILL_PROTOCOL, MAX_MESSAGE, foreign_error
from blindfill.errors import (
    AuthenticationError,
    ChannelBrokenError,
    LocalProtocolError,
    RemoteProtocolError,
)

__all__ = ["FillHandshake"]

_sha256: Final = hashlib.sha256
# The protocol name is longer than 32 bytes, so h starts as its hash.
_INITIAL_H: Final = _sha256(FILL_PROTOCOL).digest()
_TAG: Final = 16
_NONCE: Final = bytes(12)  # n = 0, see above


# HMAC-SHA-256 keyed with a 32-byte key, as every key here is: the key is
# zero-padded to the 64-byte block and XORed with the pads by translation.
_ZEROS: Final = bytes(32)


def _hkdf1(ck: bytes, ikm: bytes) -> bytes:
    """Noise's HKDF(ck, ikm), first output only: the next chaining key."""
    key = ck + _ZEROS
    inner = _sha256(key.translate(HMAC_IPAD) + ikm).digest()
    key = _sha256(key.translate(HMAC_OPAD) + inner).digest() + _ZEROS  # temp_key
    inner = _sha256(key.translate(HMAC_IPAD) + b"\x01").digest()
    return _sha256(key.translate(HMAC_OPAD) + inner).digest()


def _hkdf2(ck: bytes, ikm: bytes) -> tuple[bytes, bytes]:
    """Noise's HKDF(ck, ikm) with two outputs."""
    key = ck + _ZEROS
    inner = _sha256(key.translate(HMAC_IPAD) + ikm).digest()
    key = _sha256(key.translate(HMAC_OPAD) + inner).digest() + _ZEROS  # temp_key
    inner, outer = key.translate(HMAC_IPAD), key.translate(HMAC_OPAD)
    output1 = _sha256(outer + _sha256(inner + b"\x01").digest()).digest()
    output2 = _sha256(outer + _sha256(inner + output1 + b"\x02").digest()).digest()
    return output1, output2


def _dh(private: X25519PrivateKey, public: X25519PublicKey) -> bytes:
    """X25519, in one place so that tests can count the exchanges."""
    return private.exchange(public)


class _Step(Enum):
    """Where one side of the handshake stands."""

    MESSAGE_1 = 1  # message 1 is next
    MESSAGE_2 = 2  # message 2 is next
    DONE = 3  # both messages done; only the handshake hash is left
    BROKEN = 4  # a message failed; nothing more may happen


class FillHandshake:
    """One side of one KKpsk0 handshake, with bytes in and bytes out.

    The initiator (browser side) writes message 1 and reads message 2; the
    responder (approver) reads message 1 and writes message 2. Both static
    keys are known in advance and the PSK is mixed in first. Every method
    raises only blindfill errors; after a failed read or write the
    handshake is broken and later calls raise `ChannelBrokenError`.
    """

    __slots__ = (
        "_ck",
        "_e",
        "_h",
        "_initiator",
        "_psk",
        "_re",
        "_rs",
        "_s",
        "_step",
    )

    def __init__(
        self,
        *,
        initiator: bool,
        prologue: bytes,
        static: KeyPair,
        ephemeral: KeyPair,
        remote_static: PublicKey,
        psk: bytes,
    ) -> None:
        if len(psk) != KEY_SIZE:
            raise LocalProtocolError("a fill PSK is 32 bytes", code="noise_misuse")
        self._initiator = initiator
        self._s = static
        self._e = ephemeral
        self._rs = remote_static
        self._re: X25519PublicKey | None = None  # from the message read
        self._psk = psk
        self._step = _Step.MESSAGE_1

        # Initialize, then the pre-messages: the initiator's static key, then
        # the responder's.
        self._ck = _INITIAL_H
        h = _sha256(_INITIAL_H + prologue).digest()
        first, second = (
            (static.public, remote_static.raw)
            if initiator
            else (remote_static.raw, static.public)
        )
        h = _sha256(h + first).digest()
        self._h = _sha256(h + second).digest()

    @property
    def finished(self) -> bool:
        return self._step is _Step.DONE

    @property
    def handshake_hash(self) -> bytes:
        """The handshake hash `h`: public, for salts and labels only."""
        if self._step is not _Step.DONE:
            raise LocalProtocolError("the handshake hash exists once it finished")
        return self._h

    def write(self, payload: bytes, *, what: str) -> bytes:
        """Write the next handshake message carrying `payload`."""
        first = self._initiator
        step = _Step.MESSAGE_1 if first else _Step.MESSAGE_2
        if self._step is not step:
            self._refuse(step, what)
        try:
            message = self._write_1(payload) if first else self._write_2(payload)
        except (InvalidTag, ValueError) as exc:
            self._step = _Step.BROKEN
            raise foreign_error(exc, what) from exc
        if len(message) > MAX_MESSAGE:
            self._step = _Step.BROKEN
            raise LocalProtocolError(
                f"{what} would exceed {MAX_MESSAGE} bytes", code="message_too_large"
            )
        self._step = _Step.MESSAGE_2 if first else _Step.DONE
        return message

    def read(self, message: bytes, *, what: str) -> bytes:
        """Read the next handshake message and return its payload.

        Raises `AuthenticationError` if it does not authenticate (code
        `bad_public_key` if it carries a key X25519 cannot use) and
        `RemoteProtocolError` if it is over 65,535 bytes. After either the
        handshake is broken.
        """
        first = not self._initiator
        step = _Step.MESSAGE_1 if first else _Step.MESSAGE_2
        if self._step is not step:
            self._refuse(step, what)
        if len(message) > MAX_MESSAGE:
            self._step = _Step.BROKEN
            raise RemoteProtocolError(
                f"{what} exceeds {MAX_MESSAGE} bytes", code="frame_too_large"
            )
        if len(message) < KEY_SIZE + _TAG:
            self._step = _Step.BROKEN
            raise AuthenticationError(
                f"{what} failed authentication: too short for a key and a tag"
            )
        if type(message) is not bytes:
            message = bytes(message)
        try:
            payload = self._read_1(message) if first else self._read_2(message)
        except (InvalidTag, ValueError) as exc:
            self._step = _Step.BROKEN
            raise foreign_error(exc, what) from exc
        self._step = _Step.MESSAGE_2 if first else _Step.DONE
        return payload

    # -- the two messages, each from both ends -------------------------------

    def _write_1(self, payload: bytes) -> bytes:
        # -> psk, e, es, ss
        e, rs = self._e, self._rs.key
        ck, h = self._mix_psk_then_e(e.public)
        ck = _hkdf1(ck, _dh(e.private, rs))  # es
        ck, k = _hkdf2(ck, _dh(self._s.private, rs))  # ss
        return e.public + self._encrypt_and_hash(ck, h, k, payload)

    def _read_1(self, message: bytes) -> bytes:
        re_public = message[:KEY_SIZE]
        ck, h = self._mix_psk_then_e(re_public)
        re = X25519PublicKey.from_public_bytes(re_public)
        s = self._s.private
        ck = _hkdf1(ck, _dh(s, re))  # es
        ck, k = _hkdf2(ck, _dh(s, self._rs.key))  # ss
        return self._decrypt_and_hash(ck, h, k, message[KEY_SIZE:], re)

    def _write_2(self, payload: bytes) -> bytes:
        # <- e, ee, se
        e, re = self._e, self._re
        assert re is not None  # set by reading message 1, which came first
        h = _sha256(self._h + e.public).digest()
        ck = _hkdf1(self._ck, e.public)  # a PSK handshake mixes e as a key too
        ck = _hkdf1(ck, _dh(e.private, re))  # ee
        ck, k = _hkdf2(ck, _dh(e.private, self._rs.key))  # se
        return e.public + self._encrypt_and_hash(ck, h, k, payload)

    def _read_2(self, message: bytes) -> bytes:
        re_public = message[:KEY_SIZE]
        h = _sha256(self._h + re_public).digest()
        ck = _hkdf1(self._ck, re_public)
        re = X25519PublicKey.from_public_bytes(re_public)
        ck = _hkdf1(ck, _dh(self._e.private, re))  # ee
        ck, k = _hkdf2(ck, _dh(self._s.private, re))  # se
        return self._decrypt_and_hash(ck, h, k, message[KEY_SIZE:], re)

    # -- shared steps ---------------------------------------------------------

    def _mix_psk_then_e(self, e_public: bytes) -> tuple[bytes, bytes]:
        # MixKeyAndHash(psk): its third output, a key, is replaced by the
        # MixKey of e below before any encryption, so it is not derived.
        ck, temp_h = _hkdf2(self._ck, self._psk)
        h = _sha256(self._h + temp_h).digest()
        # MixHash(e), then MixKey(e) because this is a PSK handshake.
        h = _sha256(h + e_public).digest()
        return _hkdf1(ck, e_public), h

    def _encrypt_and_hash(self, ck: bytes, h: bytes, k: bytes, payload: bytes) -> bytes:
        ciphertext = ChaCha20Poly1305(k).encrypt(_NONCE, payload, h)
        self._ck = ck
        self._h = _sha256(h + ciphertext).digest()
        return ciphertext

    def _decrypt_and_hash(
        self, ck: bytes, h: bytes, k: bytes, ciphertext: bytes, re: X25519PublicKey
    ) -> bytes:
        payload = ChaCha20Poly1305(k).decrypt(_NONCE, ciphertext, h)
        # Only a message that authenticated changes the state.
        self._ck = ck
        self._h = _sha256(h + ciphertext).digest()
        self._re = re
        return payload

    def _refuse(self, step: _Step, what: str) -> NoReturn:
        if self._step is _Step.BROKEN:
            raise ChannelBrokenError(
                f"cannot continue with {what}: this handshake already failed",
                hint="start a new attempt",
            )
        raise LocalProtocolError(
            f"{what}: the handshake is at {self._step.name.lower()}, not "
            f"{step.name.lower()}",
            code="noise_misuse",
        )
