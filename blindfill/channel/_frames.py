"""Frames: the versioned envelope around every message of the channel.

A frame is a fixed 28-byte header followed by a body:

    offset  size  field
    0       1     version      protocol version, 1
    1       1     type         `FrameType`
    2       16    pairing id   names the pairing; zeros before one exists
    18      8     epoch        key chain position, big-endian
    26      2     length       body length in bytes, big-endian
    28      n     body         a Noise message (or a notice code)

The header is the only part read before any Diffie-Hellman work, so it is
checked as strictly as it can be: the version and type must be known, the
length must match the bytes that follow, and the body length must fit the
shape of its type (a Noise message of that type is a fixed overhead plus a
whole number of 512-byte payload blocks, see `_messages`). Anything else is a
`RemoteProtocolError` with a code naming the fault.

The header travels in clear. It cannot be changed unnoticed because every
handshake puts the header fields of its first message in the Noise prologue
(`FrameHeader.prologue`), and the reply must repeat them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from blindfill.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "HEADER_SIZE",
    "MAX_BODY_SIZE",
    "NO_PAIRING_ID",
    "PAIRING_ID_SIZE",
    "VERSION",
    "Frame",
    "FrameHeader",
    "FrameType",
    "decode_frame",
    "encode_frame",
]

VERSION: Final = 1
PAIRING_ID_SIZE: Final = 16
NO_PAIRING_ID: Final = bytes(PAIRING_ID_SIZE)
MAX_BODY_SIZE: Final = 65_535
MAX_EPOCH: Final = 2**64 - 1

_HEADER: Final = struct.Struct(">BB16sQH")
_PROLOGUE_FIELDS: Final = struct.Struct(">BB16sQ")  # the header minus length
HEADER_SIZE: Final = _HEADER.size
_PROLOGUE_LABEL: Final = b"blindfill prologue\x00"

# Payloads are padded to whole blocks so that lengths say little (a grant and
# a decline are the same size); see `_messages.encode_payload`.
PAYLOAD_BLOCK: Final = 512
MAX_PAYLOAD_BLOCKS: Final = 32
_KEY: Final = 32  # an X25519 public key
_TAG: Final = 16  # a ChaCha20-Poly1305 tag


class FrameType(IntEnum):
    """What a frame carries; the value is its type byte."""

    PAIR_HELLO = 0x01  # browser side -> approver: Noise XX message 1
    PAIR_REPLY = 0x02  # approver -> browser side: Noise XX message 2
    PAIR_FINISH = 0x03  # browser side -> approver: Noise XX message 3
    PAIR_RESULT = 0x04  # approver -> browser side: the human's verdict
    FILL_REQUEST = 0x10  # browser side -> approver: Noise KK message 1
    FILL_RESPONSE = 0x11  # approver -> browser side: Noise KK message 2
    NOTICE = 0x20  # approver -> browser side: an unauthenticated refusal


# Bytes of each Noise message that are not payload blocks: ephemeral keys,
# encrypted static keys and AEAD tags, in the order the patterns send them.
_OVERHEAD: Final[dict[FrameType, int]] = {
    # In a PSK handshake `e` also keys the cipher (from public data only), so
    # even the clear-text payload of XX message 1 carries a tag.
    FrameType.PAIR_HELLO: _KEY + _TAG,  # e
    FrameType.PAIR_REPLY: _KEY + (_KEY + _TAG) + _TAG,  # e, ee, s, es
    FrameType.PAIR_FINISH: (_KEY + _TAG) + _TAG,  # s, se, psk
    FrameType.PAIR_RESULT: _TAG,  # a transport message
    FrameType.FILL_REQUEST: _KEY + _TAG,  # psk, e, es, ss
    FrameType.FILL_RESPONSE: _KEY + _TAG,  # e, ee, se
}
NOTICE_BODY_SIZE: Final = 1
_TYPES: Final = {t.value: t for t in FrameType}  # faster than calling FrameType


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """The clear-text header of a frame."""

    type: FrameType
    pairing_id: bytes
    epoch: int
    version: int = VERSION

    def prologue(self) -> bytes:
        """The Noise prologue of a handshake whose first message has this header.

        It binds the version, type, pairing id and epoch into the handshake
        hash, so a changed header makes the handshake fail.
        """
        return _PROLOGUE_LABEL + _PROLOGUE_FIELDS.pack(
            self.version, self.type, self.pairing_id, self.epoch
        )

    @property
    def pairing_hex(self) -> str:
        """The pairing id in hex, for logs and messages (it is not secret)."""
        return self.pairing_id.hex()


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded frame: its header and its body."""

    header: FrameHeader
    body: bytes

    def __repr__(self) -> str:
        return (
            f"Frame(type={self.header.type.name}, pairing={self.header.pairing_hex}, "
            f"epoch={self.header.epoch}, body={len(self.body)} bytes)"
        )


