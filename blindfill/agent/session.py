"""The browser side's handle on the shim: attach, detect, fill, submit.

`ShimSession.attach(page_or_context)` opens CDP sessions of its own next to
Playwright's: one per page, and one per out-of-process frame (a cross-site
iframe runs in its own renderer and has its own CDP target). On each it
registers the shim as a script for every new document in the isolated world
`blindfill` (and runs it at once in the documents already there), and adds
the notification binding to that world only. Page scripts run in the main
world and can reach neither.

Every frame's URL, security origin, parent and document (loader id) come
from CDP (`Page.getFrameTree`), never from the page. A form is reported with
its frame chain from the top; frames with opaque or inherited origins, and
http frames inside https ones, are refused (see `blindfill.agent.origins`).

Frame visibility is checked from the outside in: the field's centre point
inside its own frame, then that point, moved into each parent's coordinates,
must hit the `<iframe>` element there (found through CDP `DOM.getFrameOwner`,
not through page code).

Values travel to the shim only inside `fill`, as the argument of one
`Runtime.callFunctionOn` in the shim's world; they are never logged, and a
`FillOutcome` never carries them. (Playwright's own protocol trace,
`DEBUG=pw:protocol`, would print CDP traffic: never enable it in production.)

All Playwright errors are translated here into `BrowserError` or
`DetectionError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from blindfill.agent.forms import (
    DetectedField,
    DetectedForm,
    DocumentToken,
    FieldRole,
    FillOutcome,
    FillStatus,
    FormAction,
    FormKind,
    FrameRef,
    SubmitMethod,
    kind_weight,
)
from blindfill.agent.origins import chain_refusal, origin_of_url
from blindfill.agent.shim import BINDING_NAME, HANDLE_KEY, WORLD_NAME, shim_source
from blindfill.errors import BrowserError, DetectionError, LocalProtocolError
from blindfill.log import get_logger
from blindfill.sensitive import Secret

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, CDPSession, Frame, Page

__all__ = ["ShimSession"]

log = get_logger(__name__)

T = TypeVar("T")

# How much a form in the page's header or navigation, or in a modal that shows
# no sign of being open, is ranked below a form in the page's main part.
_SHORTCUT_PENALTY = 6.0

# Calls the shim's entry point in its world; `this` is an element handed over
# by CDP (an <iframe>) or the global object.
_CALL_SHIM = (
    "function (request) {"
    f" const handle = globalThis[{json.dumps(HANDLE_KEY)}];"
    " if (typeof handle !== 'function') return {missing: true};"
    " return handle(request, this === globalThis ? undefined : this);"
    "}"
)


@dataclass(slots=True)
class _FrameNode:
    """One frame as CDP reports it, and the CDP session that can reach it."""

    frame_id: str
    parent_id: str | None
    url: str
    security_origin: str | None
    loader_id: str
    session: CDPSession
    page: Page
    target: _Target


class _Target:
    """A CDP session with the shim installed: a page, or an out-of-process frame."""

    def __init__(self, session: CDPSession, page: Page) -> None:
        self.session = session
        self.page = page
        self.alive = True
        # Execution context id -> the origin CDP reports for it. Unlike the
        # frame tree's securityOrigin, this is opaque (`://`) for a sandboxed
        # frame loaded from a real URL.
        self.context_origins: dict[int, str] = {}

    # Triggered by CDP for every execution context made in this target.
    def on_context_created(self, event: Mapping[str, Any]) -> None:
        context = event.get("context", {})
        self.context_origins[int(context.get("id", -1))] = str(
            context.get("origin", "")
        )

    # Triggered by CDP when a context goes away (navigation, frame detach).
    def on_context_destroyed(self, event: Mapping[str, Any]) -> None:
        self.context_origins.pop(int(event.get("executionContextId", -1)), None)

    # Triggered by CDP when all contexts of the target are cleared.
    def on_contexts_cleared(self, _event: Mapping[str, Any]) -> None:
        self.context_origins.clear()


class ShimSession:
    """The shim in every frame of a page or a whole browser context.

    Create with `await ShimSession.attach(page_or_context)`; it works the
    same for a browser Playwright launched and one reached with
    `connect_over_cdp`. Call `detect()` for the forms, then `fill`,
    `form_action`, `submit` and `clear` with one of them. `close()` detaches.
    """

    def __init__(self, context: BrowserContext) -> None:
        self._context = context
        self._pages: dict[Page, _Target] = {}
        self._frames: dict[Frame, _Target] = {}
        # Frames known to run in their parent's process, keyed with their URL
        # because a navigation can move a frame to a process of its own.
        self._in_process: set[tuple[Frame, str]] = set()
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # --- attaching ---------------------------------------------------------

    @classmethod
    async def attach(cls, target: Page | BrowserContext) -> ShimSession:
        """Inject the shim into every frame of `target`, now and later.

        `target` is a Playwright `Page` (that page only) or `BrowserContext`
        (every page in it, including pages opened later). Raises
        `BrowserError` (code `cdp_unavailable`) when the browser is not
        Chromium or refuses a CDP session.
        """
        from playwright.async_api import BrowserContext

        if isinstance(target, BrowserContext):
            session = cls(target)
            for page in target.pages:
                await session._attach_page(page)
            target.on("page", session._on_new_page)
        else:
            session = cls(target.context)
            await session._attach_page(target)
        return session

    async def _attach_page(self, page: Page) -> None:
        if page in self._pages or page.is_closed():
            return
        cdp = await self._new_cdp_session(page)
        target = _Target(cdp, page)
        self._pages[page] = target
        await self._install(target)
        page.on("frameattached", self._on_frame_event)
        page.on("framenavigated", self._on_frame_event)
        page.on("close", self._on_page_closed)
        log.debug("shim.attached", url=page.url)

    async def _new_cdp_session(self, page_or_frame: Page | Frame) -> CDPSession:
        from playwright.async_api import Error as PlaywrightError

        try:
            return await self._context.new_cdp_session(page_or_frame)
        except PlaywrightError as exc:
            raise BrowserError(
                "could not open a CDP session to the page",
                code="cdp_unavailable",
                hint="blindfill needs Chromium (launched or via connect_over_cdp)",
            ) from exc

    async def _install(self, target: _Target) -> None:
        """Register the shim and its binding on one CDP session."""
        cdp = target.session
        cdp.on("Runtime.bindingCalled", self._on_binding)
        cdp.on("Runtime.executionContextCreated", target.on_context_created)
        cdp.on("Runtime.executionContextDestroyed", target.on_context_destroyed)
        cdp.on("Runtime.executionContextsCleared", target.on_contexts_cleared)
        await self._send(cdp, "Page.enable")
        await self._send(cdp, "Runtime.enable")
        await self._send(
            cdp,
            "Runtime.addBinding",
            {"name": BINDING_NAME, "executionContextName": WORLD_NAME},
        )
        await self._send(
            cdp,
            "Page.addScriptToEvaluateOnNewDocument",
            {
                "source": shim_source(),
                "worldName": WORLD_NAME,
                "runImmediately": True,
            },
        )

    # Triggered by Playwright when a page opens in an attached context.
    def _on_new_page(self, page: Page) -> None:
        self._spawn(self._attach_page(page))

    # Triggered by Playwright when a frame is attached or navigates: a
    # cross-site frame may need a CDP session of its own.
    def _on_frame_event(self, frame: Frame) -> None:
        self._changed.set()
        if frame.parent_frame is not None:
            self._spawn(self._attach_frame(frame))

    # Triggered by Playwright when an attached page closes.
    def _on_page_closed(self, page: Page) -> None:
        target = self._pages.pop(page, None)
        if target is not None:
            target.alive = False
        for frame in [f for f, t in self._frames.items() if t.page is page]:
            self._frames.pop(frame).alive = False

    # Triggered by the shim (through the binding) when its document's inputs
    # change. The payload carries no values; only wake up waiters.
    def _on_binding(self, event: Mapping[str, Any]) -> None:
        if event.get("name") == BINDING_NAME:
            self._changed.set()

    def _spawn(self, work: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception as exc:  # background attach is best effort
                log.debug("shim.attach_failed", error=type(exc).__name__)

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attach_frame(self, frame: Frame) -> None:
        """Open a session for `frame` if it runs in a process of its own."""
        from playwright.async_api import Error as PlaywrightError

        if self._closed or frame.is_detached():
            return
        target = self._frames.get(frame)
        if target is not None and target.alive:
            return
        key = (frame, frame.url)
        if key in self._in_process:
            return
        page = frame.page
        try:
            cdp = await self._context.new_cdp_session(frame)
        except PlaywrightError:
            self._in_process.add(key)  # part of its parent's session
            return
        target = _Target(cdp, page)
        self._frames[frame] = target
        await self._install(target)

    async def close(self) -> None:
        """Detach every CDP session this session opened. Idempotent."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        targets = list(self._pages.values()) + list(self._frames.values())
        self._pages.clear()
        self._frames.clear()
        for target in targets:
            target.alive = False
            with contextlib.suppress(Exception):
                await target.session.detach()

    # --- CDP plumbing -------------------------------------------------------

    async def _send(
        self, cdp: CDPSession, method: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One CDP command, with Playwright's errors translated."""
        from playwright.async_api import Error as PlaywrightError

        try:
            result: dict[str, Any] = await cdp.send(method, params or {})
        except PlaywrightError as exc:
            raise DetectionError(f"CDP {method} failed", code="cdp_failed") from exc
        return result

    async def _frame_nodes(self) -> dict[str, _FrameNode]:
        """Every frame of every attached page, from CDP frame trees."""
        if self._closed:
            raise LocalProtocolError("this ShimSession is closed", code="closed")
        for page in list(self._pages):
            for frame in page.frames[1:]:
                await self._attach_frame(frame)
        nodes: dict[str, _FrameNode] = {}
        targets = list(self._pages.values()) + list(self._frames.values())
        for target in targets:
            if not target.alive:
                continue
            try:
                tree = await self._send(target.session, "Page.getFrameTree")
            except DetectionError:
                target.alive = False  # the frame swapped process or closed
                continue
            self._walk_tree(tree["frameTree"], target, nodes)
        return nodes

    def _walk_tree(
        self, tree: Mapping[str, Any], target: _Target, nodes: dict[str, _FrameNode]
    ) -> None:
        frame = tree["frame"]
        frame_id = frame["id"]
        # An out-of-process frame's own session (walked later) wins.
        nodes[frame_id] = _FrameNode(
            frame_id=frame_id,
            parent_id=frame.get("parentId"),
            url=frame.get("url", "") + frame.get("urlFragment", ""),
            security_origin=frame.get("securityOrigin"),
            loader_id=frame.get("loaderId", ""),
            session=target.session,
            page=target.page,
            target=target,
        )
        for child in tree.get("childFrames", ()):
            self._walk_tree(child, target, nodes)

    async def _context_id(self, node: _FrameNode) -> int:
        result = await self._send(
            node.session,
            "Page.createIsolatedWorld",
            {"frameId": node.frame_id, "worldName": WORLD_NAME},
        )
        return int(result["executionContextId"])

    def _context_matches(self, node: _FrameNode, context_id: int) -> bool:
        """Whether CDP gives the shim's context in `node` the frame's origin.

        A sandboxed frame keeps its URL's origin in the frame tree but runs
        with an opaque origin; its contexts report `://` and are refused.
        """
        reported = node.target.context_origins.get(context_id)
        if reported is None:
            return False
        return origin_of_url(reported) == origin_of_url(node.security_origin or "")

    async def _call(
        self,
        node: _FrameNode,
        request: dict[str, Any],
        *,
        context_id: int | None = None,
        subject: str | None = None,
    ) -> dict[str, Any]:
        """Send one request to the shim in `node`'s frame; return its answer.

        `subject` is a CDP object id (an element in the shim's world) the
        shim receives as its second argument.
        """
        if context_id is None:
            context_id = await self._context_id(node)
        params: dict[str, Any] = {
            "functionDeclaration": _CALL_SHIM,
            "arguments": [{"value": request}],
            "returnByValue": True,
        }
        if subject is not None:
            params["objectId"] = subject
        else:
            params["executionContextId"] = context_id
        for attempt in range(2):
            result = await self._send(node.session, "Runtime.callFunctionOn", params)
            if "exceptionDetails" in result:
                raise DetectionError(
                    f"the shim failed in frame {node.url[:80]}",
                    code="shim_exception",
                )
            value = result.get("result", {}).get("value")
            if not isinstance(value, dict):
                raise DetectionError("the shim gave no answer", code="shim_no_answer")
            if not value.get("missing"):
                return value
            if attempt == 0:
                # A world made before the shim was registered: load it now.
                loaded = await self._send(
                    node.session,
                    "Runtime.evaluate",
                    {"expression": shim_source(), "contextId": context_id},
                )
                if "exceptionDetails" in loaded:
                    raise DetectionError(
                        "the shim failed to load", code="shim_exception"
                    )
        raise DetectionError("the shim did not load in a frame", code="shim_missing")

    # --- detection ------------------------------------------------------------

    async def detect(self, *, include_unfillable: bool = False) -> list[DetectedForm]:
        """Describe the forms of every frame, best first.

        Returns fillable forms (login, username step, password step,
        one-time code) in frames that may receive credentials; with
        `include_unfillable=True` also signup, change-password, search,
        newsletter, checkout and other forms, and forms in refused frames
        are still never returned. Frames whose shim cannot answer (a frame
        detached mid-call, a document without scripting) are skipped.
        """
        nodes = await self._frame_nodes()
        forms: list[DetectedForm] = []
        for node in nodes.values():
            chain = _chain(node, nodes)
            if chain is None:
                continue
            refusal = chain_refusal([(ref.url, ref.origin_raw) for ref in chain])
            if refusal is not None:
                log.debug("frame.refused", url=node.url[:200], reason=refusal)
                continue
            try:
                context_id = await self._context_id(node)
                if not self._context_matches(node, context_id):
                    log.debug("frame.refused", url=node.url[:200], reason="opaque")
                    continue
                answer = await self._call(
                    node, {"type": "describe"}, context_id=context_id
                )
                with _shim_answer():
                    found = _forms_from_answer(
                        answer, node, chain, context_id, include_unfillable
                    )
            except DetectionError as exc:
                log.debug("frame.skipped", url=node.url[:200], error=exc.code)
                continue
            if node.parent_id is not None:
                found = [f for f in found if await self._seen_through(node, nodes, f)]
            forms.extend(found)
        forms.sort(key=lambda form: -form.score)
        log.debug("forms.detected", count=len(forms))
        return forms

    async def wait_for_forms(self, seconds: float) -> list[DetectedForm]:
        """Detect repeatedly until a fillable form shows, or `seconds` pass.

        Wakes on the shim's change notifications and on navigations rather
        than polling quickly. Returns an empty list at the deadline.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            self._changed.clear()
            forms = await self.detect()
            remaining = deadline - loop.time()
            if forms or remaining <= 0:
                return forms
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))

    # --- acting on a form -----------------------------------------------------

    async def _revalidate(  # noqa: PLR0911 - one return per refusal reason
        self, form: DetectedForm
    ) -> tuple[_FrameNode, int, dict[str, _FrameNode]] | FillStatus:
        """The form's frame, shim context and the frames read for the check,
        if it is still the same document.

        Returns a refusal status when the frame is gone, navigated, changed
        origin or now sits in a refused chain.
        """
        nodes = await self._frame_nodes()
        node = nodes.get(form.frame_id)
        if node is None:
            return FillStatus.FRAME_GONE
        if node.loader_id != form.document.loader_id:
            return FillStatus.DOCUMENT_CHANGED
        chain = _chain(node, nodes)
        if chain is None:
            return FillStatus.FRAME_GONE
        if chain_refusal([(ref.url, ref.origin_raw) for ref in chain]) is not None:
            return FillStatus.ORIGIN_CHANGED
        if origin_of_url(node.security_origin or "") != form.origin:
            return FillStatus.ORIGIN_CHANGED
        if [ref.origin for ref in chain] != [ref.origin for ref in form.frame_chain]:
            return FillStatus.ORIGIN_CHANGED
        # The shim's context of the detected document. The unchanged loader
        # id (read just now) says the document is the same; the context must
        # still be alive by CDP's events. Calls into it also carry the
        # shim's nonce for this document, which the shim checks again.
        context_id = form.document.context_id
        if context_id not in node.target.context_origins:
            return FillStatus.DOCUMENT_CHANGED
        if not self._context_matches(node, context_id):
            return FillStatus.ORIGIN_CHANGED
        return node, context_id, nodes

    async def _seen_through(
        self, node: _FrameNode, nodes: dict[str, _FrameNode], form: DetectedForm
    ) -> bool:
        """Whether a child frame's form shows through its ancestors.

        Forms without fields (kinds never filled) pass; they are only shown.
        """
        if not form.fields:
            return True
        if await self._frame_visible(node, nodes, form.fields[0]):
            return True
        log.debug("frame.refused", url=node.url[:200], reason="frame_hidden")
        return False

    async def _frame_visible(
        self, node: _FrameNode, nodes: dict[str, _FrameNode], field: DetectedField
    ) -> bool:
        """Whether `field`'s centre is seen through every ancestor frame."""
        point = _point(
            await self._call(
                node, {"type": "probe_frame", "field": field.field_id, "scroll": True}
            )
        )
        if point is None:
            return False
        child = node
        while child.parent_id is not None:
            parent = nodes.get(child.parent_id)
            if parent is None:
                return False
            try:
                owner = await self._send(
                    parent.session, "DOM.getFrameOwner", {"frameId": child.frame_id}
                )
                context_id = await self._context_id(parent)
                resolved = await self._send(
                    parent.session,
                    "DOM.resolveNode",
                    {
                        "backendNodeId": owner["backendNodeId"],
                        "executionContextId": context_id,
                    },
                )
                object_id = resolved["object"]["objectId"]
                answer = await self._call(
                    parent,
                    {"type": "probe_frame", "x": point[0], "y": point[1]},
                    subject=object_id,
                )
                with contextlib.suppress(DetectionError):
                    await self._send(
                        parent.session, "Runtime.releaseObject", {"objectId": object_id}
                    )
            except (DetectionError, KeyError):
                return False
            point = _point(answer)
            if point is None:
                return False
            child = parent
        return True

    async def fill(
        self, form: DetectedForm, values: Mapping[FieldRole, Secret[str]]
    ) -> FillOutcome:
        """Put `values` into the form's fields of those roles, and nothing else.

        Right before injecting, checks that the same document of the same
        origin is still in the frame, that every named field is still there,
        visible (also through every ancestor frame), enabled, writable, of
        the value's kind (a password only into a password field, a code only
        into a code field), and within its `maxlength`. If any check fails,
        no field is touched and the outcome says why. Values are set with the
        native setter of the shim's world, then `input` and `change` fire,
        so framework-controlled inputs (React, Vue) take them.

        Raises `LocalProtocolError` if `values` is empty or names a role the
        form has no field for. The values are not kept after the call.
        """
        if not values:
            raise LocalProtocolError(
                "fill() needs at least one value", code="no_values"
            )
        missing = [role for role in values if form.field(role) is None]
        if missing:
            raise LocalProtocolError(
                f"the {form.kind.value} form has no {missing[0].value} field",
                code="role_not_in_form",
            )
        checked = await self._revalidate(form)
        if isinstance(checked, FillStatus):
            log.info("fill.refused", origin=form.origin, reason=checked.value)
            return FillOutcome(status=checked)
        node, context_id, nodes = checked

        # Frame visibility, from the field's centre up through each parent.
        if node.parent_id is not None:
            for role in values:
                field = form.field(role)
                assert field is not None  # checked above
                if not await self._frame_visible(node, nodes, field):
                    log.info("fill.refused", origin=form.origin, reason="frame_hidden")
                    return FillOutcome(status=FillStatus.FRAME_HIDDEN, failed_role=role)

        request = {
            "type": "fill",
            "nonce": form.document.nonce,
            "form": form.form_id,
            "fields": [
                {
                    "id": _field_id(form, role),
                    "role": role.value,
                    "value": secret.reveal(),
                }
                for role, secret in values.items()
            ],
        }
        try:
            answer = await self._call(node, request, context_id=context_id)
        finally:
            request.clear()  # drop our reference to the values at once
        with _shim_answer():
            outcome = _fill_outcome(answer)
        if outcome.ok:
            log.info(
                "fill.completed",
                origin=form.origin,
                roles=[role.value for role in outcome.filled],
            )
        else:
            log.info("fill.refused", origin=form.origin, reason=outcome.status.value)
        return outcome

    async def form_action(self, form: DetectedForm) -> FormAction:
        """Where the form would submit to right now (a button's formaction wins).

        Raises `DetectionError` (code `document_changed`) when the document
        is no longer the detected one.
        """
        node, context_id = await self._require_same(form)
        answer = await self._call(
            node,
            {"type": "action", "nonce": form.document.nonce, "form": form.form_id},
            context_id=context_id,
        )
        _raise_unless_ok(answer)
        url = _optional_str(answer.get("url"))
        return FormAction(
            url=url,
            method=_optional_str(answer.get("method")),
            origin=origin_of_url(url) if url else None,
            via_button=bool(answer.get("via_button")),
        )

    async def submit(self, form: DetectedForm) -> SubmitMethod:
        """Submit the form: its visible submit button, else Enter in its last field.

        Raises `DetectionError` when the document changed or nothing would
        submit the form.
        """
        node, context_id = await self._require_same(form)
        last = form.fields[-1].field_id if form.fields else ""
        answer = await self._call(
            node,
            {
                "type": "submit",
                "nonce": form.document.nonce,
                "form": form.form_id,
                "focus": last,
            },
            context_id=context_id,
        )
        _raise_unless_ok(answer)
        with _shim_answer():
            method = SubmitMethod(answer["method"])
        if method is SubmitMethod.ENTER:
            await _translate(node.page.keyboard.press("Enter"))
        log.info("form.submitted", origin=form.origin, method=method.value)
        return method

    async def clear(self, form: DetectedForm) -> int:
        """Empty the form's fields; returns how many held something.

        Use it when a submit is called off after a fill. Raises
        `DetectionError` when the document changed (its fields went with it).
        """
        node, context_id = await self._require_same(form)
        answer = await self._call(
            node,
            {
                "type": "clear",
                "nonce": form.document.nonce,
                "fields": [field.field_id for field in form.fields],
            },
            context_id=context_id,
        )
        _raise_unless_ok(answer)
        return int(answer.get("cleared", 0))

    async def _require_same(self, form: DetectedForm) -> tuple[_FrameNode, int]:
        checked = await self._revalidate(form)
        if isinstance(checked, FillStatus):
            raise DetectionError(
                f"the form's document is no longer there ({checked.value})",
                code=checked.value,
            )
        node, context_id, _ = checked
        return node, context_id


@dataclass(frozen=True, slots=True)
class _ChainEntry:
    url: str
    origin_raw: str | None
    frame_id: str

    @property
    def origin(self) -> str | None:
        return origin_of_url(self.origin_raw or "")


def _chain(
    node: _FrameNode, nodes: Mapping[str, _FrameNode]
) -> list[_ChainEntry] | None:
    """The frames from the top down to `node`, or None if a parent is unknown."""
    chain: list[_ChainEntry] = []
    current: _FrameNode | None = node
    seen: set[str] = set()
    while current is not None:
        if current.frame_id in seen:
            return None
        seen.add(current.frame_id)
        chain.append(
            _ChainEntry(current.url, current.security_origin, current.frame_id)
        )
        if current.parent_id is None:
            break
        current = nodes.get(current.parent_id)
        if current is None:
            return None
    chain.reverse()
    return chain


def _forms_from_answer(
    answer: Mapping[str, Any],
    node: _FrameNode,
    chain: list[_ChainEntry],
    context_id: int,
    include_unfillable: bool,
) -> list[DetectedForm]:
    """DetectedForm values from one shim describe answer."""
    origin = origin_of_url(node.security_origin or "")
    if origin is None:
        return []
    document = DocumentToken(
        frame_id=node.frame_id,
        loader_id=node.loader_id,
        context_id=context_id,
        nonce=str(answer.get("nonce", "")),
    )
    frame_chain = tuple(
        FrameRef(frame_id=entry.frame_id, url=entry.url, origin=entry.origin)
        for entry in chain
    )
    forms: list[DetectedForm] = []
    for raw in answer.get("forms", ()):
        try:
            kind = FormKind(raw["kind"])
        except (KeyError, ValueError):
            continue
        if not (kind.fillable or include_unfillable):
            continue
        if raw.get("insecure_action"):
            # An https document whose form would post the credential over http.
            log.debug("form.refused", url=node.url[:200], reason="insecure_action")
            continue
        fields = tuple(
            DetectedField(
                role=FieldRole(item["role"]),
                input_index=item.get("input_index"),
                selector=str(item.get("selector", "")),
                field_id=str(item["id"]),
                below_fold=bool(item.get("deferred")),
            )
            for item in raw.get("fields", ())
        )
        score = kind_weight(kind)
        score += float(raw.get("login_evidence", 0)) - float(
            raw.get("signup_evidence", 0)
        )
        score += 5.0 if raw.get("in_viewport") else 0.0
        if raw.get("placement", "main") != "main":
            score -= _SHORTCUT_PENALTY  # a header or pop-up sign-in is a side door
        score -= 2.0 * (len(chain) - 1)  # prefer the top frame's own form
        forms.append(
            DetectedForm(
                kind=kind,
                frame_id=node.frame_id,
                origin=origin,
                frame_chain=frame_chain,
                fields=fields,
                document=document,
                form_id=str(raw["id"]),
                score=score,
                has_form_element=bool(raw.get("has_form_element")),
                action=_optional_str(raw.get("action")),
            )
        )
    return forms


@contextlib.contextmanager
def _shim_answer() -> Iterator[None]:
    """Turn a shim answer of the wrong shape into `DetectionError`."""
    try:
        yield
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DetectionError(
            "the shim's answer is malformed", code="shim_bad_answer"
        ) from exc


def _point(answer: Mapping[str, Any]) -> tuple[float, float] | None:
    """The (x, y) of a `probe_frame` answer; None when the point is not seen."""
    if not answer.get("ok"):
        return None
    try:
        return float(answer["x"]), float(answer["y"])
    except (KeyError, TypeError, ValueError):
        return None


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _field_id(form: DetectedForm, role: FieldRole) -> str:
    field = form.field(role)
    if field is None:
        raise LocalProtocolError(f"no {role.value} field", code="role_not_in_form")
    return field.field_id


def _fill_outcome(answer: Mapping[str, Any]) -> FillOutcome:
    """A FillOutcome from the shim's fill answer."""
    try:
        status = FillStatus(answer.get("status"))
    except ValueError:
        status = FillStatus.BAD_REQUEST
    role = answer.get("role")
    failed = FieldRole(role) if role in {r.value for r in FieldRole} else None
    if status is not FillStatus.FILLED:
        return FillOutcome(status=status, failed_role=failed)
    filled = tuple(FieldRole(item["role"]) for item in answer.get("filled", ()))
    kept = tuple(
        FieldRole(item["role"]) for item in answer.get("filled", ()) if item.get("kept")
    )
    return FillOutcome(status=status, filled=filled, kept=kept)


def _raise_unless_ok(answer: Mapping[str, Any]) -> None:
    status = answer.get("status")
    if status != FillStatus.FILLED.value:
        raise DetectionError(
            f"the shim refused the request ({status})", code=str(status or "refused")
        )


async def _translate(work: Awaitable[T]) -> T:
    """Await a Playwright call, translating its errors into BrowserError."""
    from playwright.async_api import Error as PlaywrightError

    try:
        return await work
    except PlaywrightError as exc:
        raise BrowserError(
            "the browser refused an input event", code="input_failed"
        ) from exc
