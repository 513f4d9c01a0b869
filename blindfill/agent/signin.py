"""The whole sign-in: detect, request, inject, submit, and on to the next step.

`sign_in` is what an agent calls. It runs one login from the form on the
page to the page after the last step, asking the approver once per step:

1. Wait for a fillable form (login, username step, password step,
   one-time-code step) and take the best one.
2. Refuse before asking anyone when the page cannot safely receive a
   credential: an HTTPS page with a certificate error, or a form whose action
   posts to another origin than the frame's own.
3. Ask the approver over the link, for exactly the fields this step needs,
   with the frame's origin and frame chain as the browser engine reports
   them.
4. Fill (the shim re-checks right before injecting that the same document
   of the same origin is still there and the fields are still visible) and
   drop the values at once.
5. Unless `submit=False`: check again that the form still posts where it
   did; if not, empty the fields and stop. Otherwise submit, wait for the
   page to settle, and go back to 1 for the next step.

The result says how it ended, which fields were filled, at which origin,
and the steps taken. It never holds a value: the agent learns whether the
sign-in worked, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from blindfill.agent.forms import (
    DetectedForm,
    FieldRole,
    FillStatus,
    FormKind,
    best_form,
)
from blindfill.agent.session import ShimSession
from blindfill.channel import Decline, DeclineReason, Grant
from blindfill.channel import FieldRole as WireRole
from blindfill.channel import FormKind as WireKind
from blindfill.errors import (
    ApproverUnreachableError,
    DetectionError,
    RemoteError,
    TimeoutFault,
    UnpairedError,
)
from blindfill.log import get_logger

if TYPE_CHECKING:
    from playwright.async_api import Page

    from blindfill.agent.link import ApproverLink
    from blindfill.sensitive import Secret

__all__ = ["SignInResult", "SignInStatus", "StepResult", "run_sign_in"]

log = get_logger(__name__)

FORM_WAIT_S: Final = 5.0  # how long a page may take to show its first form
SETTLE_S: Final = 10.0  # how long a submitted step may take to show its result
MAX_STEPS: Final = 4  # username, password, one-time code, and one spare
_POLL_S: Final = 0.1
_EMPTY_POLLS: Final = 3  # consecutive polls without a form that mean "done"

_WIRE_KIND: Final = {
    FormKind.LOGIN: WireKind.LOGIN,
    FormKind.USERNAME_STEP: WireKind.USERNAME_STEP,
    FormKind.PASSWORD_STEP: WireKind.PASSWORD_STEP,
    FormKind.ONE_TIME_CODE: WireKind.ONE_TIME_CODE_STEP,
}


class SignInStatus(StrEnum):
    """How a sign-in ended."""

    SIGNED_IN = "signed_in"  # every step submitted and no login form is left
    FILLED = "filled"  # filled, but not submitted, or the site showed it again
    DECLINED = "declined"  # the person or policy said no, or nothing matched
    RATE_LIMITED = "rate_limited"  # the approver asks to slow down
    NO_LOGIN_FORM = "no_login_form"  # no fillable form showed on the page
    ORIGIN_CHANGED = "origin_changed"  # the page navigated before the fill
    REFUSED = "refused"  # a safety check stopped it; `detail` says which
    APPROVER_UNREACHABLE = "approver_unreachable"  # no connection to the approver
    TIMEOUT = "timeout"  # the approver did not answer in time, or is locked
    UNPAIRED = "unpaired"  # this browser side is not (or no longer) paired

    @property
    def ok(self) -> bool:
        return self in (SignInStatus.SIGNED_IN, SignInStatus.FILLED)


@dataclass(frozen=True, slots=True)
class StepResult:
    """One form step of a sign-in. Never holds a value."""

    kind: str  # the form kind, e.g. "username_step"
    origin: str  # the frame's security origin, from the browser engine
    fields_filled: tuple[str, ...]
    submitted: bool


@dataclass(frozen=True, slots=True)
class SignInResult:
    """What a sign-in came to. Holds no value, key or token.

    `status` says how it ended; `detail` is a short machine-readable reason
    for a refusal or error (e.g. `certificate_error`, `action_changed`);
    `fields_filled` names every field role filled over all steps; `origin`
    is the origin of the last form touched (None if none was found).
    """

    status: SignInStatus
    fields_filled: tuple[str, ...] = ()
    origin: str | None = None
    steps: tuple[StepResult, ...] = ()
    submitted: bool = False
    detail: str | None = None

    @property
    def ok(self) -> bool:
        """True when the credentials went in (and, if asked, were submitted)."""
        return self.status.ok


class _Stop(Exception):
    """Ends the step loop with a status (internal)."""

    def __init__(self, status: SignInStatus, detail: str | None = None) -> None:
        super().__init__(status.value)
        self.status = status
        self.detail = detail


async def run_sign_in(
    page: Page,
    session: ShimSession,
    link: ApproverLink,
    *,
    reason: str,
    submit: bool = True,
    form_wait: float = FORM_WAIT_S,
    settle: float = SETTLE_S,
    max_steps: int = MAX_STEPS,
) -> SignInResult:
    """Sign in on `page` through `session` (the shim) and `link` (the approver).

    Never raises for what the page, the approver or the network did: each
    of those ends as a `SignInResult` status. Raises `LocalError` for
    misuse, `BrowserError` for a browser that cannot be driven, and
    `StorageError` when the pairing state cannot be saved.
    """
    steps: list[StepResult] = []
    origin: str | None = None
    status, detail = SignInStatus.NO_LOGIN_FORM, None
    try:
        form = best_form(await session.wait_for_forms(form_wait))
        while form is not None:
            origin = form.origin
            if len(steps) >= max_steps:
                raise _Stop(SignInStatus.REFUSED, "too_many_steps")
            step = await _run_step(
                page, session, link, form, reason=reason, submit=submit
            )
            steps.append(step)
            if not submit:
                raise _Stop(SignInStatus.FILLED)
            form = await _next_form(page, session, form, settle)
        if steps:
            status = SignInStatus.SIGNED_IN
    except _Stop as stop:
        status, detail = stop.status, stop.detail

    filled = tuple(dict.fromkeys(role for step in steps for role in step.fields_filled))
    result = SignInResult(
        status=status,
        fields_filled=filled,
        origin=origin,
        steps=tuple(steps),
        submitted=any(step.submitted for step in steps),
        detail=detail,
    )
    log.info(
        "sign_in.completed",
        status=status.value,
        origin=origin,
        steps=len(steps),
        detail=detail,
    )
    return result


async def _run_step(
    page: Page,
    session: ShimSession,
    link: ApproverLink,
    form: DetectedForm,
    *,
    reason: str,
    submit: bool,
) -> StepResult:
    """Request, fill and (when asked) submit one form step."""
    # Refuse what no approval could make safe, before anyone is asked.
    if await certificate_error(page, form):
        raise _Stop(SignInStatus.REFUSED, "certificate_error")
    action = form.action_origin  # as detected a moment ago
    if action is not None and action != form.origin:
        log.warning("fill.refused", origin=form.origin, reason="cross_origin_action")
        raise _Stop(SignInStatus.REFUSED, "cross_origin_action")

    values = await _request(link, form, reason)
    try:
        outcome = await session.fill(form, values)
    except DetectionError as exc:  # the frame went away during the fill
        raise _Stop(SignInStatus.ORIGIN_CHANGED, exc.code) from None
    finally:
        values.clear()  # the only reference to the secrets goes here
    if not outcome.ok:
        raise _Stop(
            _FILL_REFUSALS.get(outcome.status, SignInStatus.REFUSED),
            outcome.status.value,
        )
    filled = tuple(role.value for role in outcome.filled)
    if not submit:
        return StepResult(form.kind.value, form.origin, filled, submitted=False)

    # The page may have re-pointed the form since the first check.
    if await _action_origin(session, form) != action:
        with contextlib.suppress(DetectionError):
            await session.clear(form)
        log.warning("fill.withdrawn", origin=form.origin, reason="action_changed")
        raise _Stop(SignInStatus.REFUSED, "action_changed")
    try:
        await session.submit(form)
    except DetectionError as exc:
        raise _Stop(SignInStatus.FILLED, exc.code) from None
    return StepResult(form.kind.value, form.origin, filled, submitted=True)


_FILL_REFUSALS: Final = {
    FillStatus.DOCUMENT_CHANGED: SignInStatus.ORIGIN_CHANGED,
    FillStatus.ORIGIN_CHANGED: SignInStatus.ORIGIN_CHANGED,
    FillStatus.FRAME_GONE: SignInStatus.ORIGIN_CHANGED,
}


async def _request(
    link: ApproverLink, form: DetectedForm, reason: str
) -> dict[FieldRole, Secret[str]]:
    """Ask the approver for this step's fields; map every failure to a stop."""
    try:
        decision = await link.request_fill(
            frame_origin=form.origin,
            top_origin=form.top_origin or form.origin,
            frame_chain=[ref.origin or "null" for ref in form.frame_chain],
            form_kind=_WIRE_KIND[form.kind],
            fields=[WireRole(role.value) for role in form.roles],
            reason=reason,
        )
    except UnpairedError as exc:
        raise _Stop(SignInStatus.UNPAIRED, exc.code) from None
    except TimeoutFault as exc:
        raise _Stop(SignInStatus.TIMEOUT, exc.code) from None
    except ApproverUnreachableError as exc:
        raise _Stop(SignInStatus.APPROVER_UNREACHABLE, exc.code) from None
    except RemoteError as exc:
        # A forged, garbled or refused answer: nothing to fill.
        raise _Stop(SignInStatus.REFUSED, exc.code) from None

    if isinstance(decision, Decline):
        raise _Stop(*_DECLINES[decision.reason])
    assert isinstance(decision, Grant)
    return {FieldRole(role.value): value for role, value in decision.values.items()}


