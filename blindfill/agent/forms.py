"""What the shim reports about forms, and what a fill or submit came to.

These are small immutable values. A `DetectedForm` names its fields by role
and by an id that only the shim of that one document can resolve; it carries
the frame's origin and frame chain as the browser engine reported them (CDP),
never as the page claims them, and a `DocumentToken` so the caller can check
later that the same document is still there. Nothing here ever holds a field
value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from blindfill.agent.origins import origin_of_url

__all__ = [
    "DetectedField",
    "DetectedForm",
    "DocumentToken",
    "FieldRole",
    "FillOutcome",
    "FillStatus",
    "FormAction",
    "FormKind",
    "FrameRef",
    "SubmitMethod",
    "best_form",
]


class FormKind(Enum):
    """What a form is for. Only the first four are ever filled."""

    LOGIN = "login"  # username and password together
    USERNAME_STEP = "username_step"  # first step of a two-step sign-in
    PASSWORD_STEP = "password_step"  # noqa: S105 - a kind name; password alone (second step, lock screen)
    ONE_TIME_CODE = "one_time_code"  # a code from an authenticator, SMS or mail
    SIGNUP = "signup"  # account registration: never filled
    CHANGE_PASSWORD = "change_password"  # noqa: S105 - change or reset: never filled
    SEARCH = "search"  # a search box: never filled
    NEWSLETTER = "newsletter"  # a mailing-list sign-up: never filled
    CHECKOUT = "checkout"  # payment, shipping, billing: never filled
    OTHER = "other"  # anything else with inputs: never filled

    @property
    def fillable(self) -> bool:
        """Whether a sign-in may fill a form of this kind."""
        return self in _FILLABLE


_FILLABLE = frozenset(
    {
        FormKind.LOGIN,
        FormKind.USERNAME_STEP,
        FormKind.PASSWORD_STEP,
        FormKind.ONE_TIME_CODE,
    }
)

# How much each fillable kind is preferred when a page shows several.
_KIND_WEIGHT = {
    FormKind.LOGIN: 40.0,
    FormKind.PASSWORD_STEP: 30.0,
    FormKind.ONE_TIME_CODE: 25.0,
    FormKind.USERNAME_STEP: 20.0,
}


class FieldRole(Enum):
    """What a filled field receives."""

    USERNAME = "username"
    PASSWORD = "password"  # noqa: S105 - a role name
    ONE_TIME_CODE = "one_time_code"


@dataclass(frozen=True, slots=True)
class FrameRef:
    """One frame of a frame chain: its CDP id, URL and security origin.

    `origin` is the serialised security origin from CDP (`https://a.test`,
    with the port when it is not the default); None for an opaque origin.
    """

    frame_id: str
    url: str
    origin: str | None


@dataclass(frozen=True, slots=True)
class DocumentToken:
    """Names one document in one frame, so a later step can tell it is unchanged.

    `loader_id` comes from CDP and changes on every navigation; `nonce` is a
    random value the shim made when it loaded into this document, and
    `context_id` is the CDP execution context of the shim's world there.
    """

    frame_id: str
    loader_id: str
    context_id: int
    nonce: str


@dataclass(frozen=True, slots=True)
class DetectedField:
    """A field of a detected form, named by role.

    `input_index` is the field's position in its own document's
    `querySelectorAll("input")`, None inside a shadow root. `selector` is a
    CSS selector in the field's own root (a shadow root is written as
    `HOST >>> INNER`), for people reading output, not for finding the field.
    `field_id` is the shim's handle; `below_fold` is True when the field
    needs scrolling into view before its centre-point check.
    """

    role: FieldRole
    input_index: int | None
    selector: str
    field_id: str
    below_fold: bool = False


@dataclass(frozen=True, slots=True)
class DetectedForm:
    """A form the shim found, with the frame it lives in.

    `frame_chain` runs from the top frame down to the form's own frame
    (inclusive), each entry with the CDP-reported origin. `score` orders
    forms of one page: the higher, the likelier the form a sign-in wants.
    """

    kind: FormKind
    frame_id: str
    origin: str
    frame_chain: tuple[FrameRef, ...]
    fields: tuple[DetectedField, ...]
    document: DocumentToken
    form_id: str
    score: float
    has_form_element: bool
    # Where the form would submit when it was detected (a button's
    # formaction first); None outside a <form>. `ShimSession.form_action`
    # reads it again, from the live document.
    action: str | None = None

    @property
    def top_origin(self) -> str | None:
        """The origin of the top-level frame, as CDP reported it."""
        return self.frame_chain[0].origin

    @property
    def action_origin(self) -> str | None:
        """The origin of `action` ("null" if opaque), None without an action."""
        if self.action is None:
            return None
        return origin_of_url(self.action) or "null"

    @property
    def url(self) -> str:
        """The URL of the form's frame when it was detected."""
        return self.frame_chain[-1].url

    @property
    def roles(self) -> tuple[FieldRole, ...]:
        """The roles this form has fields for, in page order."""
        return tuple(field.role for field in self.fields)

    def field(self, role: FieldRole) -> DetectedField | None:
        """The field of `role`, or None when the form has none."""
        for field in self.fields:
            if field.role is role:
                return field
        return None


