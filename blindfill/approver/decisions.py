"""The decision engine: from a fill request to a grant or a decline.

The approver service calls `DecisionEngine.decide` once per validated fill
request and sends the browser side `decision.reply()`. Everything between
happens here, in this order:

1. Origins. The frame origin and every origin of the frame chain are parsed.
   An opaque or malformed origin, or an `http` frame inside an `https`
   page, leaves nothing fillable (the request goes on as if no item
   matched).
2. Rate limits. Every request counts, per agent key and per frame origin;
   one over either limit is refused at once (`RATE_LIMITED`).
3. Continuation. If the same agent was granted an item for the same frame
   chain within the last two minutes, and that login has steps left (three
   in all by default), the next step is granted from the same item without
   asking again. Each step is still its own request, with its own fields.
4. Lock. A locked approver makes the request wait, asking the person for
   the master password when there is a prompt, until it is unlocked or
   the time is up (`LOCKED`).
5. Matching. Items whose URLs match the frame origin and that can fill
   every field asked for are the candidates.
6. Policy. The first rule that grants the request with exactly one
   candidate decides (`GRANTED`, by `rule:<name>`).
7. Person. Otherwise the person at the terminal decides, one prompt at a
   time; a full queue is refused at once (`BUSY`), and no answer in time
   declines. With no prompt configured, the request is declined.

Whatever happens, one audit record is written, and fsynced, before the
decision is returned; if it cannot be written, nothing is granted.

What the browser side may learn. `Decision.reply()` holds only the outcome
and, for a grant, the values. A request for an origin with no matching
item follows the same path as one that matches an item the person
declines: with a prompt, the person is shown the request either way (with
nothing to choose when nothing matches) and the browser side waits for
their answer or the timeout; without a prompt, both are declined at once.
Policy rules only grant, so "no rule" and "no item" also take the same
path. The reply, the wait notices and the timing therefore depend on the
person and the configuration, never on what the vault holds, except through
a grant itself.

Waiting. While a request waits (locked, queued behind another prompt, or
on the person), the engine calls the `on_wait` hook the service passed:
once when each stage starts and then every `notice_interval` seconds, so
the service can tell the browser side it is still waiting. To abandon a
request (the browser side went away), cancel the `decide` task: the
prompt is withdrawn and the audit record says so.
"""

from __future__ import annotations

import asyncio
import time
import types
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final

from blindfill.approver.audit import AuditEntry, AuditLog
from blindfill.approver.items import Item
from blindfill.approver.matching import OriginMatcher, default_matcher
from blindfill.approver.origins import Origin, parse_origin, render_origin
from blindfill.approver.policy import Policy, RuleMatch
from blindfill.approver.prompt import Candidate, Prompt, PromptQuestion, UnlockQuestion
from blindfill.approver.ratelimit import RateLimiter, RecentCounts
from blindfill.approver.request import ApprovalRequest, FieldRole, FormKind
from blindfill.approver.text import clean_text
from blindfill.approver.vault import Vault, VaultAccess
from blindfill.errors import BlindfillError, StorageError, VaultPasswordError
from blindfill.log import get_logger
from blindfill.sensitive import Secret

__all__ = [
    "Decision",
    "DecisionEngine",
    "EngineConfig",
    "Outcome",
    "Reply",
    "WaitHook",
    "WaitNotice",
    "WaitStage",
]

REASON_SHOWN = 300  # characters of the agent's reason a prompt shows


class Outcome(StrEnum):
    """What became of a request. The browser side sees this (see `Reply`)."""

    GRANTED = "granted"  # values for every field asked for
    DECLINED = "declined"  # a person or no rule said no, nothing matched, timeout
    RATE_LIMITED = "rate_limited"  # too many recent requests (agent or origin)
    BUSY = "busy"  # too many prompts already waiting for the person
    LOCKED = "locked"  # the approver stayed locked until the timeout

    @property
    def wire_reason(self) -> str:
        """The channel's decline reason for this outcome (`BUSY` is a rate limit)."""
        return "rate_limited" if self is Outcome.BUSY else self.value


