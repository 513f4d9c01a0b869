"""Keys, randomness and every key derivation of the protocol.

All derivations are HKDF with SHA-256 (RFC 5869), each with its own
`info` label that starts with `blindfill/1 ` and ends with the pairing id (and
the epoch where one applies), so no two uses of the same input can collide. A
Noise handshake hash only ever appears as an HKDF salt, never as input key
material: it is computed from public transcript data.

    token PSK      HKDF(ikm=token secret, salt=none,
                        info="blindfill/1 pairing psk token" | pairing id)
    code PSK       HKDF(ikm=SPAKE2 key, salt=none,
                        info="blindfill/1 pairing psk code" | pairing id)
    chain link 0   HKDF(ikm=approver seed | agent seed, salt=h of XX,
                        info="blindfill/1 chain" | pairing id | u64 0)
    fill PSK n     HKDF(ikm=link n, salt=none,
                        info="blindfill/1 fill psk" | pairing id | u64 n)
    link n+1       HKDF(ikm=link n | seed from fill message 2, salt=h of KK,
                        info="blindfill/1 chain" | pairing id | u64 n+1)

HKDF and HMAC are computed here from one-shot `hashlib` calls: building a
`cryptography` HKDF object costs more than the hashing, and a fill derives
four keys this way besides the Noise handshake's own HKDF (which uses
`hmac_pads` too). Tests compare both with `cryptography` on random inputs.

Randomness comes from an `Entropy` object so that tests and the published
vectors can fix it; production code uses `SYSTEM_ENTROPY`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
from typing import Final, Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

from blindfill.errors import InvalidInputError
from blindfill.sensitive import Secret

__all__ = [
    "SYSTEM_ENTROPY",
    "Entropy",
    "KeyPair",
    "PublicKey",
    "SystemEntropy",
    "chain_root",
    "code_psk",
    "fill_psk",
    "fingerprint",
    "hmac_pads",
    "hmac_sha256",
    "next_link",
    "token_psk",
]

KEY_SIZE: Final = 32
_U64: Final = struct.Struct(">Q")


class Entropy(Protocol):
    """Where a channel object takes its randomness from."""

    def random_bytes(self, size: int) -> bytes:
        """Return `size` bytes from a cryptographically secure source."""
        ...

    def x25519_key(self) -> X25519PrivateKey:
        """Return a new X25519 private key."""
        ...


class SystemEntropy:
    """The operating system's random source, used unless a test fixes one."""

    def random_bytes(self, size: int) -> bytes:
        return os.urandom(size)

    def x25519_key(self) -> X25519PrivateKey:
        return X25519PrivateKey.generate()

    def __repr__(self) -> str:
        return "SystemEntropy()"


SYSTEM_ENTROPY: Final = SystemEntropy()


class KeyPair:
    """An X25519 key pair; the repr shows only the start of the public key.

    The public half is computed once here, because computing it costs as much
    as a Diffie-Hellman operation.
    """

    __slots__ = ("private", "public", "public_key")

    def __init__(self, private: X25519PrivateKey) -> None:
        self.private = private
        self.public_key = private.public_key()
        self.public = self.public_key.public_bytes_raw()

    @classmethod
    def generate(cls, entropy: Entropy) -> KeyPair:
        return cls(entropy.x25519_key())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> KeyPair:
        """Raises `InvalidInputError` unless `raw` is 32 bytes."""
        if len(raw) != KEY_SIZE:
            raise InvalidInputError("an X25519 private key is 32 bytes")
        return cls(X25519PrivateKey.from_private_bytes(raw))

    def private_bytes(self) -> Secret[bytes]:
        return Secret(self.private.private_bytes_raw(), kind="private_key")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyPair):
            return NotImplemented
        return self.private_bytes() == other.private_bytes()

    def __hash__(self) -> int:
        return hash(self.public)

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public[:4].hex()}...)"


class PublicKey:
    """A peer's X25519 public key, pinned after pairing."""

    __slots__ = ("key", "raw")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEY_SIZE:
            raise InvalidInputError("an X25519 public key is 32 bytes")
        self.raw = bytes(raw)
        self.key = X25519PublicKey.from_public_bytes(self.raw)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return hmac.compare_digest(self.raw, other.raw)

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"PublicKey({self.raw[:4].hex()}...)"


_BLOCK: Final = 64  # SHA-256's block size, which HMAC pads its key to
# Translation tables that XOR every byte with HMAC's inner and outer pads.
HMAC_IPAD: Final = bytes(b ^ 0x36 for b in range(256))
HMAC_OPAD: Final = bytes(b ^ 0x5C for b in range(256))
_NO_SALT: Final = bytes(KEY_SIZE)  # RFC 5869: a missing salt is HashLen zeros


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA-256's inner and outer padded keys (RFC 2104) for `key`."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return key.translate(HMAC_IPAD), key.translate(HMAC_OPAD)


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA-256 (RFC 2104) from two one-shot hashes."""
    inner, outer = hmac_pads(key)
    sha256 = hashlib.sha256
    return sha256(outer + sha256(inner + data).digest()).digest()


def _hkdf(ikm: bytes, *, salt: bytes | None, info: bytes) -> bytes:
    """HKDF-SHA-256 (RFC 5869) with one block, 32 bytes, of output."""
    sha256 = hashlib.sha256
    inner, outer = hmac_pads(_NO_SALT if salt is None else salt)
    prk = sha256(outer + sha256(inner + ikm).digest()).digest()
    inner, outer = hmac_pads(prk)
    return sha256(outer + sha256(inner + info + b"\x01").digest()).digest()


def token_psk(secret: bytes, pairing_id: bytes) -> bytes:
    """The XX PSK when the browser side pairs with the full-entropy token."""
    return _hkdf(secret, salt=None, info=b"blindfill/1 pairing psk token" + pairing_id)


def code_psk(spake2_key: bytes, pairing_id: bytes) -> bytes:
    """The XX PSK when the browser side pairs with the short code."""
    return _hkdf(
        spake2_key, salt=None, info=b"blindfill/1 pairing psk code" + pairing_id
    )


def chain_root(
    approver_seed: bytes, agent_seed: bytes, handshake_hash: bytes, pairing_id: bytes
) -> bytes:
    """Link 0 of the key chain, from both seeds of the pairing handshake."""
    return _hkdf(
        approver_seed + agent_seed,
        salt=handshake_hash,
        info=b"blindfill/1 chain" + pairing_id + _U64.pack(0),
    )


def fill_psk(link: bytes, pairing_id: bytes, epoch: int) -> bytes:
    """The KK PSK of a fill in `epoch`, derived from that epoch's link."""
    return _hkdf(
        link, salt=None, info=b"blindfill/1 fill psk" + pairing_id + _U64.pack(epoch)
    )


def next_link(
    link: bytes, seed: bytes, handshake_hash: bytes, pairing_id: bytes, epoch: int
) -> bytes:
    """Link `epoch + 1`, from link `epoch` and the seed of fill message 2."""
    return _hkdf(
        link + seed,
        salt=handshake_hash,
        info=b"blindfill/1 chain" + pairing_id + _U64.pack(epoch + 1),
    )


def fingerprint(pairing_id: bytes, agent_key: bytes, approver_key: bytes) -> str:
    """A short string a person can compare on both screens.

    It covers the pairing id and both static public keys, so equal strings on
    the approver and the browser side mean both pinned the right keys. It is
    80 bits of SHA-256 in base32, in four-letter groups.
    """
    digest = hashlib.sha256(
        b"blindfill/1 fingerprint" + pairing_id + agent_key + approver_key
    ).digest()
    text = base64.b32encode(digest[:10]).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))
