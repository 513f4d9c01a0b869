"""An approver in the caller's event loop, for tests and demos.

Never for real use: the vault is held in memory, unlocked, and the person's
confirmation of a pairing is given by code. A test of the sign-in flow, the
demo and the pytest plugin start one like this::

    async with serve_test_approver(
        items=[item], state_dir=tmp / "approver", audit_path=tmp / "audit.jsonl",
        prompt=ScriptedPrompt(choices=[1]),
    ) as running:
        await pair_in_process(running, tmp / "browser.json", agent_name="bot")
        async with ApproverLink.open(running.url,
                                     state_path=tmp / "browser.json") as link:
            decision = await link.request_fill(...)

Everything between is the real thing: uvicorn on 127.0.0.1, the HTTP
endpoints, the channel, the decision engine and the audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from blindfill.approver.audit import AuditLog
from blindfill.approver.decisions import DecisionEngine, EngineConfig
from blindfill.approver.items import Item
from blindfill.approver.policy import Policy
from blindfill.approver.prompt import Prompt
from blindfill.approver.service import (
    ApproverService,
    EventSink,
    RunningService,
    running_service,
)
from blindfill.approver.service_pairing import Answer, DeskStatus
from blindfill.approver.testing import MemoryVault
from blindfill.approver.vault import VaultAccess
from blindfill.channel import BrowserState
from blindfill.errors import PairingError
from blindfill.transport.client import ApproverTransport

__all__ = ["pair_in_process", "serve_test_approver"]


@contextlib.asynccontextmanager
async def serve_test_approver(
    *,
    items: Iterable[Item],
    state_dir: Path,
    audit_path: Path,
    prompt: Prompt | None = None,
    policy: Policy | None = None,
    config: EngineConfig | None = None,
    events: EventSink | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[RunningService]:
    """Serve an approver over an in-memory vault of `items` while the block runs.

    `prompt` None means policy only (`policy` grants, everything else is
    declined). The pairing state is kept in `state_dir`, the audit log at
    `audit_path`. Yields the `RunningService` (`.url`, `.service`).
    """
    audit = AuditLog(audit_path)
    engine = DecisionEngine(
        vault=VaultAccess.unlocked(MemoryVault(items)),
        audit=audit,
        prompt=prompt,
        policy=policy,
        config=config,
    )
    service = ApproverService(
        state_dir=state_dir,
        engine=engine,
        approver_name="test-approver",
        events=events,
        audit=audit,
    )
    async with running_service(service, host=host, port=port) as running:
        yield running


async def pair_in_process(
    running: RunningService,
    state_path: Path,
    *,
    agent_name: str = "test-agent",
    use_code: bool = False,
) -> BrowserState:
    """Pair a browser-side state file with `running` over HTTP.

    The confirmation a person would give is given here, at once. Returns
    the browser side's state (also saved to `state_path`). Raises
    `PairingError` if the pairing does not complete.
    """
    from blindfill.agent.link import pair_browser

    desk = running.service.desk
    ticket = await desk.open_offer()
    secret = ticket.code if use_code else ticket.token
    async with ApproverTransport(running.url) as transport:
        pairing = asyncio.create_task(
            pair_browser(
                transport, secret, agent_name=agent_name, state_path=state_path
            )
        )
        view = await desk.wait_change(ticket.offer_id, since=None, wait_s=0)
        while view.status is not DeskStatus.CONFIRMING:
            if view.status.final or pairing.done():
                await pairing  # raises what stopped it
                raise PairingError(f"pairing ended as {view.status.value}")
            view = await desk.wait_change(ticket.offer_id, since=view.status, wait_s=5)
        await desk.answer(ticket.offer_id, Answer.CONFIRM)
        return await pairing
