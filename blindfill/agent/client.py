"""The browser side as a user holds it: `Blindfill`, `sign_in`, browsers.

`Blindfill` joins the two halves of the browser side: an `ApproverLink` (the
pairing and the channel to the approver) and the shim attached to the pages
it is asked to sign in on. Keep one for the life of an agent's browser
session, so the shim is injected once per page and fills run one at a time::

    async with launch_browser() as browser:
        page = await browser.new_page()
        await page.goto("https://example.com/login")
        async with Blindfill.connect() as bf:
            result = await bf.sign_in(page, reason="fetch this month's invoice")
        print(result.status)   # signed_in, declined, no_login_form, ...

`sign_in(page, reason=...)` does the same for a single call.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blindfill.agent.browser import launch_chromium
from blindfill.agent.link import ApproverLink
from blindfill.agent.session import ShimSession
from blindfill.agent.signin import (
    FORM_WAIT_S,
    SETTLE_S,
    SignInResult,
    run_sign_in,
)
from blindfill.errors import BrowserError, LocalProtocolError

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

__all__ = ["Blindfill", "connect_browser", "launch_browser", "sign_in"]


class Blindfill:
    """The browser side of one pairing, ready to sign pages in.

    Make one with `Blindfill.connect()` (the approver URL and pairing state
    come from the arguments, the environment or what `blindfill pair`
    saved) or from an `ApproverLink` you built. Close it with `aclose()` or
    use it as an async context manager.
    """

    def __init__(self, link: ApproverLink) -> None:
        self._link = link
        self._sessions: dict[Page | BrowserContext, ShimSession] = {}
        self._closed = False

    @classmethod
    def connect(
        cls,
        approver_url: str | None = None,
        *,
        state_path: Path | None = None,
        on_slow: Callable[[], None] | None = None,
        **link_options: Any,
    ) -> Blindfill:
        """A `Blindfill` with its own link to the approver.

        `approver_url` defaults to `$BLINDFILL_APPROVER_URL`, then to the URL
        `blindfill pair` saved next to the state file. `on_slow` is called
        when an approval takes longer than 10 seconds. Raises `UsageError`
        when no approver URL is known.
        """
        link = ApproverLink.open(
            approver_url, state_path=state_path, on_slow=on_slow, **link_options
        )
        return cls(link)

    def __repr__(self) -> str:
        return f"Blindfill(approver={self._link.approver_url!r})"

    @property
    def link(self) -> ApproverLink:
        return self._link

    async def attach(self, target: Page | BrowserContext) -> ShimSession:
        """Inject the shim into `target` (a page, or every page of a context).

        Attaching is done once per target; `sign_in` does it on demand, so
        calling this first only moves the cost earlier.
        """
        self._check_open()
        session = self._sessions.get(target)
        if session is None:
            session = await ShimSession.attach(target)
            self._sessions[target] = session
        return session

    async def sign_in(
        self,
        page: Page,
        *,
        reason: str,
        submit: bool = True,
        form_wait: float = FORM_WAIT_S,
        settle: float = SETTLE_S,
    ) -> SignInResult:
        """Sign in on `page`, through every step the site asks for.

        `reason` is shown to the person approving, labelled unverified.
        With `submit=False` only the first step is filled and not sent.
        Returns a `SignInResult`; see `SignInStatus` for the outcomes. The
        result never holds a value.
        """
        self._check_open()
        session = self._sessions.get(page.context) or await self.attach(page)
        return await run_sign_in(
            page,
            session,
            self._link,
            reason=reason,
            submit=submit,
            form_wait=form_wait,
            settle=settle,
        )

    async def aclose(self) -> None:
        """Detach the shim from every page and close the link."""
        if self._closed:
            return
        self._closed = True
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
        await self._link.aclose()

    async def __aenter__(self) -> Blindfill:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _check_open(self) -> None:
        if self._closed:
            raise LocalProtocolError("this Blindfill is closed", code="closed")


async def sign_in(
    page: Page,
    *,
    reason: str,
    submit: bool = True,
    approver_url: str | None = None,
    state_path: Path | None = None,
) -> SignInResult:
    """Sign in on `page` once, with a `Blindfill` made for this call.

    For several sign-ins in one session, keep a `Blindfill` instead: it
    injects the shim once per page.
    """
    async with Blindfill.connect(approver_url, state_path=state_path) as bf:
        return await bf.sign_in(page, reason=reason, submit=submit)


@contextlib.asynccontextmanager
async def launch_browser(*, headless: bool = True) -> AsyncIterator[Browser]:
    """Launch the system Chromium (or Playwright's own) for the block."""
    async with _playwright() as playwright:
        browser = await launch_chromium(playwright, headless=headless)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def connect_browser(endpoint: str) -> AsyncIterator[Browser]:
    """Attach over CDP to a Chromium that runs already (`http://127.0.0.1:9222`).

    The browser keeps running after the block. Raises `BrowserError` if
    nothing answers at `endpoint`.
    """
    from playwright.async_api import Error as PlaywrightError

    async with _playwright() as playwright:
        try:
            browser = await playwright.chromium.connect_over_cdp(endpoint)
        except PlaywrightError as exc:
            raise BrowserError(
                f"no Chromium answered over CDP at {endpoint}",
                code="cdp_unreachable",
                hint="start it with --remote-debugging-port and pass that URL",
            ) from exc
        yield browser


@contextlib.asynccontextmanager
async def _playwright() -> AsyncIterator[Playwright]:
    """Playwright's driver for the block.

    A driver that cannot start (a missing shared library, a broken
    install) raises a bare `Exception`; it becomes a `BrowserError` here.
    """
    from playwright.async_api import async_playwright

    try:
        playwright = await async_playwright().start()
    except Exception as exc:
        raise BrowserError(
            "Playwright's driver did not start",
            code="driver_failed",
            hint="reinstall playwright; its Node.js runtime needs libatomic1",
        ) from exc
    try:
        yield playwright
    finally:
        await playwright.stop()
