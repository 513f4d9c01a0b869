"""Signing in to each demo page the way a person would, with Playwright.

Each flow fills the fields by their labels and clicks the visible button,
then returns where the answer appears: the page itself, or the iframe for
the iframe demo. The flows double as a description of each page's steps.
"""

from __future__ import annotations

import time

from playwright.async_api import BrowserContext, FrameLocator, Page

from blindfill.demo import SESSION_COOKIE, DemoAccount, DemoSite
from blindfill.totp import decode_seed, totp

Scope = Page | FrameLocator

CODE_LABEL = "Six-digit code from your authenticator app"


async def fill_login(scope: Scope, username: str, password: str) -> None:
    await scope.get_by_label("Username").fill(username)
    await scope.get_by_label("Password").fill(password)
    await scope.get_by_role("button", name="Sign in").click()


async def sign_in(
    page: Page,
    site: DemoSite,
    name: str,
    *,
    username: str,
    password: str,
    code: str | None = None,
) -> Scope:
    """Go through page `name`'s steps; returns where the result shows.

    For the TOTP page the code step runs only when the password step
    succeeded; `code` defaults to the account's current code.
    """
    await page.goto(site.url(name))
    if name == "iframe":
        frame = page.frame_locator("iframe[title='Sign-in form']")
        await fill_login(frame, username, password)
        return frame
    if name == "two_step":
        await page.get_by_label("Username").fill(username)
        await page.get_by_role("button", name="Next").click()
        await page.wait_for_url("**/two-step/password")
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
        return page
    if name != "totp":
        await fill_login(page, username, password)
        return page
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Sign in").click()
    if page.url.endswith("/totp/code"):
        if code is None:
            code = site.account.one_time_code().reveal()
        await page.get_by_label(CODE_LABEL).fill(code)
        await page.get_by_role("button", name="Verify").click()
    return page


async def session_of(context: BrowserContext, site: DemoSite) -> str:
    """The demo session cookie that `context` holds for `site`."""
    for cookie in await context.cookies(site.base_url):
        if cookie.get("name") == SESSION_COOKIE:
            return cookie["value"]
    raise AssertionError("the browser has no demo session cookie")


def invalid_code(account: DemoAccount) -> str:
    """A six-digit code valid in no period near now, even across a period
    boundary between this call and the server's check."""
    key = decode_seed(account.totp_seed.reveal())
    now = time.time()
    near = {totp(key, now + 30 * step) for step in range(-3, 4)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in near)
