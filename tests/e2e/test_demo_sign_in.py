"""Sign in to every demo page with a real Chromium, approver and channel."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext

from blindfill import SignInStatus
from blindfill.demo import DEMO_PAGES, DemoSite
from blindfill.embedded import Embedded
from tests.e2e.conftest import session_cookie

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("name", [page.name for page in DEMO_PAGES])
async def test_signs_in_to_every_demo_page(
    name: str, demo_site: DemoSite, setup: Embedded, context: BrowserContext
) -> None:
    """Each demo flow ends signed in, one approved step per form step."""
    demo = demo_site.page(name)
    page = await context.new_page()
    await page.goto(demo_site.url(name))

    result = await setup.blindfill.sign_in(page, reason="end-to-end test")

    assert result.status is SignInStatus.SIGNED_IN, result
    assert [step.kind for step in result.steps] == [s.value for s in demo.steps]
    assert result.origin == demo_site.base_url
    session = await session_cookie(context)
    assert demo_site.signed_in(name, session=session) == demo_site.account.username