class FillStatus(Enum):
    """How a fill (or clear, or submit) ended. Only FILLED means values went in."""

    FILLED = "ok"  # every named field took its value
    DOCUMENT_CHANGED = "document_changed"  # navigated or reloaded since detect
    ORIGIN_CHANGED = "origin_changed"  # the frame's origin is not the detected one
    FRAME_GONE = "frame_gone"  # the frame was detached
    FRAME_HIDDEN = "frame_hidden"  # the frame is not visible where the field is
    FORM_GONE = "form_gone"  # the form element left the document
    FIELD_GONE = "field_gone"  # a named field left the document
    FIELD_HIDDEN = "field_hidden"  # a named field is not visible to a person
    FIELD_LOCKED = "field_locked"  # a named field is readonly or disabled
    ROLE_MISMATCH = "role_mismatch"  # a field no longer fits the value's kind
    VALUE_TOO_LONG = "value_too_long"  # longer than the field's maxlength
    NOT_REQUESTED = "not_requested"  # a value for a role the form does not have
    BAD_REQUEST = "bad_request"  # the shim refused the request as malformed
    NO_SUBMIT = "no_submit"  # nothing found that would submit the form
    INSECURE_ACTION = "insecure_action"  # an https page's form would post over http


@dataclass(frozen=True, slots=True)
class FillOutcome:
    """What a fill came to. Never holds a value.

    `filled` lists the roles set; `kept` the roles whose field still held
    the value right after the input and change events (a page script may
    rewrite it). `failed_role` names the field that stopped the fill.
    """

    status: FillStatus
    filled: tuple[FieldRole, ...] = ()
    kept: tuple[FieldRole, ...] = ()
    failed_role: FieldRole | None = None

    @property
    def ok(self) -> bool:
        return self.status is FillStatus.FILLED


@dataclass(frozen=True, slots=True)
class FormAction:
    """Where a form would send its data, read right now.

    `url` is the absolute URL (a button's `formaction` wins over the form's
    `action`), None for fields outside a `<form>`, whose submission is up to
    page script. `origin` is the URL's origin, None when there is no URL or
    it is opaque (`javascript:`, `data:`).
    """

    url: str | None
    method: str | None
    origin: str | None
    via_button: bool


class SubmitMethod(Enum):
    """How `submit` sent the form."""

    BUTTON = "button"  # clicked the form's visible submit button
    ENTER = "enter"  # pressed Enter in the last filled field
    REQUEST_SUBMIT = "request_submit"  # form.requestSubmit() without a button


def best_form(forms: list[DetectedForm]) -> DetectedForm | None:
    """The form a sign-in should fill: highest score among fillable kinds.

    Ties go to the form that came first (the top frame, then page order).
    """
    fillable = [form for form in forms if form.kind.fillable]
    if not fillable:
        return None
    return max(fillable, key=lambda form: form.score)


def kind_weight(kind: FormKind) -> float:
    """The base score of a fillable kind (0 for kinds never filled)."""
    return _KIND_WEIGHT.get(kind, 0.0)