class WaitStage(StrEnum):
    """What a waiting request is waiting for."""

    LOCKED = "locked"  # the approver is locked; waiting for an unlock
    QUEUED = "queued"  # another prompt is on the terminal
    PROMPTING = "prompting"  # the person is being asked


@dataclass(frozen=True, slots=True)
class WaitNotice:
    """Passed to the `on_wait` hook: a request is still waiting."""

    request_id: str
    stage: WaitStage
    waited: float  # seconds since decide() was called
    remaining: float  # seconds until the request times out


WaitHook = Callable[[WaitNotice], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Reply:
    """All the browser side may learn: the outcome, and values on a grant."""

    outcome: Outcome
    values: Mapping[FieldRole, Secret[str]] = field(
        default_factory=lambda: types.MappingProxyType({}), repr=False
    )

    def __repr__(self) -> str:
        return f"Reply(outcome={self.outcome.value}, fields={[*self.values]})"


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer to one request.

    `values` holds exactly the fields asked for, on a grant only. The other
    fields are for the approver's own records and logs and must not be
    sent: `decided_by` and `detail` would tell the browser side whether an
    item matched. Send `reply()`.
    """

    request_id: str
    outcome: Outcome
    decided_by: str
    detail: str = ""
    item_id: str | None = None
    values: Mapping[FieldRole, Secret[str]] = field(
        default_factory=lambda: types.MappingProxyType({}), repr=False
    )

    def reply(self) -> Reply:
        return Reply(self.outcome, self.values)

    @property
    def granted(self) -> bool:
        return self.outcome is Outcome.GRANTED


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Limits and timings of the decision engine; the defaults are the
    documented behaviour."""

    decision_timeout: float = 60.0  # from arrival to answer, all stages
    notice_interval: float = 10.0  # between wait notices
    max_queued_prompts: int = 4  # requests waiting behind the one shown
    continuation_window: float = 120.0  # a login's later steps, seconds
    continuation_steps: int = 3  # steps one approval covers, the first included
    rate_window: float = 300.0
    max_per_agent: int = 30
    max_per_origin: int = 10
    unlock_attempts: int = 3


@dataclass(slots=True)
class _Continuation:
    item_id: str
    first_request_id: str
    decided_by: str
    expires_at: float
    steps: int
    stage: int  # _STEP_ORDER of the last step granted
    fields: frozenset[FieldRole] | None  # a rule's field limit; None: any


# Where each form kind sits in a login. A continuation covers only a step
# that comes later than the last one granted, so a fresh login (a login
# form or a username step) is always decided anew, even right after one.
_STEP_ORDER: Final = {
    FormKind.USERNAME_STEP: 0,
    FormKind.LOGIN: 1,
    FormKind.PASSWORD_STEP: 1,
    FormKind.ONE_TIME_CODE_STEP: 2,
}


@dataclass(frozen=True, slots=True)
class _Verdict:
    # The engine's internal result before values and the audit record.
    outcome: Outcome
    decided_by: str
    detail: str = ""
    item: Item | None = None


class _Waiting:
    """Sends wait notices for one request: at each stage, then periodically."""

    def __init__(
        self,
        request_id: str,
        hook: WaitHook | None,
        interval: float,
        deadline: float,
    ) -> None:
        self._request_id = request_id
        self._hook = hook
        self._interval = interval
        self._deadline = deadline
        self._started = asyncio.get_running_loop().time()
        self._stage: WaitStage | None = None
        self._ticker: asyncio.Task[None] | None = None

    async def enter(self, stage: WaitStage) -> None:
        if self._hook is None or stage is self._stage:
            return
        self._stage = stage
        await self._notify()
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick())

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self._notify()

    async def _notify(self) -> None:
        if self._hook is None or self._stage is None:
            return
        now = asyncio.get_running_loop().time()
        notice = WaitNotice(
            request_id=self._request_id,
            stage=self._stage,
            waited=now - self._started,
            remaining=max(0.0, self._deadline - now),
        )
        try:
            await self._hook(notice)
        except Exception as exc:  # a broken hook must not decide anything
            get_logger("blindfill.approver").warning(
                "approval.wait_notice_failed", error=type(exc).__name__
            )


