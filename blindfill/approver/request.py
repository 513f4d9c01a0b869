"""The fill request as the approver's decision engine sees it.

The service builds an `ApprovalRequest` from the validated message 1 of a
fill and the pairing record of the agent that sent it. Field roles and form
kinds use the same string values as the channel's messages, so converting
is `FieldRole(role.value)`. Only `agent` comes from the approver's own
records; everything else was reported by the browser side: the origins are
trusted as far as the browser engine is (it reads them from CDP, never from
the page), and `reason` is not trusted at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from blindfill.errors import InvalidInputError

__all__ = [
    "MAX_CHAIN",
    "MAX_ORIGIN",
    "MAX_REASON",
    "AgentIdentity",
    "ApprovalRequest",
    "FieldRole",
    "FormKind",
]

MAX_ORIGIN = 2048
MAX_CHAIN = 32
MAX_REASON = 4000
MAX_NAME = 200
MAX_ID = 128


class FieldRole(StrEnum):
    """A kind of value a form step asks for."""

    USERNAME = "username"
    PASSWORD = "password"  # noqa: S105 (a role name)
    ONE_TIME_CODE = "one_time_code"


class FormKind(StrEnum):
    """The kind of form step the browser side found."""

    LOGIN = "login"  # username and password together
    USERNAME_STEP = "username_step"  # username alone, password later
    PASSWORD_STEP = "password_step"  # noqa: S105 (password alone)
    ONE_TIME_CODE_STEP = "one_time_code_step"  # a one-time code


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    """The paired agent: the name the person confirmed and its key fingerprint."""

    name: str
    fingerprint: str

    def __post_init__(self) -> None:
        if not self.fingerprint or len(self.fingerprint) > MAX_NAME:
            raise InvalidInputError("an agent fingerprint must be 1 to 200 characters")
        if len(self.name) > MAX_NAME:
            raise InvalidInputError("an agent name must be at most 200 characters")


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """One fill request, ready for `DecisionEngine.decide`.

    `frame_chain` runs from the top-level document to the frame with the
    form. Origins are kept as reported (an opaque one as `null`); the
    engine parses them and declines what it cannot use. Raises
    `InvalidInputError` for empty or duplicate fields and oversized values.
    """

    request_id: str
    agent: AgentIdentity
    frame_origin: str
    top_origin: str
    frame_chain: tuple[str, ...]
    form_kind: FormKind
    fields: tuple[FieldRole, ...]
    reason: str = ""
    requested_at: float | None = None  # the browser side's clock, seconds

    def __post_init__(self) -> None:
        if not 1 <= len(self.request_id) <= MAX_ID:
            raise InvalidInputError("a request id must be 1 to 128 characters")
        origins = (self.frame_origin, self.top_origin, *self.frame_chain)
        if any(len(origin) > MAX_ORIGIN for origin in origins):
            raise InvalidInputError("an origin is too long")
        if not 1 <= len(self.frame_chain) <= MAX_CHAIN:
            raise InvalidInputError(f"a frame chain holds 1 to {MAX_CHAIN} origins")
        if not self.fields or len(set(self.fields)) != len(self.fields):
            raise InvalidInputError("a request names one or more distinct fields")
        if len(self.reason) > MAX_REASON:
            raise InvalidInputError("the reason is too long")

    @classmethod
    def build(
        cls,
        *,
        request_id: str,
        agent: AgentIdentity,
        frame_origin: str,
        top_origin: str,
        frame_chain: Iterable[str] | None = None,
        form_kind: str,
        fields: Iterable[str],
        reason: str = "",
        requested_at: float | None = None,
    ) -> ApprovalRequest:
        """Build from plain strings (or the channel's string enums).

        A missing `frame_chain` means the form's frame sits directly in the
        top-level document (or is it, when the two origins are equal).
        Raises `InvalidInputError` for an unknown form kind or field role.
        """
        try:
            kind = FormKind(form_kind)
            roles = tuple(FieldRole(role) for role in fields)
        except ValueError as exc:
            raise InvalidInputError(f"unknown form kind or field role: {exc}") from None
        if frame_chain is not None:
            chain = tuple(frame_chain)
        elif top_origin == frame_origin:
            chain = (frame_origin,)
        else:
            chain = (top_origin, frame_origin)
        return cls(
            request_id=request_id,
            agent=agent,
            frame_origin=frame_origin,
            top_origin=top_origin,
            frame_chain=chain,
            form_kind=kind,
            fields=roles,
            reason=reason,
            requested_at=requested_at,
        )