_DECLINES: Final = {
    DeclineReason.DECLINED: (SignInStatus.DECLINED, None),
    DeclineReason.RATE_LIMITED: (SignInStatus.RATE_LIMITED, None),
    DeclineReason.LOCKED: (SignInStatus.TIMEOUT, "approver_locked"),
}


async def _action_origin(session: ShimSession, form: DetectedForm) -> str | None:
    """The origin the form posts to, or None when it has no action URL."""
    try:
        action = await session.form_action(form)
    except DetectionError as exc:
        raise _Stop(SignInStatus.ORIGIN_CHANGED, exc.code) from None
    if action.url is None:
        return None
    return action.origin or "null"


async def _next_form(
    page: Page, session: ShimSession, previous: DetectedForm, settle: float
) -> DetectedForm | None:
    """After a submit: the next step's form, or None when no login form is left.

    Polls until the page shows a form that is not the one just submitted
    (a new document, or a new kind) or shows no fillable form several polls
    in a row. If the submitted form is still there when `settle` runs out,
    the site did not take the step: the sign-in ends as FILLED.
    """
    from playwright.async_api import Error as PlaywrightError

    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle
    empty = 0
    while loop.time() < deadline:
        await asyncio.sleep(_POLL_S)
        with contextlib.suppress(PlaywrightError):
            await page.wait_for_load_state(
                "load", timeout=max(1.0, deadline - loop.time()) * 1000
            )
        form = best_form(await session.detect())
        if form is None:
            empty += 1
            if empty >= _EMPTY_POLLS:
                return None
            continue
        empty = 0
        if form.document != previous.document or form.kind is not previous.kind:
            return form
    raise _Stop(SignInStatus.FILLED, "form_still_shown")


async def certificate_error(page: Page, form: DetectedForm) -> bool:
    """Whether an HTTPS frame of the form's chain was loaded despite a bad cert.

    A context made with `ignore_https_errors=True` loads such pages; the
    browser engine still knows, and says so in its security state.
    """
    if not any((ref.origin or "").startswith("https:") for ref in form.frame_chain):
        return False
    from playwright.async_api import Error as PlaywrightError

    try:
        cdp = await page.context.new_cdp_session(page)
    except PlaywrightError:
        return False
    states: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    cdp.on("Security.visibleSecurityStateChanged", states.put_nowait)
    try:
        await cdp.send("Security.enable")
        event = await asyncio.wait_for(states.get(), timeout=2.0)
    except (PlaywrightError, TimeoutError):
        return True  # cannot prove the certificate is good: refuse
    finally:
        with contextlib.suppress(PlaywrightError):
            await cdp.detach()
    state = event.get("visibleSecurityState")
    if not isinstance(state, dict):
        return True
    cert = state.get("certificateSecurityState")
    if isinstance(cert, dict) and cert.get("certificateNetworkError"):
        return True
    return state.get("securityState") == "insecure"
