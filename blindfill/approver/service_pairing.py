"""The pairing desk: one open pairing offer and the person's answer to it.

The approver service routes every pairing frame here. The desk holds at most
one open offer (opening a new one withdraws the old), walks it through the
channel's `PairingOffer`, and when the handshake is done it holds the
browser side's last request open until the person has compared the agent's
name and fingerprint and answered, through `answer` (called in-process, or
over the admin endpoints by `blindfill approver pair`). On yes, `confirm`
(given by the service) replaces the old pairing and persists the new one
before the result frame is sent; on no, or when nobody answers in time, the
browser side is told the pairing was rejected.

Statuses a watcher sees, in order:

    waiting -> handshake -> confirming -> paired
                                       -> rejected
    any of the first three -> failed (wrong code or token: the offer is
                              used up), expired, cancelled

Nothing here logs or returns the token or code except `OfferTicket`, which
holds them as `Secret`s for the person who opened the offer.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from blindfill.channel import (
    PAIRING_TTL_S,
    Clock,
    ConfirmationNeeded,
    FrameType,
    OfferStatus,
    PairingOffer,
    decode_frame,
)
from blindfill.errors import (
    BlindfillError,
    LocalProtocolError,
    PairingError,
    UsageError,
)
from blindfill.sensitive import Secret

__all__ = [
    "CONFIRM_TIMEOUT_S",
    "Answer",
    "DeskStatus",
    "OfferTicket",
    "OfferView",
    "PairingDesk",
]

CONFIRM_TIMEOUT_S: Final = 120.0
_KEPT_OFFERS: Final = 4  # recent offers whose status can still be asked
_NO_PAIRING_ID: Final = bytes(16)

Confirm = Callable[[PairingOffer], Awaitable[bytes]]
EventHook = Callable[..., None]


class DeskStatus(StrEnum):
    """Where an offer stands, as `approver pair` shows it."""

    WAITING = "waiting"  # open; no browser side has said hello
    HANDSHAKE = "handshake"  # hello answered; waiting for the finish
    CONFIRMING = "confirming"  # the person must compare and confirm
    PAIRED = "paired"  # confirmed and saved; it replaced any old pairing
    REJECTED = "rejected"  # the person said no, or nobody answered in time
    FAILED = "failed"  # wrong code or token, or a broken handshake
    EXPIRED = "expired"  # nobody finished the handshake in time
    CANCELLED = "cancelled"  # withdrawn, replaced, or the browser side left

    @property
    def final(self) -> bool:
        return self not in (
            DeskStatus.WAITING,
            DeskStatus.HANDSHAKE,
            DeskStatus.CONFIRMING,
        )


class Answer(StrEnum):
    """What the person (or `approver pair`) says about an offer."""

    CONFIRM = "confirm"  # pair with this agent
    REJECT = "reject"  # do not
    CANCEL = "cancel"  # withdraw the offer, whatever its stage


@dataclass(frozen=True, slots=True, repr=False)
class OfferTicket:
    """A new offer: its id and the secrets to show the person, once."""

    offer_id: str
    token: Secret[str]
    code: Secret[str]
    expires_in: float

    def __repr__(self) -> str:
        return f"OfferTicket(offer_id={self.offer_id!r})"


@dataclass(frozen=True, slots=True)
class OfferView:
    """What may be known about an offer: never its token or code."""

    offer_id: str
    status: DeskStatus
    expires_in: float
    agent_name: str | None = None
    fingerprint: str | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "offer_id": self.offer_id,
            "status": self.status.value,
            "expires_in": round(self.expires_in, 1),
            "agent_name": self.agent_name,
            "fingerprint": self.fingerprint,
            "detail": self.detail,
        }


@dataclass(slots=True)
class _Entry:
    offer_id: str
    offer: PairingOffer
    override: DeskStatus | None = None  # set once the desk itself decides
    agent_name: str | None = None
    fingerprint: str | None = None
    detail: str = ""
    verdict: asyncio.Future[bool] | None = field(default=None, repr=False)


class PairingDesk:
    """Pairing offers and their confirmation, for one approver.

    `confirm` is called with the offer once the person said yes; it must
    replace and persist the pairing and return the result frame to send.
    `event` receives (name, **fields) for each step, for logs.
    """

    def __init__(
        self,
        *,
        approver_name: str,
        clock: Clock,
        confirm: Confirm,
        event: EventHook,
        ttl: float = PAIRING_TTL_S,
        confirm_timeout: float = CONFIRM_TIMEOUT_S,
    ) -> None:
        self._approver_name = approver_name
        self._clock = clock
        self._confirm = confirm
        self._event = event
        self._ttl = ttl
        self._confirm_timeout = confirm_timeout
        self._entries: dict[str, _Entry] = {}
        self._changed = asyncio.Condition()
        self._closed = False

    # --- the person's side ------------------------------------------------

    async def open_offer(self) -> OfferTicket:
        """Open a new offer, withdrawing any other that is still open."""
        if self._closed:
            raise LocalProtocolError(
                "the approver is shutting down", code="service_closing"
            )
        for entry in self._entries.values():
            if not self._status(entry).final:
                self._settle(entry, DeskStatus.CANCELLED, "a newer offer replaced it")
        offer = PairingOffer.create(
            approver_name=self._approver_name, clock=self._clock, ttl=self._ttl
        )
        entry = _Entry(secrets.token_hex(8), offer)
        self._entries[entry.offer_id] = entry
        for stale in list(self._entries)[:-_KEPT_OFFERS]:
            del self._entries[stale]
        self._event("pairing.offered", offer_id=entry.offer_id, ttl_s=self._ttl)
        await self._notify()
        return OfferTicket(entry.offer_id, offer.token, offer.code, self._ttl)

    async def wait_change(
        self, offer_id: str, *, since: DeskStatus | None, wait_s: float
    ) -> OfferView:
        """The offer's status once it differs from `since` (or `wait_s` end)."""
        entry = self._entry(offer_id)

        def changed() -> bool:
            return self._status(entry) is not since

        async with self._changed:
            try:
                async with asyncio.timeout(wait_s):
                    await self._changed.wait_for(changed)
            except TimeoutError:
                pass
        return self._view(entry)

    async def answer(self, offer_id: str, answer: Answer) -> OfferView:
        """Give the person's answer; returns the offer's status after it.

        `CONFIRM` and `REJECT` need an offer in `confirming`; after
        `CONFIRM` this returns once the pairing is saved (status `paired`)
        or failed. `CANCEL` withdraws an offer at any stage. Raises
        `LocalProtocolError` if the offer cannot take this answer.
        """
        entry = self._entry(offer_id)
        status = self._status(entry)
        if answer is Answer.CANCEL:
            if entry.verdict is not None and not entry.verdict.done():
                entry.verdict.set_result(False)
            elif not status.final:
                self._settle(entry, DeskStatus.CANCELLED, "withdrawn on the approver")
                await self._notify()
            return await self.wait_change(
                offer_id, since=DeskStatus.CONFIRMING, wait_s=5.0
            )
        if (
            status is not DeskStatus.CONFIRMING
            or entry.verdict is None
            or entry.verdict.done()
        ):
            raise LocalProtocolError(
                f"this offer is {status.value}, not waiting for confirmation",
                code="pairing_not_confirming",
            )
        entry.verdict.set_result(answer is Answer.CONFIRM)
        return await self.wait_change(
            offer_id, since=DeskStatus.CONFIRMING, wait_s=self._confirm_timeout
        )

    async def close(self) -> None:
        """Refuse new offers and reject any waiting for confirmation."""
        self._closed = True
        for entry in self._entries.values():
            if entry.verdict is not None and not entry.verdict.done():
                entry.verdict.set_result(False)
            elif not self._status(entry).final:
                self._settle(entry, DeskStatus.CANCELLED, "the approver stopped")
        await self._notify()

    # --- the browser side's frames ----------------------------------------

    async def receive(self, data: bytes) -> bytes:
        """Answer one pairing frame with the next one.

        A finish is answered only after the person's verdict (or the
        confirmation timeout). Raises `RemoteError` subclasses for frames
        the channel refuses, and `PairingError` (code `pairing_no_offer`)
        when no open offer fits; answer those with a refusal frame.
        """
        header = decode_frame(data).header
        entry = self._route(header.type, header.pairing_id)
        try:
            event = entry.offer.receive(data)
        except BlindfillError as exc:
            if entry.offer.status is OfferStatus.FAILED:
                detail = (
                    "the code or token did not match; this offer is used up"
                    if exc.code == "pairing_secret_mismatch"
                    else f"the handshake failed ({exc.code}); this offer is used up"
                )
                self._settle(entry, DeskStatus.FAILED, detail)
                self._event(
                    "pairing.failed", offer_id=entry.offer_id, error_code=exc.code
                )
            await self._notify()
            raise
        if not isinstance(event, ConfirmationNeeded):
            await self._notify()
            return event.frame
        return await self._await_verdict(entry, event)

    async def _await_verdict(self, entry: _Entry, event: ConfirmationNeeded) -> bytes:
        entry.agent_name = event.agent_name
        entry.fingerprint = event.fingerprint
        verdict = asyncio.get_running_loop().create_future()
        entry.verdict = verdict
        if self._closed:
            verdict.set_result(False)
        self._event(
            "pairing.requested",
            offer_id=entry.offer_id,
            agent_name=event.agent_name,
            fingerprint=event.fingerprint,
        )
        await self._notify()
        try:
            async with asyncio.timeout(self._confirm_timeout):
                accepted = await asyncio.shield(verdict)
        except TimeoutError:
            accepted = False
            entry.detail = "nobody confirmed in time"
        except asyncio.CancelledError:
            self._settle(
                entry, DeskStatus.CANCELLED, "the browser side left before the answer"
            )
            await self._notify()
            raise

        if not accepted:
            frame = entry.offer.reject()
            self._settle(entry, DeskStatus.REJECTED, entry.detail or "rejected")
            self._event("pairing.rejected", offer_id=entry.offer_id)
            await self._notify()
            return frame
        try:
            frame = await self._confirm(entry.offer)
        except BlindfillError as exc:
            self._settle(entry, DeskStatus.FAILED, f"saving the pairing failed: {exc}")
            await self._notify()
            raise
        self._settle(entry, DeskStatus.PAIRED, "it replaced any earlier pairing")
        self._event(
            "pairing.confirmed",
            offer_id=entry.offer_id,
            agent_name=event.agent_name,
            fingerprint=event.fingerprint,
        )
        await self._notify()
        return frame

    # --- helpers ----------------------------------------------------------

    def _route(self, frame_type: FrameType, pairing_id: bytes) -> _Entry:
        open_entries = [e for e in self._entries.values() if e.override is None]
        found: _Entry | None = None
        if frame_type is FrameType.PAIR_HELLO and pairing_id == _NO_PAIRING_ID:
            waiting = [e for e in open_entries if self._status(e) is DeskStatus.WAITING]
            found = waiting[-1] if waiting else None
        elif frame_type in (FrameType.PAIR_HELLO, FrameType.PAIR_FINISH):
            found = next(
                (e for e in open_entries if e.offer.pairing_id == pairing_id), None
            )
        if found is None:
            raise PairingError(
                "no open pairing offer fits this pairing frame",
                code="pairing_no_offer",
                hint="run `blindfill approver pair` on the approver first",
            )
        return found

    def _entry(self, offer_id: str) -> _Entry:
        entry = self._entries.get(offer_id)
        if entry is None:
            raise UsageError(f"no pairing offer {offer_id!r} on this approver")
        return entry

    def _status(self, entry: _Entry) -> DeskStatus:
        if entry.override is not None:
            return entry.override
        return _FROM_OFFER[entry.offer.status]

    def _view(self, entry: _Entry) -> OfferView:
        remaining = max(0.0, entry.offer.expires_at - self._clock())
        return OfferView(
            offer_id=entry.offer_id,
            status=self._status(entry),
            expires_in=remaining,
            agent_name=entry.agent_name,
            fingerprint=entry.fingerprint,
            detail=entry.detail,
        )

    @staticmethod
    def _settle(entry: _Entry, status: DeskStatus, detail: str) -> None:
        entry.override = status
        entry.detail = detail

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


_FROM_OFFER: Final = {
    OfferStatus.WAITING: DeskStatus.WAITING,
    OfferStatus.REPLIED: DeskStatus.HANDSHAKE,
    OfferStatus.AWAITING_CONFIRMATION: DeskStatus.CONFIRMING,
    # The desk settles these itself once the state is saved or the frame sent.
    OfferStatus.PAIRED: DeskStatus.CONFIRMING,
    OfferStatus.REJECTED: DeskStatus.REJECTED,
    OfferStatus.FAILED: DeskStatus.FAILED,
    OfferStatus.EXPIRED: DeskStatus.EXPIRED,
}
