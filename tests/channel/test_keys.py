"""Key derivations: the hand-written HMAC and HKDF against `cryptography`."""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from blindfill.channel._keys import _hkdf, fill_psk, hmac_sha256, next_link


@settings(max_examples=200)
@given(key=st.binary(max_size=150), data=st.binary(max_size=300))
def test_hmac_matches_the_standard_library(key: bytes, data: bytes) -> None:
    """HMAC-SHA-256 from one-shot hashes equals `hmac`'s, short or long keys."""
    assert hmac_sha256(key, data) == hmac.digest(key, data, "sha256")


@settings(max_examples=200)
@given(
    ikm=st.binary(max_size=100),
    salt=st.none() | st.binary(max_size=100),
    info=st.binary(max_size=100),
)
def test_hkdf_matches_cryptography(ikm: bytes, salt: bytes | None, info: bytes) -> None:
    """HKDF-SHA-256 (RFC 5869), 32 bytes, equals `cryptography`'s."""
    expected = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info)
    assert _hkdf(ikm, salt=salt, info=info) == expected.derive(ikm)


def test_chain_derivations_keep_their_labels() -> None:
    """The fill PSK and the next link are HKDF with the documented inputs."""
    link, seed, h, pairing = (
        bytes([1]) * 32,
        bytes([2]) * 32,
        bytes([3]) * 32,
        bytes(16),
    )
    psk = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"blindfill/1 fill psk" + pairing + (7).to_bytes(8, "big"),
    ).derive(link)
    assert fill_psk(link, pairing, 7) == psk
    following = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=h,
        info=b"blindfill/1 chain" + pairing + (8).to_bytes(8, "big"),
    ).derive(link + seed)
    assert next_link(link, seed, h, pairing, 7) == following
