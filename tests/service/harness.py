"""Helpers for service tests: a real vault, a real server, a paired link.

`Approver` runs an `ApproverService` with a vault file made here, a real
audit log and a `ScriptedPrompt` under uvicorn on 127.0.0.1. `pair_link`
pairs a browser-side state file with it over HTTP, the person confirming
through the pairing desk as `approver pair` would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blindfill.agent.link import ApproverLink
from blindfill.approver.audit import AuditLog
from blindfill.approver.decisions import DecisionEngine, EngineConfig
from blindfill.approver.items import Item, new_item_id
from blindfill.approver.policy import Policy
from blindfill.approver.service import (
    ApproverService,
    RunningService,
    running_service,
)
from blindfill.approver.service_testing import pair_in_process
from blindfill.approver.testing import ScriptedPrompt
from blindfill.approver.vault import VaultAccess
from blindfill.approver.vaultfile import KdfParams, VaultFile
from blindfill.channel import BrowserState
from blindfill.sensitive import Secret
from blindfill.transport.client import ApproverTransport

FAST_KDF = KdfParams(memory_kib=8, iterations=1, lanes=1)

# Every secret these tests use; leak checks look for each of them.
MASTER = "svc-master-Pq8!vault"
BANK_PASSWORD = "svc-bank-pw-Hj3#secret"
MAIL_PASSWORD = "svc-mail-pw-Wn5$secret"
SECRETS = (MASTER, BANK_PASSWORD, MAIL_PASSWORD)

BANK_ORIGIN = "https://bank.test"
MAIL_ORIGIN = "https://mail.test"
NOWHERE_ORIGIN = "https://nowhere.test"


def make_vault(path: Path) -> Path:
    """A vault file with a bank item and a mail item, master `MASTER`."""
    vault = VaultFile.create(path, Secret(MASTER), kdf=FAST_KDF)
    vault.add(
        Item(
            id=new_item_id(),
            title="Bank",
            username="alice",
            password=Secret(BANK_PASSWORD, kind="password"),
            urls=(BANK_ORIGIN + "/login",),
        )
    )
    vault.add(
        Item(
            id=new_item_id(),
            title="Mail",
            username="bob",
            password=Secret(MAIL_PASSWORD, kind="password"),
            urls=(MAIL_ORIGIN,),
        )
    )
    vault.save()
    return path


@dataclass
class Approver:
    """A running approver service and what a test inspects of it."""

    running: RunningService
    prompt: ScriptedPrompt
    engine: DecisionEngine
    audit_path: Path
    state_dir: Path
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def service(self) -> ApproverService:
        return self.running.service

    def event_names(self) -> list[str]:
        return [name for name, _ in self.events]


@contextlib.asynccontextmanager
async def run_approver(
    directory: Path,
    *,
    prompt: ScriptedPrompt | None = None,
    policy: Policy | None = None,
    config: EngineConfig | None = None,
    locked: bool = False,
    no_prompt: bool = False,
    confirm_timeout: float = 30.0,
    **service_options: Any,
) -> AsyncIterator[Approver]:
    """Serve an approver over a vault in `directory` (made if missing)."""
    vault_path = directory / "vault.bfv"
    if not vault_path.exists():
        make_vault(vault_path)
    access = VaultAccess.for_path(vault_path)
    if not locked:
        await access.unlock(Secret(MASTER))
    prompt = prompt if prompt is not None else ScriptedPrompt()
    audit_path = directory / "audit.jsonl"
    audit = AuditLog(audit_path)
    engine = DecisionEngine(
        vault=access,
        audit=audit,
        prompt=None if no_prompt else prompt,
        policy=policy,
        config=config or EngineConfig(),
    )
    events: list[tuple[str, dict[str, Any]]] = []
    service = ApproverService(
        state_dir=directory / "state",
        engine=engine,
        approver_name="test-approver",
        confirm_timeout=confirm_timeout,
        events=lambda name, fields: events.append((name, fields)),
        audit=audit,
        **service_options,
    )
    async with running_service(service) as running:
        yield Approver(running, prompt, engine, audit_path, directory / "state", events)


async def pair_state(
    approver: Approver,
    state_path: Path,
    *,
    agent_name: str = "test-agent",
    use_code: bool = False,
) -> BrowserState:
    """Pair a browser side over HTTP; the person confirms at once."""
    return await pair_in_process(
        approver.running, state_path, agent_name=agent_name, use_code=use_code
    )


async def paired_link(
    approver: Approver, directory: Path, **options: Any
) -> ApproverLink:
    """A link whose state file in `directory` is paired with `approver`."""
    state_path = directory / "browser-pairing.json"
    await pair_state(approver, state_path)
    return ApproverLink.open(approver.url, state_path=state_path, **options)


class RecordingTransport(ApproverTransport):
    """Keeps every fill frame sent and received, as a network observer would."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.sent: list[bytes] = []
        self.received: list[bytes] = []

    async def post_fill(self, frame: bytes, *, answer_timeout: float) -> bytes:
        self.sent.append(frame)
        answer = await super().post_fill(frame, answer_timeout=answer_timeout)
        self.received.append(answer)
        return answer


async def eventually(condition: Callable[[], object], *, within: float = 10) -> None:
    """Wait until `condition()` is true; fail after `within` seconds."""
    for _ in range(int(within / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition did not come true in time")


def login_request(origin: str = BANK_ORIGIN, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments of `ApproverLink.request_fill` for a login form."""
    request: dict[str, Any] = {
        "frame_origin": origin,
        "top_origin": origin,
        "form_kind": "login",
        "fields": ("username", "password"),
        "reason": "sign in to fetch the statement",
    }
    request.update(overrides)
    return request
