"""Invariant: any bytes into a parser either parse or raise a RemoteError.

Like h11's fuzzing, these feed arbitrary and half-structured bytes to every
parser of the channel and to both sides' receive methods. Nothing else may
escape: no ValueError, no IndexError, no RecursionError, no foreign
exception, and a refused input never changes a state.
"""

from __future__ import annotations

import contextlib
import json
import struct
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blindfill.channel import ApproverState, BrowserState, FrameType, decode_frame
from blindfill.channel._frames import HEADER_SIZE, PAYLOAD_BLOCK
from blindfill.channel._messages import (
    PairFinish,
    PairHello,
    PairingMode,
    PairReply,
    PairResult,
    decode_fill_request,
    decode_fill_response,
    decode_notice,
)
from blindfill.channel.testing import ChannelPair
from blindfill.errors import InvalidInputError, RemoteError

MESSAGE_PARSERS: dict[str, Callable[[bytes], object]] = {
    "fill request": decode_fill_request,
    "fill response": decode_fill_response,
    "pairing hello": PairHello.decode,
    "pairing reply (token)": lambda b: PairReply.decode(b, PairingMode.TOKEN),
    "pairing reply (code)": lambda b: PairReply.decode(b, PairingMode.CODE),
    "pairing finish": PairFinish.decode,
    "pairing result": PairResult.decode,
    "notice": decode_notice,
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "request",
        "retry",
        "id",
        "ts",
        "frame_origin",
        "top_origin",
        "frame_chain",
        "form",
        "fields",
        "reason",
        "seed",
        "outcome",
        "values",
        "mode",
        "spake2",
        "pairing_id",
        "name",
        "accepted",
    ]
)
# Objects shaped like our messages, with plausible names and wild values.
message_like = st.dictionaries(field_names, json_values, max_size=10)


def _payload(text: bytes) -> bytes:
    framed = len(text).to_bytes(2, "big") + text
    return framed + bytes(-len(framed) % PAYLOAD_BLOCK)


def _parse_or_remote_error(parser: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(RemoteError):
        parser(data)


@given(st.binary(max_size=2048))
def test_frame_parser_takes_any_bytes(data: bytes) -> None:
    """Any bytes into decode_frame parse or raise a RemoteError."""
    _parse_or_remote_error(decode_frame, data)


@given(
    st.sampled_from(list(FrameType)),
    st.binary(min_size=16, max_size=16),
    st.integers(min_value=0, max_value=2**64 - 1),
    st.binary(max_size=1200),
    st.integers(min_value=0, max_value=0xFFFF),
)
def test_frame_parser_takes_any_well_headed_frame(
    kind: FrameType, pairing_id: bytes, epoch: int, body: bytes, length: int
) -> None:
    """Valid headers with any length field and any body parse or raise a RemoteError."""
    header = struct.pack(">BB16sQH", 1, kind, pairing_id, epoch, length)
    _parse_or_remote_error(decode_frame, header + body)


@given(st.sampled_from(sorted(MESSAGE_PARSERS)), st.binary(max_size=1100))
def test_message_parsers_take_any_bytes(name: str, data: bytes) -> None:
    """Any bytes into any message parser parse or raise a RemoteError."""
    _parse_or_remote_error(MESSAGE_PARSERS[name], data)


@given(st.sampled_from(sorted(MESSAGE_PARSERS)), message_like)
def test_message_parsers_take_any_json_object(
    name: str, obj: dict[str, object]
) -> None:
    """Message-shaped JSON with wild values parses or raises a RemoteError."""
    text = json.dumps(obj).encode()
    _parse_or_remote_error(MESSAGE_PARSERS[name], _payload(text))


@given(message_like, json_values)
def test_fill_request_parser_takes_any_request_object(
    request: dict[str, object], retry: object
) -> None:
    """A request object nested the right way, with wild fields, never crashes."""
    text = json.dumps({"request": request, "retry": retry}).encode()
    _parse_or_remote_error(decode_fill_request, _payload(text))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(st.binary(max_size=700))
def test_approver_receive_takes_any_bytes(pair: ChannelPair, data: bytes) -> None:
    """The approver's receive refuses garbage with a RemoteError, state unchanged."""
    before = pair.approver_state
    _parse_or_remote_error(pair.approver.receive, data)
    assert pair.approver.state is before


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(st.data())
def test_approver_receive_takes_any_body_behind_our_header(
    pair: ChannelPair, data: st.DataObject
) -> None:
    """A real header with a random body of the right size is refused cleanly."""
    start = pair.browser.start_fill(pair.request())
    size = len(start.frame) - HEADER_SIZE
    body = data.draw(st.binary(min_size=size, max_size=size))
    before = pair.approver_state
    _parse_or_remote_error(pair.approver.receive, start.frame[:HEADER_SIZE] + body)
    assert pair.approver.state is before


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(st.binary(max_size=700))
def test_browser_receive_takes_any_bytes(pair: ChannelPair, data: bytes) -> None:
    """The browser side refuses garbage answers with a RemoteError, state kept."""
    start = pair.browser.start_fill(pair.request())
    _parse_or_remote_error(start.pending.receive, data)
    assert pair.browser.state is start.state


@given(st.binary(max_size=600) | message_like.map(lambda o: json.dumps(o).encode()))
def test_state_loaders_take_any_bytes(data: bytes) -> None:
    """A damaged state file is an InvalidInputError, never a crash."""
    for loader in (BrowserState.from_bytes, ApproverState.from_bytes):
        with contextlib.suppress(InvalidInputError):
            loader(data)


_VALID = ChannelPair.paired(seed=b"state fuzz")
_VALID.fill()
_STATES = {
    "browser": (BrowserState.from_bytes, json.loads(_VALID.browser_state.to_bytes())),
    "approver": (
        ApproverState.from_bytes,
        json.loads(_VALID.approver_state.to_bytes()),
    ),
}


@given(st.sampled_from(sorted(_STATES)), st.data())
def test_state_loaders_take_any_single_field_damage(
    side: str, data: st.DataObject
) -> None:
    """A valid state file with one field replaced loads or is an InvalidInputError."""
    loader, valid = _STATES[side]
    damaged = dict(valid)
    key = data.draw(st.sampled_from(sorted(valid)))
    damaged[key] = data.draw(json_values)
    with contextlib.suppress(InvalidInputError):
        loader(json.dumps(damaged).encode())
