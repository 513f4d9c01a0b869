"""An approver and a paired browser side in one process.

For `blindfill demo`, the pytest plugin and benchmarks: everything a real
deployment has (an encrypted vault file, the approver's HTTP service on
127.0.0.1, the Noise channel, the decision engine with a policy, the audit
log, a pairing) but started in the caller's event loop, with the person's
confirmation of the pairing given by code. Never for real use: a person
must confirm a real pairing.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from blindfill.agent.client import Blindfill
from blindfill.approver.audit import AuditLog
from blindfill.approver.decisions import DecisionEngine, EngineConfig
from blindfill.approver.items import Item
from blindfill.approver.paths import ensure_private_dir
from blindfill.approver.policy import Policy
from blindfill.approver.prompt import Prompt
from blindfill.approver.service import ApproverService, RunningService, running_service
from blindfill.approver.service_testing import pair_in_process
from blindfill.approver.vault import VaultAccess
from blindfill.approver.vaultfile import KdfParams, VaultFile
from blindfill.sensitive import Secret
from blindfill.storage import write_atomic

__all__ = ["Embedded", "embedded", "policy_for"]

# Light Argon2id costs: an embedded vault is made and thrown away at once.
THROWAWAY_KDF = KdfParams(memory_kib=8 * 1024, iterations=1, lanes=1)


@dataclass(frozen=True, slots=True)
class Embedded:
    """A running approver and the browser side paired with it."""

    approver: RunningService
    blindfill: Blindfill
    audit_path: Path
    vault_path: Path
    agent_name: str

    @property
    def audit(self) -> AuditLog:
        return AuditLog(self.audit_path)


def policy_for(
    agent_name: str,
    origins: Sequence[str],
    *,
    fields: Sequence[str] = ("username", "password", "one_time_code"),
    rule_name: str = "embedded",
) -> str:
    """Policy text with one rule granting `agent_name` these origins."""
    quoted = ", ".join(f'"{value}"' for value in origins)
    wanted = ", ".join(f'"{value}"' for value in fields)
    return (
        "version = 1\n\n[[rule]]\n"
        f'name = "{rule_name}"\nagent = "{agent_name}"\n'
        f"origins = [{quoted}]\nfields = [{wanted}]\n"
    )


@contextlib.asynccontextmanager
async def embedded(
    items: Iterable[Item],
    *,
    workdir: Path,
    policy: str | None = None,
    prompt: Prompt | None = None,
    agent_name: str = "embedded-agent",
    config: EngineConfig | None = None,
) -> AsyncIterator[Embedded]:
    """Serve an approver over a new vault of `items` and pair a browser side.

    `workdir` receives the vault file, the policy, the approver's state,
    the browser side's pairing state and the audit log. `policy` is policy
    text (see `blindfill.approver.policy`; `policy_for` writes a simple
    one); without it and without a `prompt`, every request is declined.
    Yields an `Embedded` whose `blindfill` is ready to sign in.
    """
    ensure_private_dir(workdir)
    vault_path = workdir / "vault.bfv"
    password = Secret(secrets.token_urlsafe(24), kind="master_password")
    vault = VaultFile.create(vault_path, password, kdf=THROWAWAY_KDF)
    vault.add_all(list(items))
    vault.save()

    loaded_policy = None
    if policy is not None:
        policy_path = workdir / "policy.toml"
        write_atomic(policy_path, policy.encode())
        loaded_policy = Policy.load(policy_path, state_path=workdir / "policy-uses")

    audit_path = workdir / "audit.jsonl"
    audit = AuditLog(audit_path)
    engine = DecisionEngine(
        vault=VaultAccess.unlocked(vault),
        audit=audit,
        prompt=prompt,
        policy=loaded_policy,
        config=config,
    )
    service = ApproverService(
        state_dir=workdir / "approver",
        engine=engine,
        approver_name="embedded-approver",
        audit=audit,
    )
    async with running_service(service) as running:
        browser_state = workdir / "browser-state.json"
        await pair_in_process(running, browser_state, agent_name=agent_name)
        async with Blindfill.connect(running.url, state_path=browser_state) as bf:
            yield Embedded(running, bf, audit_path, vault_path, agent_name)