class DecisionEngine:
    """Decides fill requests for one vault. Create one per approver.

    `prompt` is None for unattended use (then only `policy` can grant);
    `clock` gives Unix time for the audit log, TOTP codes, rate limits,
    continuations and rule expiry. Timeouts run on the event loop's clock.
    """

    def __init__(
        self,
        *,
        vault: VaultAccess,
        audit: AuditLog,
        prompt: Prompt | None = None,
        policy: Policy | None = None,
        config: EngineConfig | None = None,
        clock: Callable[[], float] = time.time,
        matcher: OriginMatcher | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        self._access = vault
        self._audit = audit
        self._prompt = prompt
        self._policy = policy
        self._clock = clock
        self._matcher = matcher or default_matcher()
        self._limiter = RateLimiter(
            window=self.config.rate_window,
            max_per_agent=self.config.max_per_agent,
            max_per_origin=self.config.max_per_origin,
            clock=clock,
        )
        self._continuations: dict[tuple[str, tuple[str, ...]], _Continuation] = {}
        self._prompt_lock = asyncio.Lock()
        self._queued = 0

    # --- the public surface ---------------------------------------------

    @property
    def locked(self) -> bool:
        return self._access.vault is None

    async def unlock(self, password: Secret[str]) -> None:
        """Open the vault; waiting requests go on. Raises `VaultPasswordError`."""
        await self._access.unlock(password)

    def lock(self) -> None:
        """Forget the open vault and every pending continuation."""
        self._access.lock()
        self._continuations.clear()

    async def decide(
        self, request: ApprovalRequest, *, on_wait: WaitHook | None = None
    ) -> Decision:
        """Decide `request`; see the module docstring for the steps.

        Never raises for anything about the request: every failure is a
        decline. Cancelling the task withdraws the request (audited as
        `cancelled`) and re-raises `CancelledError`.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.decision_timeout
        waiting = _Waiting(
            request.request_id, on_wait, self.config.notice_interval, deadline
        )
        try:
            verdict = await self._decide(request, deadline, waiting)
        except asyncio.CancelledError:
            verdict = _Verdict(
                Outcome.DECLINED, "cancelled", "the request was withdrawn"
            )
            self._record(request, verdict)
            raise
        except Exception as exc:  # fail closed on our own bugs, too
            get_logger("blindfill.approver").error(
                "approval.failed", request_id=request.request_id, error=repr(exc)
            )
            verdict = _Verdict(Outcome.DECLINED, "error", type(exc).__name__)
        finally:
            waiting.close()
        return await self._finish(request, verdict)

    # --- the steps ------------------------------------------------------

    async def _decide(
        self, request: ApprovalRequest, deadline: float, waiting: _Waiting
    ) -> _Verdict:
        origin, warnings, refusal = self._check_origins(request)
        counts, allowed = self._limiter.record(
            request.agent.fingerprint, request.frame_origin
        )
        if not allowed:
            return _Verdict(
                Outcome.RATE_LIMITED,
                "rate_limit",
                f"{counts.agent} requests from this agent and {counts.origin} for "
                f"this origin in {counts.window:.0f} s",
            )

        continued = self._continue(request, origin)
        if continued is not None:
            return continued

        vault = self._access.vault
        if vault is None:
            vault = await self._wait_unlocked(request, origin, deadline, waiting)
            if vault is None:
                return _Verdict(
                    Outcome.LOCKED, "locked", "nobody unlocked the approver in time"
                )

        candidates = self._candidates(vault, request, origin)
        if not candidates and refusal is None:
            refusal = "no vault item matches this origin and can fill these fields"

        if candidates and origin is not None and self._policy is not None:
            match = self._policy.evaluate(request, origin, candidates, self._clock())
            if match is not None and self._consume(match):
                return _Verdict(
                    Outcome.GRANTED, f"rule:{match.rule.name}", item=match.item
                )

        if self._prompt is None:
            return _Verdict(
                Outcome.DECLINED,
                "no_prompt",
                refusal or "no policy rule grants it and there is no one to ask",
            )
        if refusal is not None:
            warnings = (*warnings, refusal)
        question = self._question(request, origin, candidates, warnings, counts)
        return await self._ask(question, candidates, deadline, waiting, refusal)

    def _check_origins(
        self, request: ApprovalRequest
    ) -> tuple[Origin | None, tuple[str, ...], str | None]:
        """The parsed frame origin, warnings for the prompt, and a refusal."""
        try:
            origin = parse_origin(request.frame_origin)
            chain = [parse_origin(entry) for entry in request.frame_chain]
            top = parse_origin(request.top_origin)
        except BlindfillError:
            return None, (), "the frame or one of its ancestors has an opaque origin"

        if chain[-1] != origin or chain[0] != top:
            return None, (), "the frame chain does not lead from the top to the frame"
        if origin.scheme == "http" and any(o.scheme == "https" for o in chain):
            return None, (), "an http frame inside an https page (mixed content)"
        warnings = []
        embedders = {o for o in chain if o != origin}
        if embedders:
            shown = ", ".join(sorted(render_origin(o) for o in embedders))
            warnings.append(f"the form is in a frame embedded by {shown}")
        return origin, tuple(warnings), None

    def _candidates(
        self, vault: Vault, request: ApprovalRequest, origin: Origin | None
    ) -> list[Item]:
        if origin is None:
            return []
        return [
            item
            for item in self._matcher.matching_items(vault.items(), origin)
            if all(_can_fill(item, role) for role in request.fields)
        ]

    def _consume(self, match: RuleMatch) -> bool:
        assert self._policy is not None
        try:
            self._policy.consume(match)
        except StorageError as exc:
            # Without a persisted count the rule could be over-used: skip it.
            get_logger("blindfill.approver").error(
                "policy.count_failed", rule=match.rule.name, error=exc.message
            )
            return False
        return True

    def _continue(
        self, request: ApprovalRequest, origin: Origin | None
    ) -> _Verdict | None:
        now = self._clock()
        for stale, old in list(self._continuations.items()):
            if old.expires_at <= now:
                del self._continuations[stale]
        key = (request.agent.fingerprint, request.frame_chain)
        entry = self._continuations.get(key)
        vault = self._access.vault
        if entry is None or origin is None or vault is None:
            return None
        item = vault.get(entry.item_id)
        stage = _STEP_ORDER[request.form_kind]
        if (
            stage <= entry.stage
            or (entry.fields is not None and not entry.fields >= set(request.fields))
            or item is None
            or not self._matcher.item_matches(item, origin)
            or not all(_can_fill(item, role) for role in request.fields)
        ):
            return None
        entry.steps += 1
        entry.stage = stage
        if entry.steps >= self.config.continuation_steps:
            del self._continuations[key]
        return _Verdict(
            Outcome.GRANTED,
            f"continuation:{entry.first_request_id}",
            f"step {entry.steps} of a login approved by {entry.decided_by}",
            item,
        )

    async def _wait_unlocked(
        self,
        request: ApprovalRequest,
        origin: Origin | None,
        deadline: float,
        waiting: _Waiting,
    ) -> Vault | None:
        await waiting.enter(WaitStage.LOCKED)
        try:
            async with asyncio.timeout_at(deadline):
                if self._prompt is None:
                    return await self._access.wait_unlocked()
                return await self._unlock_by_person(request, origin, deadline)
        except TimeoutError:
            return None

    async def _unlock_by_person(
        self, request: ApprovalRequest, origin: Origin | None, deadline: float
    ) -> Vault | None:
        assert self._prompt is not None
        if not await self._acquire_prompt_unless_unlocked():
            return self._access.vault
        try:
            loop = asyncio.get_running_loop()
            shown = render_origin(origin) if origin else "(an opaque origin)"
            for attempt in range(1, self.config.unlock_attempts + 1):
                question = UnlockQuestion(
                    vault=clean_text(self._access.description, limit=200),
                    agent_name=clean_text(request.agent.name, limit=60),
                    origin=shown,
                    attempt=attempt,
                    timeout_s=max(0.0, deadline - loop.time()),
                )
                password = await self._prompt.ask_unlock(question)
                if password is None:
                    return None
                try:
                    await self._access.unlock(password)
                except VaultPasswordError:
                    await self._prompt.tell("That password does not open the vault.")
                    continue
                except BlindfillError as exc:
                    await self._prompt.tell(f"The vault cannot be opened: {exc}")
                    return None
                await self._prompt.tell("Unlocked.")
                return self._access.vault
            return None
        finally:
            self._prompt_lock.release()

    async def _acquire_prompt_unless_unlocked(self) -> bool:
        """Take the prompt, unless the vault is unlocked first. True if taken."""
        if self._access.vault is not None:
            return False
        acquire = asyncio.ensure_future(self._prompt_lock.acquire())
        unlocked = asyncio.ensure_future(self._access.wait_unlocked())
        try:
            await asyncio.wait({acquire, unlocked}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            await self._settle(acquire, unlocked, keep=False)
            raise
        return await self._settle(acquire, unlocked, keep=self._access.vault is None)

    async def _settle(
        self, acquire: asyncio.Future[Any], unlocked: asyncio.Future[Any], *, keep: bool
    ) -> bool:
        # Stop both waits; report whether the lock is held, releasing it
        # unless `keep`.
        for task in (acquire, unlocked):
            if not task.done():
                task.cancel()
        await asyncio.gather(acquire, unlocked, return_exceptions=True)
        held = not acquire.cancelled() and acquire.exception() is None
        if held and not keep:
            self._prompt_lock.release()
            return False
        return held

    async def _ask(
        self,
        question: PromptQuestion,
        candidates: Sequence[Item],
        deadline: float,
        waiting: _Waiting,
        refusal: str | None,
    ) -> _Verdict:
        assert self._prompt is not None
        if self._prompt_lock.locked():
            if self._queued >= self.config.max_queued_prompts:
                return _Verdict(
                    Outcome.BUSY, "queue_full", "too many requests waiting for a person"
                )
            await waiting.enter(WaitStage.QUEUED)
        self._queued += 1
        try:
            async with asyncio.timeout_at(deadline):
                await self._prompt_lock.acquire()
        except TimeoutError:
            return _Verdict(Outcome.DECLINED, "timeout", "no prompt free in time")
        finally:
            self._queued -= 1

        try:
            await waiting.enter(WaitStage.PROMPTING)
            loop = asyncio.get_running_loop()
            question = _with_timeout(question, max(0.0, deadline - loop.time()))
            async with asyncio.timeout_at(deadline):
                chosen = await self._prompt.ask(question)
        except TimeoutError:
            return _Verdict(Outcome.DECLINED, "timeout", "no answer in time")
        finally:
            self._prompt_lock.release()

        item = next((c for c in candidates if c.id == chosen), None)
        if item is None:
            return _Verdict(
                Outcome.DECLINED, "person", refusal or "the person declined"
            )
        return _Verdict(Outcome.GRANTED, "person", item=item)

    def _question(
        self,
        request: ApprovalRequest,
        origin: Origin | None,
        candidates: Sequence[Item],
        warnings: tuple[str, ...],
        counts: RecentCounts,
    ) -> PromptQuestion:
        shown = tuple(
            Candidate(
                number=number,
                item_id=item.id,
                title=clean_text(item.title, limit=60),
                username=clean_text(item.username, limit=60),
                url=clean_text(
                    (self._matcher.matching_url(item, origin) if origin else "") or "",
                    limit=100,
                ),
                has_totp=item.has_totp,
            )
            for number, item in enumerate(candidates, start=1)
        )
        return PromptQuestion(
            request_id=request.request_id,
            agent_name=clean_text(request.agent.name, limit=60) or "(unnamed)",
            agent_fingerprint=clean_text(request.agent.fingerprint, limit=100),
            origin=_shown_origin(request.frame_origin),
            top_origin=_shown_origin(request.top_origin),
            frame_chain=tuple(_shown_origin(o) for o in request.frame_chain),
            form_kind=request.form_kind,
            fields=request.fields,
            reason=clean_text(request.reason, limit=REASON_SHOWN),
            candidates=shown,
            warnings=tuple(clean_text(w, limit=200) for w in warnings),
            agent_recent=counts.agent,
            origin_recent=counts.origin,
            window_s=counts.window,
            timeout_s=self.config.decision_timeout,
        )

    # --- finishing --------------------------------------------------------

    async def _finish(self, request: ApprovalRequest, verdict: _Verdict) -> Decision:
        values: dict[FieldRole, Secret[str]] = {}
        if verdict.outcome is Outcome.GRANTED and verdict.item is not None:
            values = _values(verdict.item, request.fields, self._clock())
        try:
            await asyncio.to_thread(self._record, request, verdict, strict=True)
        except StorageError:
            verdict = _Verdict(Outcome.DECLINED, verdict.decided_by, "audit failed")
            values = {}

        if verdict.outcome is Outcome.GRANTED and verdict.item is not None:
            self._remember(request, verdict)
        get_logger("blindfill.approver").info(
            "approval.decided",
            request_id=request.request_id,
            outcome=verdict.outcome.value,
            decided_by=verdict.decided_by,
            origin=clean_text(request.frame_origin, limit=200),
        )
        return Decision(
            request_id=request.request_id,
            outcome=verdict.outcome,
            decided_by=verdict.decided_by,
            detail=verdict.detail,
            item_id=verdict.item.id if verdict.item and values else None,
            values=types.MappingProxyType(values),
        )

    def _remember(self, request: ApprovalRequest, verdict: _Verdict) -> None:
        assert verdict.item is not None
        if verdict.decided_by.startswith("continuation:"):
            return
        if self.config.continuation_steps <= 1:
            return
        key = (request.agent.fingerprint, request.frame_chain)
        self._continuations[key] = _Continuation(
            item_id=verdict.item.id,
            first_request_id=request.request_id,
            decided_by=verdict.decided_by,
            expires_at=self._clock() + self.config.continuation_window,
            steps=1,
            stage=_STEP_ORDER[request.form_kind],
            fields=self._rule_fields(verdict.decided_by),
        )

    def _rule_fields(self, decided_by: str) -> frozenset[FieldRole] | None:
        """The fields the rule named by `decided_by` may fill; None for a person."""
        if not decided_by.startswith("rule:") or self._policy is None:
            return None
        name = decided_by.removeprefix("rule:")
        for rule in self._policy.rules:
            if rule.name == name:
                return rule.fields
        return frozenset()  # the rule is gone: its continuation grants nothing

    def _record(
        self, request: ApprovalRequest, verdict: _Verdict, *, strict: bool = False
    ) -> None:
        entry = AuditEntry.of(
            request,
            decision=verdict.outcome.value,
            decided_by=verdict.decided_by,
            detail=verdict.detail,
            item=verdict.item if verdict.outcome is Outcome.GRANTED else None,
        )
        try:
            self._audit.append(entry)
        except StorageError as exc:
            get_logger("blindfill.approver").error(
                "audit.append_failed", request_id=request.request_id, error=exc.message
            )
            if strict:
                raise


def _can_fill(item: Item, role: FieldRole) -> bool:
    if role is FieldRole.USERNAME:
        return bool(item.username)
    if role is FieldRole.PASSWORD:
        return bool(item.password)
    return item.totp is not None


def _values(
    item: Item, roles: Sequence[FieldRole], now: float
) -> dict[FieldRole, Secret[str]]:
    values: dict[FieldRole, Secret[str]] = {}
    for role in roles:
        if role is FieldRole.USERNAME:
            values[role] = Secret(item.username, kind="username")
        elif role is FieldRole.PASSWORD:
            values[role] = item.password
        else:
            assert item.totp is not None
            values[role] = item.totp.code_at(now)
    return values


def _shown_origin(text: str) -> str:
    try:
        return render_origin(parse_origin(text))
    except BlindfillError:
        return f"{clean_text(text, limit=80)!r} (opaque or invalid)"


def _with_timeout(question: PromptQuestion, remaining: float) -> PromptQuestion:
    # The prompt shows the time really left, not the configured total.
    return replace(question, timeout_s=remaining)
