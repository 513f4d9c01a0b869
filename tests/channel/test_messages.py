"""Message schemas: strict fields, limits and padding."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from blindfill.channel import (
    Decline,
    DeclineReason,
    FieldRole,
    FillRequest,
    FormKind,
    Grant,
)
from blindfill.channel._messages import (
    MAX_REASON_CHARS,
    MAX_VALUE_CHARS,
    decode_fill_request,
    decode_fill_response,
    decode_payload,
    encode_fill_request,
    encode_fill_response,
    encode_payload,
)
from blindfill.errors import InvalidInputError, RemoteProtocolError
from blindfill.sensitive import Secret

TOKEN = bytes(range(16))
SEED = bytes(range(32))


def _request(**changes: object) -> FillRequest:
    fields: dict[str, object] = {
        "request_id": "0123456789abcdef0123456789abcdef",
        "timestamp_ms": 1_750_000_000_000,
        "frame_origin": "https://login.bank.test",
        "top_origin": "https://bank.test",
        "frame_chain": ("https://bank.test", "https://login.bank.test"),
        "form_kind": FormKind.LOGIN,
        "fields": (FieldRole.USERNAME, FieldRole.PASSWORD),
        "reason": "check the balance",
    }
    fields.update(changes)
    return FillRequest(**fields)  # type: ignore[arg-type]


def _raw_request_payload(request: dict[str, object], **extra: object) -> bytes:
    """A payload built by hand, to test what the decoder refuses."""
    body: dict[str, object] = {"request": request, "retry": "AAECAwQFBgcICQoLDA0ODw=="}
    body.update(extra)
    return encode_payload(body)


def test_fill_request_round_trips() -> None:
    """Every field of a request survives encoding and decoding."""
    request = _request()
    decoded, token = decode_fill_request(encode_fill_request(request, TOKEN))
    assert decoded == request
    assert token == TOKEN


@pytest.mark.parametrize(
    "changes",
    [
        {"request_id": "not-hex"},
        {"request_id": "0123456789ABCDEF0123456789ABCDEF"},
        {"timestamp_ms": -1},
        {"timestamp_ms": True},
        {"frame_origin": "https://bank.test/login"},
        {"frame_origin": "null"},
        {"frame_origin": "HTTPS://BANK.TEST"},
        {"top_origin": "https://user@bank.test"},
        {"frame_chain": ()},
        {"frame_chain": ("https://bank.test",)},
        {"frame_chain": ("https://x.test",) * 17},
        {"fields": ()},
        {"fields": (FieldRole.PASSWORD, FieldRole.PASSWORD)},
        {"fields": ("password",)},
        {"form_kind": "login"},
        {"reason": "x" * (MAX_REASON_CHARS + 1)},
        {"reason": "approve\u202ekq.knab"},
        {"reason": "line\x00break"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_fill_request_schema_violations_are_refused(changes: dict[str, object]) -> None:
    """A request breaking any rule of the schema cannot be built."""
    with pytest.raises(InvalidInputError):
        _request(**changes)


def test_decoded_schema_violation_is_the_peers_fault() -> None:
    """The same rule broken by a decoded message is a RemoteProtocolError."""
    wire = _request().to_wire()
    wire["frame_origin"] = "javascript:alert(1)"
    with pytest.raises(RemoteProtocolError) as caught:
        decode_fill_request(_raw_request_payload(wire))
    assert "frame origin" in caught.value.message


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda w: w.update(extra=1), "unknown field 'extra'"),
        (lambda w: w.pop("reason"), "lacks the field 'reason'"),
        (lambda w: w.update(ts="soon"), "field 'ts'"),
        (lambda w: w.update(fields=["password", "cvv"]), "unknown field role"),
        (lambda w: w.update(form="signup"), "unknown form kind"),
    ],
    ids=["unknown", "missing", "wrong-type", "unknown-role", "unknown-form"],
)
def test_decoder_names_the_field_at_fault(
    edit: Callable[[dict[str, object]], object], words: str
) -> None:
    """Unknown, missing and mistyped fields are refused with a precise message."""
    wire = _request().to_wire()
    edit(wire)
    with pytest.raises(RemoteProtocolError) as caught:
        decode_fill_request(_raw_request_payload(wire))
    assert words in caught.value.message


def test_unknown_top_level_field_is_refused() -> None:
    """A field next to the request is refused too."""
    payload = _raw_request_payload(_request().to_wire(), version=2)
    with pytest.raises(RemoteProtocolError, match="unknown field 'version'"):
        decode_fill_request(payload)


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":1,"a":2}',
        b'{"a":NaN}',
        b'{"a":1.5}',
        b"[1]",
        b"\xff\xfe",
        b"[" * 5000 + b"]" * 5000,
        b'{"a":' + b"9" * 5000 + b"}",
    ],
    ids=["duplicate", "nan", "float", "array", "not-utf8", "deep", "huge-int"],
)
def test_forgiving_json_is_refused(text: bytes) -> None:
    """Duplicate keys, NaN, floats, deep nesting and huge numbers are refused."""
    payload = len(text).to_bytes(2, "big") + text
    payload += bytes(-len(payload) % 512)
    with pytest.raises(RemoteProtocolError):
        decode_payload(payload, what="test message")


def test_padding_must_be_zero() -> None:
    """A payload whose padding is not all zero bytes is refused."""
    payload = bytearray(encode_payload({"a": 1}))
    payload[-1] = 1
    with pytest.raises(RemoteProtocolError, match="padding"):
        decode_payload(bytes(payload), what="test message")


def test_grant_and_decline_have_the_same_size() -> None:
    """A grant of an ordinary login and a decline look alike on the wire."""
    grant = Grant(
        {
            FieldRole.USERNAME: Secret("someone@example.test"),
            FieldRole.PASSWORD: Secret("correct horse battery staple"),
        }
    )
    assert len(encode_fill_response(grant, SEED)) == len(
        encode_fill_response(Decline(), SEED)
    )


def test_every_decline_reason_round_trips() -> None:
    """Each decline reason decodes to itself."""
    for reason in DeclineReason:
        decision, seed = decode_fill_response(
            encode_fill_response(Decline(reason), SEED)
        )
        assert decision == Decline(reason)
        assert seed == SEED


def test_grant_values_stay_secret_after_decoding() -> None:
    """Decoded values are Secrets and the grant's repr shows only roles."""
    grant = Grant({FieldRole.PASSWORD: Secret("hunter2-topsecret")})
    decision, _ = decode_fill_response(encode_fill_response(grant, SEED))
    assert isinstance(decision, Grant)
    assert decision.values[FieldRole.PASSWORD].reveal() == "hunter2-topsecret"
    assert "hunter2" not in repr(decision)
    assert "password" in repr(decision)


