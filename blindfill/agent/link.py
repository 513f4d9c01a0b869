"""The browser side's link to its approver: pairing, then fills over HTTP.

`ApproverLink` owns the browser-side pairing state file and an
`ApproverTransport`. The sign-in flow calls `request_fill` after it found a
form and read the frame's origins from the browser engine; it gets back the
channel's `Grant` (values as `Secret`s) or `Decline`.

The state file is saved where `blindfill.pairing_state` says: before
message 1 is sent (it may hold a new retry token that a retry after a crash
must repeat) and as soon as message 2 was read (the key chain advanced). A
message 2 that never comes is a `TimeoutFault`; the state then still holds
the current link and retry token, so the next `request_fill` is accepted
as a retry without pairing again. An "unpaired" answer is an
`UnpairedError`; the state file is kept (that notice is not authenticated)
and the person pairs again to replace it.

Fills through one link are serialised: the key chain allows one fill in
flight per pairing. After `slow_after` seconds without an answer the link
logs `approval.slow` and calls `on_slow`, so a command line can say that
the approver may be locked or the person away.

`pair_browser` runs the browser side of pairing over the same transport.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from blindfill.approver.paths import ensure_private_dir
from blindfill.channel import (
    BrowserChannel,
    BrowserPairing,
    BrowserState,
    Clock,
    Decision,
    FieldRole,
    FormKind,
    Grant,
    PairingSecret,
)
from blindfill.errors import (
    InvalidInputError,
    StorageError,
    UnpairedError,
    UsageError,
)
from blindfill.log import get_logger
from blindfill.pairing_state import (
    BROWSER_STATE_FILE,
    default_state_dir,
    load_browser_state,
    save_browser_state,
)
from blindfill.sensitive import Secret
from blindfill.storage import read_private, write_atomic
from blindfill.transport.client import ApproverTransport

__all__ = [
    "APPROVER_URL_ENV",
    "PAIRING_RESULT_TIMEOUT_S",
    "RESPONSE_TIMEOUT_S",
    "SLOW_AFTER_S",
    "ApproverLink",
    "SlowHook",
    "default_browser_state_path",
    "pair_browser",
    "saved_approver_url",
]

RESPONSE_TIMEOUT_S: Final = 90.0  # above the approver's 60 s decision timeout
SLOW_AFTER_S: Final = 10.0
PAIRING_STEP_TIMEOUT_S: Final = 30.0
PAIRING_RESULT_TIMEOUT_S: Final = 180.0  # the person compares and confirms
APPROVER_URL_ENV: Final = "BLINDFILL_APPROVER_URL"
_URL_SUFFIX: Final = ".url"

SlowHook = Callable[[], None]
"""Called once per fill that has waited `slow_after` seconds."""


def _log() -> Any:
    return get_logger("blindfill.agent.link")


def default_browser_state_path() -> Path:
    """`browser-pairing.json` in the default state directory."""
    return default_state_dir() / BROWSER_STATE_FILE


def saved_approver_url(state_path: Path) -> str | None:
    """The approver URL recorded when this state was paired, if any."""
    try:
        text = read_private(_url_path(state_path)).decode("utf-8").strip()
    except (StorageError, UnicodeDecodeError):
        return None
    return text or None


def _file_marker(path: Path) -> tuple[int, int, int] | None:
    # Atomic replacement gives every version of the file a new inode.
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def _url_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + _URL_SUFFIX)


class ApproverLink:
    """The browser side of one pairing, talking to its approver.

    Use as an async context manager, or call `aclose`. A link made with
    `open` owns its transport and closes it.
    """

    def __init__(
        self,
        transport: ApproverTransport,
        *,
        state_path: Path | None = None,
        clock: Clock = time.time,
        response_timeout: float = RESPONSE_TIMEOUT_S,
        slow_after: float = SLOW_AFTER_S,
        on_slow: SlowHook | None = None,
        owns_transport: bool = False,
    ) -> None:
        self.state_path = state_path or default_browser_state_path()
        self._transport = transport
        self._clock = clock
        self._response_timeout = response_timeout
        self._slow_after = slow_after
        self._on_slow = on_slow
        self._owns_transport = owns_transport
        self._lock = asyncio.Lock()
        self._channel: BrowserChannel | None = None
        self._marker: tuple[int, int, int] | None = None

    @classmethod
    def open(
        cls,
        approver_url: str | None = None,
        *,
        state_path: Path | None = None,
        **options: Any,
    ) -> ApproverLink:
        """A link with its own transport.

        The URL is `approver_url`, else `$BLINDFILL_APPROVER_URL`, else the
        one recorded by `blindfill pair`. Raises `UsageError` if none is
        known or it is malformed. `options` go to the constructor.
        """
        path = state_path or default_browser_state_path()
        url = (
            approver_url or os.environ.get(APPROVER_URL_ENV) or saved_approver_url(path)
        )
        if not url:
            raise UsageError(
                "no approver URL is known for this browser side",
                hint=f"pass it, set {APPROVER_URL_ENV}, or pair with `blindfill pair`",
            )
        transport = ApproverTransport(url)
        return cls(transport, state_path=path, owns_transport=True, **options)

    def __repr__(self) -> str:
        return f"ApproverLink(approver={self._transport.base_url!r})"

    @property
    def approver_url(self) -> str:
        return self._transport.base_url

    def paired_state(self) -> BrowserState:
        """The saved pairing. Raises `UnpairedError` if there is none."""
        state = load_browser_state(self.state_path)
        if state is None:
            raise UnpairedError(
                f"this browser side is not paired (no {self.state_path})",
                code="not_paired",
                hint="run `blindfill pair --approver URL --name NAME`",
            )
        return state

    async def request_fill(
        self,
        *,
        frame_origin: str,
        top_origin: str,
        frame_chain: Sequence[str] | None = None,
        form_kind: FormKind | str,
        fields: Sequence[FieldRole | str],
        reason: str,
    ) -> Decision:
        """Ask the approver to fill one form step; return its decision.

        Returns a `Grant` (exactly the fields asked for, as `Secret`s) or a
        `Decline` (`declined`, `rate_limited` or `locked`; "no item" and
        "no" look the same). Raises `InvalidInputError` for a request that
        breaks the schema, `UnpairedError` if the approver no longer knows
        this pairing, `TimeoutFault` if no answer came in time,
        `ApproverUnreachableError`, and other `RemoteError`s for refused or
        forged answers. After any of these the saved state is the one a
        retry needs: the next call retries without pairing again.
        """
        try:
            kind = FormKind(form_kind)
            roles = tuple(FieldRole(f) for f in fields)
        except ValueError as exc:
            raise InvalidInputError(
                f"unknown form kind or field role: {exc}", code="invalid_message"
            ) from None
        async with self._lock:
            channel = self._load_channel()
            request = channel.new_request(
                frame_origin=frame_origin,
                top_origin=top_origin,
                frame_chain=tuple(frame_chain) if frame_chain is not None else None,
                form_kind=kind,
                fields=roles,
                reason=reason,
            )
            start = channel.start_fill(request)
            await asyncio.to_thread(save_browser_state, self.state_path, start.state)
            self._marker = _file_marker(self.state_path)
            _log().debug(
                "fill.sent", request_id=request.request_id, origin=frame_origin
            )

            timer = asyncio.get_running_loop().call_later(
                self._slow_after, self._slow, request.request_id, frame_origin
            )
            try:
                answer = await self._transport.post_fill(
                    start.frame, answer_timeout=self._response_timeout
                )
            finally:
                timer.cancel()
            try:
                outcome = start.pending.receive(answer)
            except UnpairedError:
                self._channel = None  # reload, in case it is paired again
                raise
            await asyncio.to_thread(save_browser_state, self.state_path, outcome.state)
            self._marker = _file_marker(self.state_path)

        decision = outcome.decision
        _log().info(
            "fill.answered",
            request_id=request.request_id,
            origin=frame_origin,
            outcome="granted" if isinstance(decision, Grant) else decision.reason.value,
        )
        return decision

    def _load_channel(self) -> BrowserChannel:
        # Reuse the channel across fills (it keeps request timestamps
        # strictly increasing even when the clock is coarse), unless the
        # file was replaced meanwhile, by pairing again for instance.
        marker = _file_marker(self.state_path)
        if self._channel is None or marker != self._marker:
            self._channel = BrowserChannel(self.paired_state(), clock=self._clock)
            self._marker = marker
        return self._channel

    def _slow(self, request_id: str, origin: str) -> None:
        _log().warning(
            "approval.slow",
            request_id=request_id,
            origin=origin,
            waited_s=self._slow_after,
            message="approval is taking longer than expected; "
            "the approver may be locked",
        )
        if self._on_slow is not None:
            try:
                self._on_slow()
            except Exception as exc:  # a display hook must not break a fill
                _log().warning("approval.slow_hook_failed", error=type(exc).__name__)

    async def aclose(self) -> None:
        if self._owns_transport:
            await self._transport.aclose()

    async def __aenter__(self) -> ApproverLink:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


FingerprintHook = Callable[[str, str], None]
"""Called with (approver name, fingerprint) when the approver answered."""


async def pair_browser(
    transport: ApproverTransport,
    secret: Secret[str] | PairingSecret,
    *,
    agent_name: str,
    state_path: Path | None = None,
    on_fingerprint: FingerprintHook | None = None,
    result_timeout: float = PAIRING_RESULT_TIMEOUT_S,
) -> BrowserState:
    """Pair this browser side with the approver behind `transport`.

    `secret` is the token or short code the approver showed. The state is
    saved to `state_path` (mode 0600; default in the state directory) only
    once the person at the approver confirmed, replacing any older one, and
    the approver URL is recorded next to it. Raises `InvalidInputError` for
    a malformed secret, `PairingError` for a wrong, used or expired one or
    a rejection, and the transport's errors.
    """
    path = state_path or default_browser_state_path()
    pairing = BrowserPairing(secret, agent_name=agent_name)
    reply = await transport.post_pairing(
        pairing.hello(), answer_timeout=PAIRING_STEP_TIMEOUT_S
    )
    finish = pairing.receive_reply(reply)
    _log().info(
        "pairing.answered",
        approver_name=pairing.approver_name,
        fingerprint=pairing.fingerprint,
    )
    if on_fingerprint is not None:
        on_fingerprint(pairing.approver_name, pairing.fingerprint)

    result = await transport.post_pairing(finish, answer_timeout=result_timeout)
    state = pairing.receive_result(result)
    ensure_private_dir(path.parent)
    await asyncio.to_thread(save_browser_state, path, state)
    await asyncio.to_thread(
        write_atomic, _url_path(path), transport.base_url.encode("utf-8")
    )
    _log().info("pairing.completed", fingerprint=state.fingerprint, state=str(path))
    return state
