"""Time-based one-time passwords (RFC 6238, on HOTP of RFC 4226).

The approver computes codes from an item's seed, so the seed never leaves
it; the demo site checks them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct

from blindfill.errors import InvalidInputError

__all__ = ["decode_seed", "totp", "verify_totp"]

_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def decode_seed(seed: str) -> bytes:
    """Decode a base32 seed as authenticator apps show it (spaces allowed).

    Raises `InvalidInputError` (without echoing the seed) when it is not base32.
    """
    cleaned = seed.replace(" ", "").replace("-", "").upper()
    cleaned += "=" * (-len(cleaned) % 8)
    try:
        key = base64.b32decode(cleaned, casefold=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError("the TOTP seed is not valid base32") from None
    if not key:
        raise InvalidInputError("the TOTP seed is empty")
    return key


def totp(
    key: bytes,
    at: float,
    *,
    digits: int = 6,
    period: int = 30,
    algorithm: str = "SHA1",
) -> str:
    """The code for Unix time `at`, zero-padded to `digits`."""
    counter = int(at // period)
    mac = hmac.new(key, struct.pack(">Q", counter), _DIGESTS[algorithm]).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def verify_totp(key: bytes, code: str, at: float, *, window: int = 1) -> bool:
    """True if `code` is valid at `at`, allowing `window` periods of drift."""
    return any(
        hmac.compare_digest(totp(key, at + step * 30), code)
        for step in range(-window, window + 1)
    )
