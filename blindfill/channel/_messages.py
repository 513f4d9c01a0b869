"""Messages: the payloads the Noise handshakes carry, and their schemas.

Every payload is one JSON object with a fixed set of fields, framed and padded
as

    2 bytes   length n of the JSON text, big-endian
    n bytes   the JSON object, UTF-8, compact, keys sorted
    zeros     up to the next multiple of 512 bytes (1 to 32 blocks)

so that its length says little: a grant of a short password and a decline
are the same size on the wire. A decoder refuses non-zero padding, unknown or
missing fields, wrong types, duplicate keys, floats and anything over the
limits below, always with a `RemoteProtocolError` that names the message and
the field but never a value.

The values a program builds (`FillRequest`, `Grant`, `Decline`) validate on
construction and raise `InvalidInputError`; the same rules applied to a
decoded message raise `RemoteProtocolError` instead, because then the peer is
at fault.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Final, NoReturn, TypeVar

from blindfill.channel._frames import MAX_PAYLOAD_BLOCKS, PAYLOAD_BLOCK
from blindfill.channel._wire import ObjectReader, b64, dump_object, load_object
from blindfill.errors import InvalidInputError, LocalProtocolError, RemoteProtocolError
from blindfill.sensitive import Secret

__all__ = [
    "MAX_FRAME_CHAIN",
    "MAX_NAME_CHARS",
    "MAX_ORIGIN_CHARS",
    "MAX_REASON_CHARS",
    "MAX_VALUE_CHARS",
    "Decision",
    "Decline",
    "DeclineReason",
    "FieldRole",
    "FillRequest",
    "FormKind",
    "Grant",
    "NoticeReason",
]

# --- limits -----------------------------------------------------------------

MAX_ORIGIN_CHARS: Final = 300
MAX_FRAME_CHAIN: Final = 16
MAX_REASON_CHARS: Final = 1000
MAX_VALUE_CHARS: Final = 4096
MAX_NAME_CHARS: Final = 64
REQUEST_ID_CHARS: Final = 32
MAX_TIMESTAMP_MS: Final = 2**53 - 1
SEED_SIZE: Final = 32
RETRY_TOKEN_SIZE: Final = 16
SPAKE2_MESSAGE_SIZE: Final = 33  # a side byte and an Ed25519 group element
_MAX_PAYLOAD: Final = PAYLOAD_BLOCK * MAX_PAYLOAD_BLOCKS
_LENGTH_PREFIX: Final = 2

# A serialised origin: lower-case scheme, "://", host (name, IPv4 or [IPv6])
# and an optional port; no path, user info, query or fragment.
_ORIGIN: Final = re.compile(
    r"[a-z][a-z0-9+.\-]{0,31}://[a-z0-9\-._~%!$&'()*+,;=\[\]:]{1,255}"
)
_REQUEST_ID: Final = re.compile(r"[0-9a-f]{32}")
# Control characters (Unicode category Cc), lone surrogates (Cs) and the
# characters that reorder text when shown: a prompt must read the same to the
# human as it does to the program.
_FORBIDDEN_TEXT: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


class FieldRole(StrEnum):
    """A kind of form field the browser side asks a value for."""

    USERNAME = "username"
    PASSWORD = "password"  # noqa: S105 (a role name, not a password)
    ONE_TIME_CODE = "one_time_code"


_ROLE_COUNT: Final = len(FieldRole)


class FormKind(StrEnum):
    """The kind of form step the browser side found."""

    LOGIN = "login"  # username and password together
    USERNAME_STEP = "username_step"  # username only, password on a later page
    PASSWORD_STEP = "password_step"  # noqa: S105 (password only)
    ONE_TIME_CODE_STEP = "one_time_code_step"  # a one-time code


class DeclineReason(StrEnum):
    """Why the approver sent no values.

    `DECLINED` covers both "the human said no" and "no item matches this
    origin", on purpose: the browser side and the agent must not learn which
    origins the vault holds. The other two tell the agent to back off.
    """

    DECLINED = "declined"  # the human or a policy said no, or nothing matched
    RATE_LIMITED = "rate_limited"  # too many requests for this origin or agent
    LOCKED = "locked"  # the approver is locked and nobody unlocked it in time


class NoticeReason(IntEnum):
    """The code in the body of a NOTICE frame."""

    UNPAIRED = 1  # this pairing id is unknown or was replaced
    REFUSED = 2  # the frame failed a check (authentication, replay, format)
    PAIRING_FAILED = 3  # wrong or expired pairing secret, or offer used up


# --- values -----------------------------------------------------------------


def _local(message: str) -> InvalidInputError:
    return InvalidInputError(message, code="invalid_message")


def _remote(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, code="malformed_message")


def check_display_text(value: str, what: str, *, max_chars: int) -> None:
    """Refuse text that is too long or would display misleadingly.

    Raises `InvalidInputError` for control characters, lone surrogates and
    bidirectional controls.
    """
    if not isinstance(value, str) or len(value) > max_chars:
        raise _local(f"{what} must be text of at most {max_chars} characters")
    found = _FORBIDDEN_TEXT.search(value)
    if found:
        code = ord(found.group())
        raise _local(f"{what} contains the control character U+{code:04X}")


def check_name(value: str, what: str) -> None:
    """A short display name: 1 to 64 characters, no controls."""
    check_display_text(value, what, max_chars=MAX_NAME_CHARS)
    if not value.strip():
        raise _local(f"{what} must not be empty")


def _check_origin(value: str, what: str) -> None:
    if (
        not isinstance(value, str)
        or len(value) > MAX_ORIGIN_CHARS
        or not _ORIGIN.fullmatch(value)
    ):
        raise _local(
            f"{what} must be a serialised origin such as https://example.test "
            f"(lower case, at most {MAX_ORIGIN_CHARS} characters, no path)"
        )


@dataclass(frozen=True, slots=True)
class FillRequest:
    """What the browser side asks for: the content of message 1 of a fill.

    `frame_chain` lists the origins from the top-level document down to the
    frame holding the form, so it starts with `top_origin` and ends with
    `frame_origin`. `reason` is the agent's free text and is untrusted.
    Raises `InvalidInputError` if any field breaks the schema.
    """

    request_id: str
    timestamp_ms: int
    frame_origin: str
    top_origin: str
    frame_chain: tuple[str, ...]
    form_kind: FormKind
    fields: tuple[FieldRole, ...]
    reason: str

    def __post_init__(self) -> None:
        if not isinstance(self.request_id, str) or not _REQUEST_ID.fullmatch(
            self.request_id
        ):
            raise _local("request id must be 32 lower-case hex digits")
        if (
            not isinstance(self.timestamp_ms, int)
            or isinstance(self.timestamp_ms, bool)
            or not 0 <= self.timestamp_ms <= MAX_TIMESTAMP_MS
        ):
            raise _local("timestamp must be milliseconds since the Unix epoch")
        top, frame = self.top_origin, self.frame_origin
        _check_origin(frame, "frame origin")
        _check_origin(top, "top origin")
        chain = self.frame_chain
        if type(chain) is not tuple:
            chain = tuple(chain)
            object.__setattr__(self, "frame_chain", chain)
        if not 1 <= len(chain) <= MAX_FRAME_CHAIN:
            raise _local(f"frame chain must hold 1 to {MAX_FRAME_CHAIN} origins")
        if chain[0] != top or chain[-1] != frame:
            raise _local(
                "frame chain must start with the top origin and end with the "
                "frame origin"
            )
        for origin in chain[1:-1]:  # both ends were checked above
            _check_origin(origin, "frame chain entry")
        if not isinstance(self.form_kind, FormKind):
            raise _local("form kind must be a FormKind")
        roles = self.fields
        if type(roles) is not tuple:
            roles = tuple(roles)
            object.__setattr__(self, "fields", roles)
        if (
            not roles
            or not all(isinstance(r, FieldRole) for r in roles)
            or len(set(roles)) != len(roles)
        ):
            raise _local("fields must name one or more distinct FieldRoles")
        check_display_text(self.reason, "reason", max_chars=MAX_REASON_CHARS)

    def to_wire(self) -> dict[str, object]:
        # A StrEnum member is a str equal to its value, and json writes it
        # as one: no need for the slower `.value` lookups.
        return {
            "id": self.request_id,
            "ts": self.timestamp_ms,
            "frame_origin": self.frame_origin,
            "top_origin": self.top_origin,
            "frame_chain": list(self.frame_chain),
            "form": self.form_kind,
            "fields": list(self.fields),
            "reason": self.reason,
        }

    @classmethod
    def from_wire(cls, reader: ObjectReader) -> FillRequest:
        """Build a request from a decoded object; raises `RemoteProtocolError`."""
        request_id = reader.text("id", max_chars=REQUEST_ID_CHARS)
        timestamp = reader.integer("ts", minimum=0, maximum=MAX_TIMESTAMP_MS)
        frame_origin = reader.text("frame_origin", max_chars=MAX_ORIGIN_CHARS)
        top_origin = reader.text("top_origin", max_chars=MAX_ORIGIN_CHARS)
        chain = reader.text_list(
            "frame_chain", max_items=MAX_FRAME_CHAIN, max_chars=MAX_ORIGIN_CHARS
        )
        form = _enum(FormKind, reader.text("form", max_chars=32), "form kind")
        roles = reader.text_list("fields", max_items=_ROLE_COUNT, max_chars=32)
        fields = tuple(_enum(FieldRole, r, "field role") for r in roles)
        reason = reader.text("reason", max_chars=MAX_REASON_CHARS)
        reader.finish()
        with _as_remote():
            return cls(
                request_id=request_id,
                timestamp_ms=timestamp,
                frame_origin=frame_origin,
                top_origin=top_origin,
                frame_chain=tuple(chain),
                form_kind=form,
                fields=fields,
                reason=reason,
            )


@dataclass(frozen=True, slots=True)
class Grant:
    """The approver's yes: a value for each granted field role.

    Only roles the request asked for may appear. Values are `Secret`s; the
    repr shows the roles only. Raises `InvalidInputError` on an empty grant,
    a value that is not a `Secret[str]`, or a value over 4096 characters.
    """

    values: Mapping[FieldRole, Secret[str]] = field(repr=False)

    def __post_init__(self) -> None:
        values = dict(self.values)
        if not values:
            raise _local("a grant needs at least one value")
        for role, value in values.items():
            if not isinstance(role, FieldRole):
                raise _local("grant keys must be FieldRoles")
            if not isinstance(value, Secret) or not isinstance(value.reveal(), str):
                raise _local(f"the {role.value} value must be a Secret holding text")
            text = value.reveal()
            if not 1 <= len(text) <= MAX_VALUE_CHARS:
                raise _local(
                    f"the {role.value} value must be 1 to {MAX_VALUE_CHARS} characters"
                )
            if _has_surrogate(text):
                raise _local(f"the {role.value} value is not valid Unicode")
        object.__setattr__(self, "values", types.MappingProxyType(values))

    @property
    def roles(self) -> tuple[FieldRole, ...]:
        return tuple(self.values)

    def __repr__(self) -> str:
        return f"Grant(roles={[r.value for r in self.values]})"


@dataclass(frozen=True, slots=True)
class Decline:
    """The approver's no. See `DeclineReason` for what each reason means."""

    reason: DeclineReason = DeclineReason.DECLINED

    def __post_init__(self) -> None:
        if not isinstance(self.reason, DeclineReason):
            raise _local("a decline reason must be a DeclineReason")


