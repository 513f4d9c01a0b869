"""Fixtures for end-to-end sign-ins: the demo site, an embedded approver
whose policy grants the demo item, and a browser side paired with it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext

from blindfill.demo import DemoSite
from blindfill.demo.server import SESSION_COOKIE
from blindfill.embedded import Embedded, embedded, policy_for

AGENT = "e2e-agent"


@pytest.fixture(scope="module")
def demo_site() -> Iterator[DemoSite]:
    with DemoSite() as site:
        yield site


async def session_cookie(context: BrowserContext) -> str | None:
    """The demo site's session cookie in `context`, naming that browser."""
    for cookie in await context.cookies():
        if cookie["name"] == SESSION_COOKIE:
            return cookie["value"]
    return None


@pytest.fixture
async def setup(tmp_path: Path, demo_site: DemoSite) -> AsyncIterator[Embedded]:
    async with embedded(
        [demo_site.vault_item()],
        workdir=tmp_path / "embedded",
        policy=policy_for(AGENT, [demo_site.base_url]),
        agent_name=AGENT,
    ) as running:
        yield running
