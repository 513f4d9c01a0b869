"""Fills: one Noise KKpsk0 handshake per request, and the key chain behind it.

Rules, in the order a fill meets them:

1. The browser side sends message 1 under link `n` of the key chain (the
   frame's epoch is `n`; the PSK is derived from link `n`). It carries the
   fill request and a retry token, a random value fixed by the first attempt
   of the epoch and persisted before that attempt is sent.
2. The approver accepts message 1 under its current link `n`, or under its
   next link `n + 1` when it holds one (the browser side then proves it
   received the last answer). A frame of an older epoch is a replay; one of
   a later epoch cannot come from an honest peer. Inside an epoch, a request
   id seen before, a timestamp not later than the last accepted one, or a
   timestamp more than 120 s away from the approver's clock is a replay.
   While the approver holds a next link for epoch `n`, a second request in
   epoch `n` is a retry after a lost message 2 and is accepted only with the
   same retry token: a copy of the browser-side state stolen before the last
   fill does not have it (post-compromise security).
3. The approver answers, maybe a minute later, with message 2: the decision
   and a fresh 32-byte seed. It derives link `n + 1` from link `n`, the seed
   and the handshake hash, and keeps link `n` as current and the new link as
   next. It must persist that state before sending message 2.
4. The browser side reads message 2, derives the same link `n + 1`, deletes
   link `n` and the retry token, and persists. If message 2 is lost, it still
   holds link `n` and the token, so its retry succeeds and the approver
   replaces its next link.
5. When message 1 arrives under the next link, the approver promotes it to
   current and deletes the old link.

Only the latest fill started on a `BrowserChannel` can complete, and the
approver refuses to answer a request older than the one that produced its
next link; together these keep both sides on the same link when attempts
overlap. A `RemoteError` from any method leaves the state unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final

from blindfill.channel._frames import (
    NO_PAIRING_ID,
    Frame,
    FrameHeader,
    FrameType,
    decode_frame,
    encode_frame,
)
from blindfill.channel._keys import (
    SYSTEM_ENTROPY,
    Entropy,
    KeyPair,
    fill_psk,
    next_link,
)
from blindfill.channel._kk import FillHandshake
from blindfill.channel._messages import (
    RETRY_TOKEN_SIZE,
    SEED_SIZE,
    Decision,
    Decline,
    DeclineReason,
    FieldRole,
    FillRequest,
    FormKind,
    Grant,
    NoticeReason,
    decode_fill_request,
    decode_fill_response,
    decode_notice,
    encode_fill_request,
    encode_fill_response,
)
from blindfill.channel._state import ApproverState, BrowserState, NextLink, ReplayWindow
from blindfill.errors import (
    AuthenticationError,
    BlindfillError,
    LocalProtocolError,
    PairingError,
    RemoteError,
    RemoteProtocolError,
    ReplayError,
    UnpairedError,
)
from blindfill.sensitive import Secret

__all__ = [
    "CLOCK_WINDOW_S",
    "ApproverChannel",
    "BrowserChannel",
    "Clock",
    "FillOutcome",
    "FillStart",
    "FillStatus",
    "PendingFill",
    "PendingRequest",
    "Reply",
    "notice_error",
    "refusal_frame",
]

Clock = Callable[[], float]
"""Seconds since the Unix epoch, like `time.time`; injected, never read here."""

CLOCK_WINDOW_S: Final = 120
_CLOCK_WINDOW_MS: Final = CLOCK_WINDOW_S * 1000


class FillStatus(Enum):
    """Where one fill attempt stands, on either side."""

    WAITING = "waiting"  # message 1 sent or received; no message 2 yet
    DONE = "done"  # message 2 written or read; the chain advanced
    FAILED = "failed"  # message 2 failed its checks; start a new attempt
    SUPERSEDED = "superseded"  # a newer attempt or a chain move made it stale


def _now_ms(clock: Clock) -> int:
    return int(clock() * 1000)


# --- browser side -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FillStart:
    """What `BrowserChannel.start_fill` returns.

    Persist `state` before sending `frame`: it may hold a new retry token,
    and a retry after a crash must carry the same one.
    """

    frame: bytes
    pending: PendingFill
    state: BrowserState


@dataclass(frozen=True, slots=True)
class FillOutcome:
    """What `PendingFill.receive` returns: the decision and the state to save.

    Persist `state` before using the values: the chain already advanced.
    """

    decision: Decision
    state: BrowserState

    @property
    def granted(self) -> bool:
        return isinstance(self.decision, Grant)


class BrowserChannel:
    """The browser side of the fill channel, in the h11 style: no I/O.

    Build it from the saved `BrowserState`; `start_fill` returns the frame to
    POST to the approver and a `PendingFill` to hand the answer to.
    """

    def __init__(
        self,
        state: BrowserState,
        *,
        clock: Clock,
        entropy: Entropy = SYSTEM_ENTROPY,
    ) -> None:
        self._state = state
        self._clock = clock
        self._entropy = entropy
        self._latest: PendingFill | None = None
        self._last_timestamp_ms = -1

    @property
    def state(self) -> BrowserState:
        """The state as of the last completed step; persist it after each."""
        return self._state

    def new_request(
        self,
        *,
        frame_origin: str,
        top_origin: str,
        form_kind: FormKind,
        fields: tuple[FieldRole, ...],
        reason: str,
        frame_chain: tuple[str, ...] | None = None,
    ) -> FillRequest:
        """A request with a fresh id and a timestamp from the injected clock.

        Timestamps from one channel strictly increase even if the clock does
        not. `frame_chain` defaults to the top origin, then the frame origin
        if it differs. Raises `InvalidInputError` on a schema violation.
        """
        timestamp = max(_now_ms(self._clock), self._last_timestamp_ms + 1)
        self._last_timestamp_ms = timestamp
        if frame_chain is None:
            frame_chain = (
                (top_origin,)
                if frame_origin == top_origin
                else (top_origin, frame_origin)
            )
        return FillRequest(
            request_id=self._entropy.random_bytes(16).hex(),
            timestamp_ms=timestamp,
            frame_origin=frame_origin,
            top_origin=top_origin,
            frame_chain=frame_chain,
            form_kind=form_kind,
            fields=fields,
            reason=reason,
        )

    def start_fill(self, request: FillRequest) -> FillStart:
        """Write message 1 for `request` under the current link.

        Any earlier pending fill of this channel is superseded: its answer
        will be refused. Returns the frame, the pending fill and the state to
        persist before sending.
        """
        state = self._state
        if state.retry_token is None:
            token = Secret(self._entropy.random_bytes(RETRY_TOKEN_SIZE), kind="retry")
            state = state.with_retry_token(token)
        assert state.retry_token is not None  # for mypy: set just above
        header = FrameHeader(FrameType.FILL_REQUEST, state.pairing_id, state.epoch)
        handshake = FillHandshake(
            initiator=True,
            prologue=header.prologue(),
            static=state.static_key,
            ephemeral=KeyPair.generate(self._entropy),
            remote_static=state.approver_key,
            psk=fill_psk(state.chain_link.reveal(), state.pairing_id, state.epoch),
        )
        payload = encode_fill_request(request, state.retry_token.reveal())
        body = handshake.write(payload, what="fill request")
        frame = encode_frame(header.type, header.pairing_id, header.epoch, body)

        self._state = state
        pending = PendingFill(self, request, header, handshake)
        self._latest = pending
        return FillStart(frame, pending, state)


class PendingFill:
    """A fill request sent and waiting for message 2."""

    __slots__ = ("_channel", "_handshake", "_header", "_status", "request")

    def __init__(
        self,
        channel: BrowserChannel,
        request: FillRequest,
        header: FrameHeader,
        handshake: FillHandshake,
    ) -> None:
        self._channel = channel
        self.request = request
        self._header = header
        self._handshake = handshake
        self._status = FillStatus.WAITING

    @property
    def status(self) -> FillStatus:
        return self._status

    def receive(self, data: bytes) -> FillOutcome:
        """Read the approver's answer and advance the chain.

        Raises `UnpairedError` if the approver answered that this pairing is
        unknown or replaced, another `RemoteError` if the answer is refused
        (the state is then unchanged and a new `start_fill` retries), and
        `LocalProtocolError` if this fill was already answered or superseded.
        """
        channel = self._channel
        if self._status is not FillStatus.WAITING:
            raise LocalProtocolError(
                f"this fill is {self._status.value}; start a new one",
                code="fill_not_waiting",
            )
        if channel._latest is not self or channel.state.epoch != self._header.epoch:
            self._status = FillStatus.SUPERSEDED
            raise LocalProtocolError(
                "a newer fill was started on this channel; its answer counts",
                code="fill_superseded",
            )

        frame = decode_frame(data)
        header = frame.header
        if header.type is FrameType.NOTICE:
            _check_notice_header(header, self._header.pairing_id)
            raise notice_error(decode_notice(frame.body))
        if (
            header.type is not FrameType.FILL_RESPONSE
            or header.pairing_id != self._header.pairing_id
            or header.epoch != self._header.epoch
        ):
            raise RemoteProtocolError(
                f"expected the fill response of epoch {self._header.epoch}, got "
                f"a {header.type.name} frame of epoch {header.epoch}",
                code="unexpected_frame",
            )

        # From here the handshake is consumed: any failure ends this attempt.
        try:
            payload = self._handshake.read(frame.body, what="fill response")
            decision, seed = decode_fill_response(payload)
            if isinstance(decision, Grant):
                unrequested = set(decision.roles) - set(self.request.fields)
                if unrequested:
                    raise RemoteProtocolError(
                        "the approver granted a field the request did not ask "
                        "for: " + ", ".join(sorted(r.value for r in unrequested)),
                        code="grant_unrequested",
                    )
        except BlindfillError:
            self._status = FillStatus.FAILED
            raise

        state = channel.state
        link = next_link(
            state.chain_link.reveal(),
            seed,
            self._handshake.handshake_hash,
            state.pairing_id,
            state.epoch,
        )
        new_state = state.advanced(Secret(link, kind="chain_link"))
        channel._state = new_state
        self._status = FillStatus.DONE
        return FillOutcome(decision, new_state)

    def __repr__(self) -> str:
        return (
            f"PendingFill(epoch={self._header.epoch}, "
            f"origin={self.request.frame_origin!r}, status={self._status.value})"
        )


# --- approver side ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """What answering a `PendingRequest` returns.

    Persist `state` before sending `frame`, so that a crash in between still
    accepts the browser side's next attempt under either link.
    """

    frame: bytes
    state: ApproverState


class ApproverChannel:
    """The approver side of the fill channel: frames in, pending requests out.

    `receive` checks a frame and returns a `PendingRequest`, which can be
    answered later with `grant` or `decline`. `receive` records the request
    id and timestamp in the in-memory state (persist `state` if replays must
    be refused across a restart before the answer); answering changes the
    chain and returns the state to persist.
    """

    def __init__(
        self,
        state: ApproverState,
        *,
        clock: Clock,
        entropy: Entropy = SYSTEM_ENTROPY,
    ) -> None:
        self._state = state
        self._clock = clock
        self._entropy = entropy

    @property
    def state(self) -> ApproverState:
        return self._state

    def receive(self, data: bytes) -> PendingRequest:
        """Check fill message 1 and return the request it carries.

        Raises, leaving the state unchanged:

        * `RemoteProtocolError` for a malformed frame or payload (before any
          Diffie-Hellman work when the header shows it);
        * `UnpairedError` with code `pairing_replaced` or `pairing_unknown`
          for a pairing id other than the current one (answer it with
          `refusal_frame`, and log an unknown device);
        * `ReplayError` for an old epoch, a known request id, a timestamp
          not after the last one or more than 120 s off the clock;
        * `AuthenticationError` if the frame does not authenticate, or uses
          the current link after the chain moved on without its retry token
          (code `chain_superseded`: a stolen or restored browser-side state).
        """
        state = self._state
        frame = decode_frame(data)
        header = frame.header
        if header.type is not FrameType.FILL_REQUEST:
            raise RemoteProtocolError(
                f"expected a FILL_REQUEST frame, got {header.type.name}",
                code="unexpected_frame",
            )
        _check_pairing(state, header)
        link = self._link_for(header.epoch)

        # Diffie-Hellman work starts here.
        handshake = FillHandshake(
            initiator=False,
            prologue=header.prologue(),
            static=state.static_key,
            ephemeral=KeyPair.generate(self._entropy),
            remote_static=state.agent_key,
            psk=fill_psk(link.reveal(), state.pairing_id, header.epoch),
        )
        payload = handshake.read(frame.body, what="fill request")
        request, retry_token = decode_fill_request(payload)
        window = self._check_fresh(header.epoch, request)
        nxt = state.next_link
        if (
            header.epoch == state.epoch
            and nxt is not None
            and Secret(retry_token) != nxt.retry_token
        ):
            raise AuthenticationError(
                "this fill request uses a key chain link that an answered fill "
                "already moved past: the browser-side state is a stale copy",
                code="chain_superseded",
                hint="if this browser side is genuine, pair it again",
            )

        self._state = state.with_window(window)
        return PendingRequest(
            self,
            frame=frame,
            handshake=handshake,
            request=request,
            retry_token=Secret(retry_token, kind="retry"),
            link=link,
        )

    def _link_for(self, epoch: int) -> Secret[bytes]:
        state = self._state
        if epoch == state.epoch:
            return state.chain_link
        if state.next_link is not None and epoch == state.epoch + 1:
            return state.next_link.chain_link
        if epoch < state.epoch:
            raise ReplayError(
                f"fill request of epoch {epoch} is older than the current "
                f"epoch {state.epoch}",
                code="stale_epoch",
            )
        raise AuthenticationError(
            f"fill request claims epoch {epoch}, beyond any link this approver holds",
            code="unknown_epoch",
        )

    def _check_fresh(self, epoch: int, request: FillRequest) -> ReplayWindow:
        now_ms = _now_ms(self._clock)
        if abs(request.timestamp_ms - now_ms) > _CLOCK_WINDOW_MS:
            raise ReplayError(
                f"fill request is stamped more than {CLOCK_WINDOW_S} s away "
                "from the approver's clock",
                code="stale_timestamp",
                hint="check that both machines' clocks are set",
            )
        window = self._state.window(epoch)
        if window is None:
            return ReplayWindow(epoch, request.timestamp_ms, (request.request_id,))
        if window.seen(request.request_id):
            raise ReplayError(
                "fill request repeats a request id already seen", code="replayed"
            )
        if request.timestamp_ms <= window.last_timestamp_ms:
            raise ReplayError(
                "fill request is not newer than the last one accepted",
                code="timestamp_regressed",
            )
        return window.after(request.request_id, request.timestamp_ms)


class PendingRequest:
    """A checked fill request waiting for the human's (or policy's) decision."""

    __slots__ = (
        "_channel",
        "_frame",
        "_handshake",
        "_link",
        "_retry_token",
        "_status",
        "request",
    )

    def __init__(
        self,
        channel: ApproverChannel,
        *,
        frame: Frame,
        handshake: FillHandshake,
        request: FillRequest,
        retry_token: Secret[bytes],
        link: Secret[bytes],
    ) -> None:
        self._channel = channel
        self._frame = frame
        self._handshake = handshake
        self.request = request
        self._retry_token = retry_token
        self._link = link
        self._status = FillStatus.WAITING

    @property
    def status(self) -> FillStatus:
        return self._status

    @property
    def pairing_id(self) -> bytes:
        return self._frame.header.pairing_id

    @property
    def epoch(self) -> int:
        return self._frame.header.epoch

    def grant(self, values: Mapping[FieldRole, Secret[str]]) -> Reply:
        """Answer with these values; only requested roles may appear.

        Raises `LocalProtocolError` (codes `grant_unrequested`,
        `fill_superseded`, `fill_not_waiting`) without changing any state.
        """
        grant = Grant(values)
        unrequested = set(grant.roles) - set(self.request.fields)
        if unrequested:
            raise LocalProtocolError(
                "cannot grant a field the request did not ask for: "
                + ", ".join(sorted(r.value for r in unrequested)),
                code="grant_unrequested",
            )
        return self._answer(grant)

    def decline(self, reason: DeclineReason = DeclineReason.DECLINED) -> Reply:
        """Answer no. Use `DECLINED` both for "no" and for "nothing matched"."""
        return self._answer(Decline(reason))

    def _answer(self, decision: Decision) -> Reply:
        channel = self._channel
        if self._status is not FillStatus.WAITING:
            raise LocalProtocolError(
                f"this request is {self._status.value}", code="fill_not_waiting"
            )
        self._check_answerable(channel.state)

        seed = channel._entropy.random_bytes(SEED_SIZE)
        body = self._handshake.write(
            encode_fill_response(decision, seed), what="fill response"
        )
        header = self._frame.header
        frame = encode_frame(
            FrameType.FILL_RESPONSE, header.pairing_id, header.epoch, body
        )
        link = next_link(
            self._link.reveal(),
            seed,
            self._handshake.handshake_hash,
            header.pairing_id,
            header.epoch,
        )
        # The link this request used becomes (or stays) current; when it
        # was the approver's next link, the old current link is deleted.
        new_state = channel.state.answered(
            epoch=self.epoch,
            chain_link=self._link,
            next_link=NextLink(
                chain_link=Secret(link, kind="chain_link"),
                retry_token=self._retry_token,
                timestamp_ms=self.request.timestamp_ms,
            ),
        )
        channel._state = new_state
        self._status = FillStatus.DONE
        return Reply(frame, new_state)

    def _check_answerable(self, state: ApproverState) -> None:
        """Raise `LocalProtocolError` unless answering keeps both sides in step.

        Answerable: a request in the current epoch when no answer is out yet,
        or a retry newer than the answered one with its token; or a request
        under the next link, which proves the last answer arrived.
        """
        epoch = self.epoch
        nxt = state.next_link
        if state.pairing_id == self.pairing_id:
            if epoch == state.epoch and (
                nxt is None
                or (
                    nxt.retry_token == self._retry_token
                    and self.request.timestamp_ms > nxt.timestamp_ms
                )
            ):
                return
            if (
                epoch == state.epoch + 1
                and nxt is not None
                and nxt.chain_link == self._link
            ):
                return
        self._status = FillStatus.SUPERSEDED
        raise LocalProtocolError(
            "a newer request of this browser side was answered, or it was "
            "re-paired; this one can no longer be answered",
            code="fill_superseded",
        )

    def __repr__(self) -> str:
        return (
            f"PendingRequest(epoch={self.epoch}, "
            f"origin={self.request.frame_origin!r}, status={self._status.value})"
        )


# --- refusals ---------------------------------------------------------------


def refusal_frame(data: bytes, error: BlindfillError) -> bytes:
    """The NOTICE frame that answers a refused frame.

    `UnpairedError` becomes "unpaired", `PairingError` "pairing failed" and
    anything else "refused". The notice echoes the pairing id and epoch of
    the refused frame when its header is readable. It is not authenticated:
    a browser side treats it as a reason to stop, never to delete its state.
    """
    if isinstance(error, UnpairedError):
        reason = NoticeReason.UNPAIRED
    elif isinstance(error, PairingError):
        reason = NoticeReason.PAIRING_FAILED
    else:
        reason = NoticeReason.REFUSED
    try:
        header = decode_frame(data).header
        pairing_id, epoch = header.pairing_id, header.epoch
    except RemoteError:
        pairing_id, epoch = NO_PAIRING_ID, 0
    return encode_frame(FrameType.NOTICE, pairing_id, epoch, bytes([reason]))


def notice_error(reason: NoticeReason) -> RemoteError:
    """The error a browser side raises for a NOTICE from the approver."""
    if reason is NoticeReason.UNPAIRED:
        return UnpairedError(
            "the approver no longer knows this pairing: another browser side "
            "was paired in its place, or the pairing was removed",
            hint="pair this browser side again",
        )
    if reason is NoticeReason.PAIRING_FAILED:
        return PairingError(
            "the approver refused the pairing: the code or token was wrong or "
            "expired, or the offer was already used",
            hint="create a new pairing offer on the approver and try again",
        )
    return AuthenticationError(
        "the approver refused the request (authentication, replay or format)",
        code="refused_by_approver",
        hint="try again; if it keeps failing, pair this browser side again",
    )


def _check_notice_header(header: FrameHeader, pairing_id: bytes) -> None:
    if header.pairing_id not in (pairing_id, NO_PAIRING_ID):
        raise RemoteProtocolError(
            "notice names another pairing", code="unexpected_frame"
        )


def _check_pairing(state: ApproverState, header: FrameHeader) -> None:
    if header.pairing_id == state.pairing_id:
        return
    if header.pairing_id in state.replaced_pairings:
        raise UnpairedError(
            f"frame from pairing {header.pairing_hex[:8]}, which a newer "
            "pairing replaced",
            code="pairing_replaced",
        )
    raise UnpairedError(
        f"frame from unknown pairing {header.pairing_hex[:8]}",
        code="pairing_unknown",
    )