Decision = Grant | Decline


# --- payload framing --------------------------------------------------------


def encode_payload(obj: dict[str, object]) -> bytes:
    """Frame and pad one JSON object (see the module docstring).

    Raises `LocalProtocolError` if it does not fit in 32 blocks.
    """
    text = dump_object(obj)
    framed = len(text).to_bytes(_LENGTH_PREFIX, "big") + text
    if len(framed) > _MAX_PAYLOAD:
        raise LocalProtocolError(
            f"message of {len(text)} bytes exceeds the payload limit",
            code="message_too_large",
        )
    padded_size = -(-len(framed) // PAYLOAD_BLOCK) * PAYLOAD_BLOCK
    return framed + bytes(padded_size - len(framed))


def decode_payload(payload: bytes, *, what: str) -> ObjectReader:
    """Undo `encode_payload`; raises `RemoteProtocolError` on any deviation."""
    blocks, rest = divmod(len(payload), PAYLOAD_BLOCK)
    if rest or not 1 <= blocks <= MAX_PAYLOAD_BLOCKS:
        raise _remote(f"{what} is not 1 to {MAX_PAYLOAD_BLOCKS} padded blocks")
    length = int.from_bytes(payload[:_LENGTH_PREFIX], "big")
    end = _LENGTH_PREFIX + length
    if end > len(payload):
        raise _remote(f"{what} announces more text than it holds")
    padding = payload[end:]
    if padding != bytes(len(padding)):
        raise _remote(f"{what} has non-zero padding")
    return load_object(payload[_LENGTH_PREFIX:end], what=what, fail=_remote)


# --- fill messages ----------------------------------------------------------


def encode_fill_request(request: FillRequest, retry_token: bytes) -> bytes:
    """The payload of fill message 1."""
    return encode_payload({"request": request.to_wire(), "retry": b64(retry_token)})


def decode_fill_request(payload: bytes) -> tuple[FillRequest, bytes]:
    """Parse fill message 1 into the request and the retry token.

    Raises `RemoteProtocolError`.
    """
    reader = decode_payload(payload, what="fill request")
    retry = reader.blob("retry", size=RETRY_TOKEN_SIZE)
    request = FillRequest.from_wire(reader.object("request", what="fill request"))
    reader.finish()
    return request, retry


def encode_fill_response(decision: Decision, seed: bytes) -> bytes:
    """The payload of fill message 2: the decision and fresh chain material."""
    body: dict[str, object] = {"seed": b64(seed)}
    if isinstance(decision, Grant):
        body["outcome"] = "granted"
        # Roles are StrEnum members, written as their values (see to_wire).
        body["values"] = {r: v.reveal() for r, v in decision.values.items()}
    else:
        body["outcome"] = "declined"
        body["reason"] = decision.reason
    return encode_payload(body)


def decode_fill_response(payload: bytes) -> tuple[Decision, bytes]:
    """Parse fill message 2 into the decision and the seed.

    Raises `RemoteProtocolError`.
    """
    reader = decode_payload(payload, what="fill response")
    seed = reader.blob("seed", size=SEED_SIZE)
    outcome = reader.text("outcome", max_chars=16)
    decision: Decision
    if outcome == "granted":
        raw = reader.text_map(
            "values", max_items=_ROLE_COUNT, max_chars=MAX_VALUE_CHARS
        )
        values: dict[FieldRole, Secret[str]] = {}
        for name, value in raw.items():
            role = _enum(FieldRole, name, "field role")
            values[role] = Secret(value, kind=role.value)
        with _as_remote():
            decision = Grant(values)
    elif outcome == "declined":
        reason = reader.text("reason", max_chars=32)
        decision = Decline(_enum(DeclineReason, reason, "decline reason"))
    else:
        raise _remote("fill response has an unknown outcome")
    reader.finish()
    return decision, seed


# --- pairing messages -------------------------------------------------------


class PairingMode(StrEnum):
    """How the browser side proves it holds the pairing secret."""

    TOKEN = "token"  # noqa: S105 (the full-entropy token keys the handshake)
    CODE = "code"  # the short code runs through SPAKE2 first


@dataclass(frozen=True, slots=True)
class PairHello:
    """Payload of XX message 1 (sent in clear, bound into the transcript)."""

    mode: PairingMode
    spake2: bytes | None = None  # SPAKE2 message A, code mode only

    def encode(self) -> bytes:
        body: dict[str, object] = {"mode": self.mode.value}
        if self.spake2 is not None:
            body["spake2"] = b64(self.spake2)
        return encode_payload(body)

    @classmethod
    def decode(cls, payload: bytes) -> PairHello:
        reader = decode_payload(payload, what="pairing hello")
        mode = _enum(PairingMode, reader.text("mode", max_chars=16), "pairing mode")
        spake2 = None
        if mode is PairingMode.CODE:
            spake2 = reader.blob("spake2", size=SPAKE2_MESSAGE_SIZE)
        reader.finish()
        return cls(mode, spake2)


@dataclass(frozen=True, slots=True)
class PairReply:
    """Payload of XX message 2: who the approver is, and its chain seed."""

    pairing_id: bytes
    approver_name: str
    seed: bytes = field(repr=False)
    spake2: bytes | None = None  # SPAKE2 message B, code mode only

    def encode(self) -> bytes:
        body: dict[str, object] = {
            "pairing_id": b64(self.pairing_id),
            "name": self.approver_name,
            "seed": b64(self.seed),
        }
        if self.spake2 is not None:
            body["spake2"] = b64(self.spake2)
        return encode_payload(body)

    @classmethod
    def decode(cls, payload: bytes, mode: PairingMode) -> PairReply:
        reader = decode_payload(payload, what="pairing reply")
        pairing_id = reader.blob("pairing_id", size=16)
        name = reader.text("name", max_chars=MAX_NAME_CHARS)
        seed = reader.blob("seed", size=SEED_SIZE)
        spake2 = None
        if mode is PairingMode.CODE:
            spake2 = reader.blob("spake2", size=SPAKE2_MESSAGE_SIZE)
        reader.finish()
        with _as_remote():
            check_name(name, "approver name")
        return cls(pairing_id, name, seed, spake2)


@dataclass(frozen=True, slots=True)
class PairFinish:
    """Payload of XX message 3: the agent's name and its chain seed."""

    agent_name: str
    seed: bytes = field(repr=False)

    def encode(self) -> bytes:
        return encode_payload({"name": self.agent_name, "seed": b64(self.seed)})

    @classmethod
    def decode(cls, payload: bytes) -> PairFinish:
        reader = decode_payload(payload, what="pairing finish")
        name = reader.text("name", max_chars=MAX_NAME_CHARS)
        seed = reader.blob("seed", size=SEED_SIZE)
        reader.finish()
        with _as_remote():
            check_name(name, "agent name")
        return cls(name, seed)


@dataclass(frozen=True, slots=True)
class PairResult:
    """The human's verdict, sent under the keys of the finished handshake."""

    accepted: bool

    def encode(self) -> bytes:
        return encode_payload({"accepted": self.accepted})

    @classmethod
    def decode(cls, payload: bytes) -> PairResult:
        reader = decode_payload(payload, what="pairing result")
        accepted = reader.boolean("accepted")
        reader.finish()
        return cls(accepted)


def decode_notice(body: bytes) -> NoticeReason:
    """The reason code of a NOTICE frame body; raises `RemoteProtocolError`."""
    try:
        (code,) = body
        return NoticeReason(code)
    except ValueError:
        raise RemoteProtocolError(
            "notice has an unknown reason code", code="malformed_message"
        ) from None


# --- helpers ----------------------------------------------------------------


class _as_remote:
    """Turn a schema violation in decoded data into the peer's fault."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, InvalidInputError):
            raise _remote(exc.message) from exc


_E = TypeVar("_E", bound=StrEnum)


def _enum(kind: type[_E], value: str, what: str) -> _E:
    # A dictionary lookup: calling the Enum class costs several times more.
    member = kind._value2member_map_.get(value)
    if member is None:
        _unknown(what)
    return member  # type: ignore[return-value]


def _unknown(what: str) -> NoReturn:
    raise _remote(f"unknown {what}")


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