def encode_frame(
    frame_type: FrameType, pairing_id: bytes, epoch: int, body: bytes
) -> bytes:
    """Build the bytes of one frame.

    Raises `LocalProtocolError` if a field is out of range or the body does
    not fit its type: this side is about to send something the peer would
    refuse.
    """
    if len(pairing_id) != PAIRING_ID_SIZE or not 0 <= epoch <= MAX_EPOCH:
        raise LocalProtocolError(
            "a frame needs a 16-byte pairing id and an epoch below 2**64",
            code="frame_invalid",
        )
    problem = _body_problem(frame_type, len(body))
    if problem:
        raise LocalProtocolError(
            f"cannot send a {frame_type.name} frame: {problem}", code="frame_invalid"
        )
    return _HEADER.pack(VERSION, frame_type, pairing_id, epoch, len(body)) + body


def decode_frame(data: bytes) -> Frame:
    """Parse one frame, checking everything that can be checked without keys.

    Raises `RemoteProtocolError` (codes `frame_truncated`, `frame_too_large`,
    `frame_version`, `frame_type`, `frame_length`) and does no cryptography.
    """
    if type(data) is not bytes:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise RemoteProtocolError("a frame must be bytes", code="frame_malformed")
        data = bytes(data)
    if len(data) < HEADER_SIZE:
        raise RemoteProtocolError(
            f"frame of {len(data)} bytes is shorter than its {HEADER_SIZE}-byte header",
            code="frame_truncated",
        )
    if len(data) > HEADER_SIZE + MAX_BODY_SIZE:
        raise RemoteProtocolError(
            f"frame of {len(data)} bytes exceeds the limit of "
            f"{HEADER_SIZE + MAX_BODY_SIZE}",
            code="frame_too_large",
        )
    version, type_byte, pairing_id, epoch, length = _HEADER.unpack_from(data)
    if version != VERSION:
        raise RemoteProtocolError(
            f"frame has protocol version {version}; this side speaks {VERSION}",
            code="frame_version",
            hint="update blindfill on both sides to the same version",
        )
    frame_type = _TYPES.get(type_byte)
    if frame_type is None:
        raise RemoteProtocolError(
            f"frame has unknown type 0x{type_byte:02x}", code="frame_type"
        )
    body = data[HEADER_SIZE:]
    if length != len(body):
        raise RemoteProtocolError(
            f"frame header announces {length} body bytes but {len(body)} follow",
            code="frame_length",
        )
    problem = _body_problem(frame_type, length)
    if problem:
        raise RemoteProtocolError(
            f"{frame_type.name} frame refused: {problem}", code="frame_length"
        )
    return Frame(FrameHeader(frame_type, pairing_id, epoch, version), body)


def _body_problem(frame_type: FrameType, length: int) -> str | None:
    if frame_type is FrameType.NOTICE:
        if length != NOTICE_BODY_SIZE:
            return f"a notice body is {NOTICE_BODY_SIZE} byte, not {length}"
        return None
    overhead = _OVERHEAD[frame_type]
    blocks, rest = divmod(length - overhead, PAYLOAD_BLOCK)
    if rest or not 1 <= blocks <= MAX_PAYLOAD_BLOCKS:
        return (
            f"body of {length} bytes is not {overhead} bytes plus 1 to "
            f"{MAX_PAYLOAD_BLOCKS} blocks of {PAYLOAD_BLOCK}"
        )
    return None
