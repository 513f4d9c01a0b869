"""The approver service: fill and pairing frames in over HTTP, answers out.

`ApproverService` joins the pieces: the channel (`ApproverChannel`,
`PairingOffer`), the decision engine, the pairing state file and the HTTP
endpoints of `blindfill.transport.protocol`. `running_service` serves it on
127.0.0.1 inside the caller's event loop (tests, demos);
`blindfill approver serve` does the same with signals and a terminal.

One fill, and why each step is where it is:

1. The header is checked without keys (`decode_frame`): a truncated,
   oversized, garbage or wrong-version frame is refused with 400 and a
   NOTICE before any Diffie-Hellman work.
2. Fills wait their turn: the key chain advances once per answered fill, so
   the fills of the pairing are processed one at a time. At most
   `max_waiting_fills` wait; more are refused with 429.
3. `ApproverChannel.receive` authenticates message 1 and checks replay;
   the state, whose replay window now holds the request, is saved before
   anyone is asked, so a replay is refused even after a restart. Unknown
   or replaced pairings get an "unpaired" NOTICE and a `device.unknown`
   event; other refusals a "refused" NOTICE and `fill.refused`.
4. The engine decides (policy, person, limits, lock) and writes the audit
   record before it returns. While it waits, the HTTP response is held. If
   the browser side disconnects, the decision is withdrawn (and audited so).
5. The answer (message 2) is written and the advanced state saved before
   the response is sent.

A kill -9 between any two steps leaves a state the next fill recovers from:
before 3's save, the request was never seen; between 3 and 5, the chain
has not moved and the browser side's retry is accepted; after 5's save and
before the send, the approver holds the next link and still accepts the
retry under the current one (see `blindfill.channel`). Audit records are
fsynced before the answer exists, so none is lost; a request accepted but
not yet decided is kept in a small journal, so one a crash interrupted is
audited as `interrupted` when the service starts again.

`close()` is the graceful shutdown: new requests get 503, decisions still
waiting for a person are withdrawn (the engine audits them), their fills
are answered with a decline, and pairing confirmations are rejected.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, TypeVar

from blindfill.approver.audit import AuditEntry, AuditLog
from blindfill.approver.decisions import (
    Decision,
    DecisionEngine,
    Outcome,
    WaitNotice,
)
from blindfill.approver.paths import ensure_private_dir
from blindfill.approver.request import AgentIdentity, ApprovalRequest
from blindfill.approver.service_journal import DecisionJournal
from blindfill.approver.service_pairing import (
    CONFIRM_TIMEOUT_S,
    Answer,
    DeskStatus,
    PairingDesk,
)
from blindfill.channel import (
    PAIRING_TTL_S,
    ApproverChannel,
    ApproverState,
    Clock,
    DeclineReason,
    FieldRole,
    FrameType,
    PairingOffer,
    PendingRequest,
    decode_frame,
    refusal_frame,
)
from blindfill.errors import (
    BlindfillError,
    EnvironmentFault,
    InvalidInputError,
    RemoteError,
    RemoteProtocolError,
    UnpairedError,
)
from blindfill.log import get_logger, redact_secrets
from blindfill.pairing_state import (
    APPROVER_STATE_FILE,
    load_approver_state,
    save_approver_state,
)
from blindfill.sensitive import Secret
from blindfill.transport.protocol import (
    ADMIN_ANSWER_PATH,
    ADMIN_OFFER_PATH,
    ADMIN_STATUS_PATH,
    FILL_PATH,
    FRAME_CONTENT_TYPE,
    HEALTH_PATH,
    MAX_ADMIN_BODY,
    MAX_FRAME_SIZE,
    PAIR_PATH,
    SERVICE_NAME,
)
from blindfill.transport.server import (
    BoundServer,
    HttpApp,
    HttpRequest,
    HttpResponse,
    Route,
    is_loopback_host,
    serve_http,
    text_response,
)

__all__ = [
    "ApproverService",
    "EventSink",
    "RunningService",
    "StopPoint",
    "running_service",
]

EventSink = Callable[[str, dict[str, Any]], None]
"""Receives each service event: its name and its (redacted) fields."""

T = TypeVar("T")
Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]

MAX_WAITING_FILLS: Final = 4
_CLOSE_GRACE_S: Final = 15.0
_MAX_ADMIN_WAIT_S: Final = 25.0
_JSON: Final = "application/json"


class StopPoint(StrEnum):
    """Steps of a fill where a debugging run can freeze the process.

    With `stop_at`, the service sends itself SIGSTOP at that step, so a
    crash test can kill -9 it at exactly that point.
    """

    RECEIVED = "received"  # message 1 accepted and its state saved
    DECIDED = "decided"  # the decision made and audited, nothing answered
    ANSWERED = "answered"  # message 2 written and its state saved, not sent


@dataclass(frozen=True, slots=True)
class _Refused:
    # A fill that ended without an answer frame: the response to send.
    response: HttpResponse


async def _complete(step: Awaitable[T]) -> T:
    """Run `step` to the end even if the caller is cancelled meanwhile.

    Saving a state and swapping it in memory must not be cut in half: a
    cancelled caller waits for the step, then is cancelled.
    """
    task = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task})
        raise


class ApproverService:
    """The approver's endpoints over one state directory and one engine.

    `engine` None serves pairing only (fills get 503), which is what
    `approver pair` runs when no server is up. `admin_token` enables the
    admin endpoints for loopback clients. `audit`, the engine's audit log,
    enables the journal of undecided requests (`service_journal`): requests
    a crash interrupted are audited at construction. Raises `StorageError`
    or `InvalidInputError` if the saved pairing cannot be read.
    """

    def __init__(
        self,
        *,
        state_dir: Path,
        engine: DecisionEngine | None,
        approver_name: str | None = None,
        clock: Clock = time.time,
        admin_token: Secret[str] | None = None,
        confirm_timeout: float = CONFIRM_TIMEOUT_S,
        pairing_ttl: float = PAIRING_TTL_S,
        max_waiting_fills: int = MAX_WAITING_FILLS,
        events: EventSink | None = None,
        stop_at: StopPoint | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        ensure_private_dir(state_dir)
        self.state_dir = state_dir
        self._state_path = state_dir / APPROVER_STATE_FILE
        self._state: ApproverState | None = load_approver_state(self._state_path)
        self._engine = engine
        self._clock = clock
        self._admin_token = admin_token
        self._max_waiting = max_waiting_fills
        self._sink = events
        self._stop_at = stop_at
        self.approver_name = approver_name or _default_name()

        self._state_lock = asyncio.Lock()  # guards _state and its file
        self._fill_gate = asyncio.Lock()  # one fill of the pairing at a time
        self._waiting = 0
        self._decisions: set[asyncio.Task[Decision]] = set()
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._journal: DecisionJournal | None = None
        if audit is not None:
            self._journal = DecisionJournal(state_dir)
            recovered = self._journal.recover(audit)
            if recovered:
                self._event("audit.recovered", level="warning", records=recovered)
        self.desk = PairingDesk(
            approver_name=self.approver_name,
            clock=clock,
            confirm=self._confirm_pairing,
            event=self._event,
            ttl=pairing_ttl,
            confirm_timeout=confirm_timeout,
        )

    def __repr__(self) -> str:
        return f"ApproverService(state_dir={str(self.state_dir)!r})"

    @property
    def pairing(self) -> ApproverState | None:
        """The current pairing, or None before the first one."""
        return self._state

    # --- the ASGI application ---------------------------------------------

    def app(self) -> HttpApp:
        """The ASGI application serving this service's endpoints."""

        def frame_route(path: str, handler: Handler, refused: str) -> Route:
            def too_large() -> HttpResponse:
                self._event(refused, level="warning", error_code="frame_too_large")
                error = RemoteProtocolError("frame too large", code="frame_too_large")
                return HttpResponse(413, refusal_frame(b"", error), FRAME_CONTENT_TYPE)

            return Route(
                "POST",
                path,
                self._tracked(handler),
                max_body=MAX_FRAME_SIZE,
                content_type=FRAME_CONTENT_TYPE,
                too_large=too_large,
            )

        return HttpApp(
            [
                frame_route(FILL_PATH, self._handle_fill, "fill.refused"),
                frame_route(PAIR_PATH, self._handle_pair, "pairing.refused"),
                Route("GET", HEALTH_PATH, self._handle_health, max_body=0),
                Route(
                    "POST", ADMIN_OFFER_PATH, self._admin_offer, max_body=MAX_ADMIN_BODY
                ),
                Route("GET", ADMIN_STATUS_PATH, self._admin_status, max_body=0),
                Route(
                    "POST",
                    ADMIN_ANSWER_PATH,
                    self._admin_answer,
                    max_body=MAX_ADMIN_BODY,
                ),
            ]
        )

    def _tracked(self, handler: Handler) -> Handler:
        # Counts requests in progress, so close() can wait for them.
        async def run(request: HttpRequest) -> HttpResponse:
            if self._closing:
                return text_response(503, "the approver is shutting down")
            self._active += 1
            self._idle.clear()
            try:
                return await handler(request)
            finally:
                self._active -= 1
                if self._active == 0:
                    self._idle.set()

        return run

    async def _handle_health(self, request: HttpRequest) -> HttpResponse:
        document = {"service": SERVICE_NAME, "protocol": 1}
        return HttpResponse(200, json.dumps(document).encode(), _JSON)

    # --- fills --------------------------------------------------------------

    async def _handle_fill(self, request: HttpRequest) -> HttpResponse:
        body = request.body
        try:
            header = decode_frame(body).header
            if header.type is not FrameType.FILL_REQUEST:
                raise RemoteProtocolError(
                    f"{FILL_PATH} takes FILL_REQUEST frames, not {header.type.name}",
                    code="unexpected_frame",
                )
        except RemoteProtocolError as exc:
            return self._refuse(body, exc)
        if self._engine is None:
            return text_response(503, "this approver serves pairing only right now")
        if self._waiting >= self._max_waiting:
            self._event("fill.busy", level="warning", waiting=self._waiting)
            return text_response(
                429, "too many fills of this pairing are waiting", headers=_RETRY
            )

        self._waiting += 1
        try:
            await self._fill_gate.acquire()
        finally:
            self._waiting -= 1
        try:
            if self._closing:
                return text_response(503, "the approver is shutting down")
            return await self._fill(body, self._engine)
        except EnvironmentFault as exc:
            # The state file could not be written: nothing was answered.
            self._event("service.storage_failed", level="error", error=exc.message)
            return text_response(503, "the approver cannot save its state")
        finally:
            self._fill_gate.release()

    async def _fill(self, body: bytes, engine: DecisionEngine) -> HttpResponse:
        received = await _complete(self._receive(body))
        if isinstance(received, _Refused):
            return received.response
        pending, channel = received
        request = pending.request
        self._event(
            "fill.received",
            request_id=request.request_id,
            origin=request.frame_origin,
            form_kind=request.form_kind.value,
            fields=[role.value for role in request.fields],
            epoch=pending.epoch,
        )
        approval = self._approval(pending, channel.state)
        if approval is not None and self._journal is not None:
            # What the audit record will say if a crash interrupts the decision.
            entry = AuditEntry.of(approval, decision="pending", decided_by="pending")
            await _complete(asyncio.to_thread(self._journal.add, entry))
        self._maybe_stop(StopPoint.RECEIVED)

        decision = None
        if approval is not None:
            decision = await self._decide(approval, engine)
        self._maybe_stop(StopPoint.DECIDED)
        return await _complete(self._answer(pending, channel, decision))

    async def _receive(
        self, body: bytes
    ) -> tuple[PendingRequest, ApproverChannel] | _Refused:
        async with self._state_lock:
            state = self._state
            try:
                if state is None:
                    raise UnpairedError(
                        "this approver has no pairing yet", code="pairing_unknown"
                    )
                channel = ApproverChannel(state, clock=self._clock)
                pending = channel.receive(body)
            except RemoteError as exc:
                return _Refused(self._refuse(body, exc))
            await asyncio.to_thread(
                save_approver_state, self._state_path, channel.state
            )
            self._state = channel.state
        return pending, channel

    def _approval(
        self, pending: PendingRequest, state: ApproverState
    ) -> ApprovalRequest | None:
        """The engine's view of the request; None if it cannot take it."""
        request = pending.request
        try:
            return ApprovalRequest.build(
                request_id=request.request_id,
                agent=AgentIdentity(state.agent_name, state.fingerprint),
                frame_origin=request.frame_origin,
                top_origin=request.top_origin,
                frame_chain=request.frame_chain,
                form_kind=request.form_kind.value,
                fields=[role.value for role in request.fields],
                reason=request.reason,
                requested_at=request.timestamp_ms / 1000,
            )
        except InvalidInputError as exc:
            self._event("fill.invalid", level="warning", error_code=exc.code)
            return None

    async def _decide(
        self, approval: ApprovalRequest, engine: DecisionEngine
    ) -> Decision | None:
        """The engine's decision; None for one withdrawn by `close()`.

        Cancelling the caller withdraws the decision (audited by the
        engine). Either way the journal entry is removed once the engine
        has written its record.
        """
        task = asyncio.create_task(engine.decide(approval, on_wait=self._on_wait))
        self._decisions.add(task)
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            # The browser side left: withdraw, and let the engine audit it.
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self._event("fill.withdrawn", request_id=approval.request_id)
            raise
        finally:
            self._decisions.discard(task)
            if self._journal is not None:
                self._journal.remove(approval.request_id)  # memory only
        if task.cancelled():
            return None
        return task.result()

    async def _answer(
        self,
        pending: PendingRequest,
        channel: ApproverChannel,
        decision: Decision | None,
    ) -> HttpResponse:
        request = pending.request
        reply = decision.reply() if decision is not None else None
        async with self._state_lock:
            if self._state is not channel.state:
                # Re-paired while the person decided: this device is gone.
                error = UnpairedError(
                    "the pairing was replaced while the request waited",
                    code="pairing_replaced",
                )
                return self._refuse(b"", error)
            if reply is not None and reply.outcome is Outcome.GRANTED:
                values = {FieldRole(k.value): v for k, v in reply.values.items()}
                answer = pending.grant(values)
            else:
                reason = (
                    DeclineReason(reply.outcome.wire_reason)
                    if reply is not None
                    else DeclineReason.DECLINED
                )
                answer = pending.decline(reason)
            await asyncio.to_thread(save_approver_state, self._state_path, answer.state)
            self._state = answer.state
        self._maybe_stop(StopPoint.ANSWERED)
        self._event(
            "fill.answered",
            request_id=request.request_id,
            origin=request.frame_origin,
            outcome=reply.outcome.value if reply is not None else "declined",
        )
        return HttpResponse(200, answer.frame, FRAME_CONTENT_TYPE)

    async def _on_wait(self, notice: WaitNotice) -> None:
        self._event(
            "fill.waiting",
            request_id=notice.request_id,
            stage=notice.stage.value,
            waited_s=round(notice.waited, 1),
            remaining_s=round(notice.remaining, 1),
        )

    def _refuse(self, body: bytes, error: BlindfillError) -> HttpResponse:
        status = 400 if isinstance(error, RemoteProtocolError) else 403
        if isinstance(error, UnpairedError):
            pairing = ""
            with contextlib.suppress(RemoteError):
                pairing = decode_frame(body).header.pairing_hex[:8]
            self._event(
                "device.unknown",
                level="warning",
                error_code=error.code,
                pairing=pairing,
            )
        else:
            self._event("fill.refused", level="warning", error_code=error.code)
        return HttpResponse(status, refusal_frame(body, error), FRAME_CONTENT_TYPE)

    def _maybe_stop(self, point: StopPoint) -> None:
        if self._stop_at is point:
            os.kill(os.getpid(), signal.SIGSTOP)

    # --- pairing ------------------------------------------------------------

    async def _handle_pair(self, request: HttpRequest) -> HttpResponse:
        body = request.body
        try:
            frame = await self.desk.receive(body)
        except RemoteError as exc:
            self._event("pairing.refused", level="warning", error_code=exc.code)
            status = 400 if isinstance(exc, RemoteProtocolError) else 403
            return HttpResponse(status, refusal_frame(body, exc), FRAME_CONTENT_TYPE)
        except EnvironmentFault as exc:
            self._event("service.storage_failed", level="error", error=exc.message)
            return text_response(503, "the approver cannot save the pairing")
        return HttpResponse(200, frame, FRAME_CONTENT_TYPE)

    async def _confirm_pairing(self, offer: PairingOffer) -> bytes:
        # The new pairing replaces the old one, on disk before the answer.
        async def step() -> bytes:
            async with self._state_lock:
                paired = offer.confirm(previous=self._state)
                await asyncio.to_thread(
                    save_approver_state, self._state_path, paired.state
                )
                self._state = paired.state
            return paired.frame

        return await _complete(step())

    # --- admin --------------------------------------------------------------

    def _admin_refusal(self, request: HttpRequest) -> HttpResponse | None:
        if self._admin_token is None:
            return _json(404, {"error": "admin endpoints are off"})
        if request.client_host is None or not is_loopback_host(request.client_host):
            return _json(403, {"error": "admin endpoints answer loopback clients only"})
        expected = f"Bearer {self._admin_token.reveal()}".encode()
        given = request.headers.get("authorization", "").encode("latin-1")
        if not hmac.compare_digest(given, expected):
            return _json(401, {"error": "wrong or missing admin token"})
        return None

    async def _admin_offer(self, request: HttpRequest) -> HttpResponse:
        refusal = self._admin_refusal(request)
        if refusal is not None:
            return refusal
        try:
            ticket = await self.desk.open_offer()
        except BlindfillError as exc:
            return _json(503, {"error": exc.message, "error_code": exc.code})
        return _json(
            200,
            {
                "offer_id": ticket.offer_id,
                "token": ticket.token.reveal(),
                "code": ticket.code.reveal(),
                "expires_in": ticket.expires_in,
            },
        )

    async def _admin_status(self, request: HttpRequest) -> HttpResponse:
        refusal = self._admin_refusal(request)
        if refusal is not None:
            return refusal
        try:
            since = (
                DeskStatus(request.query["since"]) if "since" in request.query else None
            )
            wait = min(float(request.query.get("wait", "0")), _MAX_ADMIN_WAIT_S)
            view = await self.desk.wait_change(
                request.query.get("offer", ""), since=since, wait_s=max(wait, 0.0)
            )
        except (ValueError, BlindfillError) as exc:
            return _json(400, {"error": str(exc), "error_code": "admin_bad_request"})
        return _json(200, view.to_json())

    async def _admin_answer(self, request: HttpRequest) -> HttpResponse:
        refusal = self._admin_refusal(request)
        if refusal is not None:
            return refusal
        try:
            document = json.loads(request.body)
            offer_id = str(document["offer"])
            answer = Answer(document["answer"])
            view = await self.desk.answer(offer_id, answer)
        except (ValueError, KeyError, TypeError) as exc:
            return _json(
                400,
                {
                    "error": f"malformed answer: {exc}",
                    "error_code": "admin_bad_request",
                },
            )
        except BlindfillError as exc:
            return _json(409, {"error": exc.message, "error_code": exc.code})
        return _json(200, view.to_json())

    # --- events and shutdown --------------------------------------------------

    def _event(self, name: str, *, level: str = "info", **fields: Any) -> None:
        getattr(get_logger("blindfill.approver.service"), level)(name, **fields)
        if self._sink is not None:
            shown = dict(redact_secrets(None, level, dict(fields)))
            self._sink(name, shown)

    async def close(self, *, grace: float = _CLOSE_GRACE_S) -> None:
        """Stop taking requests; withdraw waiting decisions and answer them.

        Every decision still waiting is withdrawn (the engine writes its
        audit record), its fill is answered with a decline, and pending
        pairing confirmations are rejected. Returns once no request is in
        progress, or after `grace` seconds.
        """
        self._closing = True
        self._event("service.stopping", in_flight=len(self._decisions))
        for task in list(self._decisions):
            task.cancel()
        await self.desk.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._idle.wait()


_RETRY: Final = (("retry-after", "5"),)


def _json(status: int, document: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, json.dumps(document).encode(), _JSON)


def _default_name() -> str:
    name = "".join(ch for ch in socket.gethostname() if ch.isprintable())[:64]
    return name.strip() or "approver"


# --- running in-process -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunningService:
    """A service being served: its URL and the service object."""

    service: ApproverService
    server: BoundServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port


@contextlib.asynccontextmanager
async def running_service(
    service: ApproverService, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningService]:
    """Serve `service` in this event loop while the block runs.

    Port 0 picks a free port (`RunningService.url` says which). On exit the
    service is closed gracefully (`ApproverService.close`), then the server.
    """
    async with serve_http(service.app(), host=host, port=port) as bound:
        try:
            yield RunningService(service, bound)
        finally:
            await service.close()