@pytest.mark.parametrize(
    "values",
    [
        {},
        {FieldRole.PASSWORD: "plain text"},
        {FieldRole.PASSWORD: Secret("")},
        {FieldRole.PASSWORD: Secret("x" * (MAX_VALUE_CHARS + 1))},
        {FieldRole.PASSWORD: Secret(b"bytes")},
        {"password": Secret("x")},
    ],
    ids=["empty", "not-secret", "empty-value", "too-long", "bytes", "str-key"],
)
def test_bad_grants_cannot_be_built(values: dict[object, object]) -> None:
    """A grant needs Secret text values under FieldRole keys, within limits."""
    with pytest.raises(InvalidInputError):
        Grant(values)  # type: ignore[arg-type]


def test_unknown_outcome_is_refused() -> None:
    """A response outcome other than granted or declined is refused."""
    payload = encode_payload({"seed": "A" * 43 + "=", "outcome": "maybe"})
    with pytest.raises(RemoteProtocolError, match="unknown outcome"):
        decode_fill_response(payload)


def test_non_canonical_base64_is_refused() -> None:
    """A binary field has exactly one accepted spelling."""
    good = encode_payload(
        {"request": _request().to_wire(), "retry": "AAECAwQFBgcICQoLDA0ODw=="}
    )
    bad = good.replace(b"Dw==", b"Dx==")
    assert bad != good
    with pytest.raises(RemoteProtocolError, match="retry"):
        decode_fill_request(bad)
    # And the helper really builds JSON the decoder accepts.
    assert json.loads(good[2 : 2 + int.from_bytes(good[:2], "big")])
