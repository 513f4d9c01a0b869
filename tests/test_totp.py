"""TOTP against the RFC 6238 appendix B test values."""

from __future__ import annotations

import pytest

from blindfill.errors import InvalidInputError
from blindfill.totp import decode_seed, totp, verify_totp

RFC_KEY = b"12345678901234567890"


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_rfc6238_sha1_vectors(at: int, expected: str) -> None:
    assert totp(RFC_KEY, at, digits=8) == expected


def test_verify_allows_one_period_of_drift() -> None:
    code = totp(RFC_KEY, 1000)
    assert verify_totp(RFC_KEY, code, 1000 + 30)
    assert not verify_totp(RFC_KEY, code, 1000 + 120)


def test_seed_decoding() -> None:
    assert decode_seed("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ") == RFC_KEY
    with pytest.raises(InvalidInputError) as exc:
        decode_seed("not base32 !!")
    assert "!!" not in str(exc.value)
