"""Fixtures for the demo and sign-in command tests: the demo site with a
known account, an approver embedded in the test's event loop, and a way to
run `blindfill` in a subprocess while that loop keeps serving."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog

from blindfill.demo import DemoAccount, DemoSite, random_account
from blindfill.embedded import Embedded, embedded, policy_for

AGENT = "cli-agent"


@dataclass(frozen=True, slots=True)
class Ran:
    """What a `blindfill` subprocess did."""

    status: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """`blindfill.cli.main` points structlog at the captured stderr; undo it."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="module")
def account() -> DemoAccount:
    return random_account()


@pytest.fixture(scope="module")
def demo_site(account: DemoAccount) -> Iterator[DemoSite]:
    with DemoSite(account) as site:
        yield site


def secrets_of(account: DemoAccount) -> list[str]:
    """Every form of the account's secrets that must never be printed."""
    seed = account.totp_seed.reveal()
    return [account.password.reveal(), seed, seed.lower(), seed.rstrip("=")]


@pytest.fixture
async def approver(tmp_path: Path, demo_site: DemoSite) -> AsyncIterator[Embedded]:
    """An approver whose policy grants the demo item to `AGENT`."""
    async with embedded(
        [demo_site.vault_item()],
        workdir=tmp_path / "embedded",
        policy=policy_for(AGENT, [demo_site.base_url]),
        agent_name=AGENT,
    ) as running:
        yield running


def state_path(tmp_path: Path) -> Path:
    """The paired browser-side state that the `approver` fixture wrote."""
    return tmp_path / "embedded" / "browser-state.json"


async def run_blindfill(*args: str, limit_s: float = 120.0) -> Ran:
    """Run `python -m blindfill ARGS` without blocking the event loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "blindfill",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), limit_s)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())
