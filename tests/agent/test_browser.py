"""Launching the system Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import BrowserContext

from blindfill.agent.browser import find_chromium
from blindfill.errors import BrowserError


def test_explicit_chromium_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLINDFILL_CHROMIUM", "/nonexistent/chrome")
    with pytest.raises(BrowserError) as exc:
        find_chromium()
    assert exc.value.code == "browser_not_found"


def test_finds_system_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BLINDFILL_CHROMIUM", raising=False)
    found = find_chromium()
    assert found is None or Path(found).exists()


@pytest.mark.browser
async def test_launched_browser_renders_a_page(context: BrowserContext) -> None:
    """The session browser runs JavaScript in a page."""
    page = await context.new_page()
    await page.set_content("<p id=x>hi</p>")
    assert await page.evaluate("document.getElementById('x').textContent") == "hi"
