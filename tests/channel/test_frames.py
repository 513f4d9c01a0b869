"""Frames: the header is checked strictly, before any cryptography."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from blindfill.channel import FrameType, decode_frame
from blindfill.channel._frames import (
    HEADER_SIZE,
    MAX_BODY_SIZE,
    NO_PAIRING_ID,
    PAYLOAD_BLOCK,
    FrameHeader,
    encode_frame,
)
from blindfill.channel.testing import ChannelPair
from blindfill.errors import LocalProtocolError, RemoteProtocolError
from tests.channel.conftest import DHCounter

PAIRING = bytes(range(16))


def _fill_body(blocks: int = 1) -> bytes:
    return bytes(32 + 16 + blocks * PAYLOAD_BLOCK)


def test_round_trip_keeps_every_header_field() -> None:
    """A frame decodes to the type, pairing id, epoch and body it was built from."""
    body = _fill_body()
    data = encode_frame(FrameType.FILL_REQUEST, PAIRING, 7, body)
    frame = decode_frame(data)
    assert frame.header == FrameHeader(FrameType.FILL_REQUEST, PAIRING, 7)
    assert frame.body == body
    assert len(data) == HEADER_SIZE + len(body)


def test_header_layout_is_the_documented_one() -> None:
    """Version, type, pairing id, epoch and length sit at the documented offsets."""
    data = encode_frame(FrameType.FILL_RESPONSE, PAIRING, 2**40 + 3, _fill_body())
    version, kind, pairing, epoch, length = struct.unpack_from(">BB16sQH", data)
    assert (version, kind, pairing, epoch, length) == (
        1,
        0x11,
        PAIRING,
        2**40 + 3,
        len(_fill_body()),
    )


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda d: d[:10], "frame_truncated"),
        (lambda d: b"\x02" + d[1:], "frame_version"),
        (lambda d: b"\x00" + d[1:], "frame_version"),
        (lambda d: d[:1] + b"\x7f" + d[2:], "frame_type"),
        (lambda d: d + b"\x00", "frame_length"),
        (lambda d: d[:-1], "frame_length"),
        (lambda d: d + bytes(MAX_BODY_SIZE), "frame_too_large"),
    ],
    ids=[
        "truncated",
        "version-2",
        "version-0",
        "unknown-type",
        "trailing-byte",
        "short-body",
        "oversize",
    ],
)
def test_bad_headers_are_refused_with_a_precise_code(
    mutate: Callable[[bytes], bytes], code: str
) -> None:
    """Security case 30: truncated, wrong-version, unknown-type, oversize frames."""
    data = encode_frame(FrameType.FILL_REQUEST, PAIRING, 0, _fill_body())
    with pytest.raises(RemoteProtocolError) as caught:
        decode_frame(mutate(data))
    assert caught.value.code == code


def test_body_must_fit_the_shape_of_its_type() -> None:
    """A body that is not overhead plus whole payload blocks is refused."""
    odd = bytes(32 + 16 + PAYLOAD_BLOCK + 1)
    header = struct.pack(">BB16sQH", 1, FrameType.FILL_REQUEST, PAIRING, 0, len(odd))
    with pytest.raises(RemoteProtocolError) as caught:
        decode_frame(header + odd)
    assert caught.value.code == "frame_length"


def test_largest_frame_is_accepted_and_one_more_byte_is_not() -> None:
    """Frames up to the 65,535-byte body limit parse; beyond it they do not."""
    body = bytes(MAX_BODY_SIZE)
    header = struct.pack(">BB16sQH", 1, FrameType.FILL_REQUEST, PAIRING, 0, 0xFFFF)
    with pytest.raises(RemoteProtocolError) as caught:
        decode_frame(header + body)
    # Exactly at the limit the header is fine, so the type's shape refuses it.
    assert caught.value.code == "frame_length"
    with pytest.raises(RemoteProtocolError) as caught:
        decode_frame(header + body + b"\x00")
    assert caught.value.code == "frame_too_large"


def test_encoding_refuses_what_the_peer_would_refuse() -> None:
    """Building a frame with a bad body or pairing id is our own error."""
    with pytest.raises(LocalProtocolError):
        encode_frame(FrameType.FILL_REQUEST, PAIRING, 0, b"short")
    with pytest.raises(LocalProtocolError):
        encode_frame(FrameType.FILL_REQUEST, b"short", 0, _fill_body())
    with pytest.raises(LocalProtocolError):
        encode_frame(FrameType.NOTICE, NO_PAIRING_ID, 0, b"\x01\x02")


def test_prologue_changes_with_every_header_field() -> None:
    """Version, type, pairing id and epoch each change the prologue."""
    base = FrameHeader(FrameType.FILL_REQUEST, PAIRING, 1)
    variants = [
        FrameHeader(FrameType.FILL_RESPONSE, PAIRING, 1),
        FrameHeader(FrameType.FILL_REQUEST, bytes(16), 1),
        FrameHeader(FrameType.FILL_REQUEST, PAIRING, 2),
        FrameHeader(FrameType.FILL_REQUEST, PAIRING, 1, version=2),
    ]
    assert len({base.prologue(), *(v.prologue() for v in variants)}) == 5


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 27,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x02" + bytes(27 + 560),
        bytes([1, 0x10]) + bytes(26) + b"\xff\xff" + bytes(70_000),
    ],
    ids=["empty", "short", "http", "version-2", "oversize"],
)
def test_garbage_is_refused_before_any_diffie_hellman(
    pair: ChannelPair, dh_counter: DHCounter, data: bytes
) -> None:
    """Security case 30: garbage reaches no X25519 operation and no crash."""
    approver_before = pair.approver_state
    with pytest.raises(RemoteProtocolError):
        pair.approver.receive(data)
    assert dh_counter.calls == 0
    assert pair.approver_state == approver_before


def test_oversize_body_reaches_no_diffie_hellman(
    pair: ChannelPair, dh_counter: DHCounter
) -> None:
    """Security case 30: a body larger than its type allows is refused early."""
    start = pair.browser.start_fill(pair.request())
    frame = decode_frame(start.frame)
    big = frame.body + bytes(PAYLOAD_BLOCK * 40)
    header = struct.pack(
        ">BB16sQH", 1, FrameType.FILL_REQUEST, frame.header.pairing_id, 0, len(big)
    )
    dh_counter.calls = 0
    with pytest.raises(RemoteProtocolError) as caught:
        pair.approver.receive(header + big)
    assert caught.value.code == "frame_length"
    assert dh_counter.calls == 0


def test_the_dh_counter_sees_a_real_fill(
    pair: ChannelPair, dh_counter: DHCounter
) -> None:
    """Control for the tests above: one fill performs its 8 X25519 exchanges."""
    pair.fill()
    assert dh_counter.calls == 8
