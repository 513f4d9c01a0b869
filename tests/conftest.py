"""Fixtures shared by every test area.

`browser` is one headless Chromium for the whole session (launching one costs
about a second); each test takes its own `context` so cookies and pages never
leak between tests. Servers for test pages listen on 127.0.0.1 only.

`tests.secret_watch` fails any test whose captured stdout, stderr or logs
contain a secret made during the suite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, async_playwright

from blindfill.agent.browser import launch_chromium
from tests import secret_watch
from tests.secret_watch import pytest_runtest_makereport  # noqa: F401 (a hook)

secret_watch.install()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        yield browser
        await browser.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context()
    yield context
    await context.close()
