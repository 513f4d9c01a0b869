"""Signing in to every demo page with a real headless Chromium."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, ConsoleMessage, expect

from blindfill.demo import DEMO_PAGES, DemoSite
from blindfill.demo.app import WRONG_CODE, WRONG_CREDENTIALS
from tests.demo.driving import CODE_LABEL, invalid_code, session_of, sign_in

pytestmark = pytest.mark.browser

PAGE_NAMES = [page.name for page in DEMO_PAGES]

# Sets a value the way naive page code would: no input or change event.
SET_VALUES_SILENTLY = """([username, password]) => {
    document.getElementById("username").value = username;
    document.getElementById("password").value = password;
}"""

# Sets a value the way a form filler should: the native setter, then events.
SET_VALUES_WITH_EVENTS = """([username, password]) => {
    const setter = Object.getOwnPropertyDescriptor(
        HTMLInputElement.prototype, "value").set;
    for (const [id, value] of [["username", username], ["password", password]]) {
        const input = document.getElementById(id);
        input.focus();
        setter.call(input, value);
        input.dispatchEvent(new Event("input", { bubbles: true }));
        input.dispatchEvent(new Event("change", { bubbles: true }));
    }
}"""


@pytest.mark.parametrize("name", PAGE_NAMES)
async def test_signs_in_through_every_page(
    site: DemoSite, context: BrowserContext, name: str
) -> None:
    """Filling each page's fields and clicking submit signs the account in,
    shows "Signed in as <username>", and logs no console error (so the
    site's strict Content-Security-Policy blocks none of its own scripts)."""
    account = site.account
    page = await context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))

    result = await sign_in(
        page,
        site,
        name,
        username=account.username,
        password=account.password.reveal(),
    )

    await expect(result.get_by_role("status")).to_have_text(
        f"Signed in as {account.username}"
    )
    session = await session_of(context, site)
    assert site.signed_in(name, session=session) == account.username
    assert errors == []


@pytest.mark.parametrize("name", PAGE_NAMES)
async def test_wrong_password_fails_on_every_page(
    site: DemoSite, context: BrowserContext, name: str
) -> None:
    """A wrong password shows the failure message and records no sign-in."""
    page = await context.new_page()

    result = await sign_in(
        page,
        site,
        name,
        username=site.account.username,
        password=site.account.password.reveal() + "x",
    )

    await expect(result.get_by_role("alert")).to_have_text(WRONG_CREDENTIALS)
    await expect(result.get_by_role("status")).to_have_count(0)
    session = await session_of(context, site)
    assert site.signed_in(name, session=session) is None


async def test_unknown_username_fails(site: DemoSite, context: BrowserContext) -> None:
    """The right password with another username is refused."""
    page = await context.new_page()

    result = await sign_in(
        page,
        site,
        "plain",
        username="someone-else",
        password=site.account.password.reveal(),
    )

    await expect(result.get_by_role("alert")).to_have_text(WRONG_CREDENTIALS)
    assert site.signed_in("plain", session=await session_of(context, site)) is None


async def test_totp_step_rejects_a_wrong_code(
    site: DemoSite, context: BrowserContext
) -> None:
    """After the right password, a wrong one-time code is refused and the
    code step is offered again; the right code then signs in."""
    account = site.account
    page = await context.new_page()

    await sign_in(
        page,
        site,
        "totp",
        username=account.username,
        password=account.password.reveal(),
        code=invalid_code(account),
    )

    await expect(page.get_by_role("alert")).to_have_text(WRONG_CODE)
    assert page.url.endswith("/totp/code")
    session = await session_of(context, site)
    assert site.signed_in("totp", session=session) is None

    await page.get_by_label(CODE_LABEL).fill(account.one_time_code().reveal())
    await page.get_by_role("button", name="Verify").click()
    await expect(page.get_by_role("status")).to_have_text(
        f"Signed in as {account.username}"
    )
    assert site.signed_in("totp", session=session) == account.username


async def test_totp_code_step_needs_the_password_first(
    site: DemoSite, context: BrowserContext
) -> None:
    """Opening the code step without a correct password leads back to the
    username and password form."""
    page = await context.new_page()

    await page.goto(site.url("totp") + "code")

    assert page.url == site.url("totp")
    await expect(page.get_by_label("Password")).to_be_visible()


async def test_react_ignores_values_set_without_events(
    site: DemoSite, context: BrowserContext
) -> None:
    """The React page is really React-controlled: values written to the
    inputs' `.value` without events never reach React's state, so the
    server receives empty fields and refuses; Playwright's fill, which
    types through input events, then signs in."""
    account = site.account
    password = account.password.reveal()
    page = await context.new_page()
    await page.goto(site.url("react"))
    await expect(page.get_by_label("Username")).to_be_visible()

    await page.evaluate(SET_VALUES_SILENTLY, [account.username, password])
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.get_by_role("alert")).to_have_text(WRONG_CREDENTIALS)
    session = await session_of(context, site)
    assert site.signed_in("react", session=session) is None

    await page.get_by_label("Username").fill(account.username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("status")).to_have_text(
        f"Signed in as {account.username}"
    )
    assert site.signed_in("react", session=session) == account.username


async def test_react_accepts_native_setter_and_input_events(
    site: DemoSite, context: BrowserContext
) -> None:
    """What the shim does (native value setter, then input and change
    events) reaches React's state and signs in."""
    account = site.account
    page = await context.new_page()
    await page.goto(site.url("react"))
    await expect(page.get_by_label("Username")).to_be_visible()

    await page.evaluate(
        SET_VALUES_WITH_EVENTS, [account.username, account.password.reveal()]
    )
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.get_by_role("status")).to_have_text(
        f"Signed in as {account.username}"
    )


async def test_react_page_runs_real_react(
    site: DemoSite, context: BrowserContext
) -> None:
    """The React page loads React 18 and React DOM, and the inputs carry
    React's internal fiber properties."""
    page = await context.new_page()
    await page.goto(site.url("react"))
    await expect(page.get_by_label("Username")).to_be_visible()

    version = await page.evaluate("[React.version, ReactDOM.version]")
    fiber_keys = await page.evaluate(
        """Object.keys(document.getElementById("username"))
            .filter((key) => key.startsWith("__react"))"""
    )

    assert version[0].startswith("18.")
    assert version[1].startswith("18.")
    assert any(key.startswith("__reactFiber") for key in fiber_keys)


async def test_shadow_root_page_hides_its_form_in_an_open_shadow_root(
    site: DemoSite, context: BrowserContext
) -> None:
    """The shadow-root page has no input in its document tree; the login
    form is inside the open shadow root of <demo-login-form>."""
    page = await context.new_page()
    await page.goto(site.url("shadow_root"))
    await expect(page.get_by_label("Password")).to_be_visible()

    found = await page.evaluate(
        """() => {
            const host = document.querySelector("demo-login-form");
            const root = host.shadowRoot;
            return {
                inDocument: document.querySelectorAll("input, form").length,
                mode: root && root.mode,
                inShadow: root ? root.querySelectorAll(
                    "form input[autocomplete=username],"
                    + " form input[type=password]").length : 0,
            };
        }"""
    )

    assert found == {"inDocument": 0, "mode": "open", "inShadow": 2}


async def test_iframe_page_has_its_form_in_a_same_origin_iframe(
    site: DemoSite, context: BrowserContext
) -> None:
    """The iframe page's own document has no input; its only child frame,
    of the same origin, holds the username and password fields."""
    page = await context.new_page()
    await page.goto(site.url("iframe"))
    frame_locator = page.frame_locator("iframe[title='Sign-in form']")
    await expect(frame_locator.get_by_label("Password")).to_be_visible()

    top_inputs = await page.evaluate("document.querySelectorAll('input').length")
    children = page.main_frame.child_frames

    assert top_inputs == 0
    assert len(children) == 1
    frame = children[0]
    assert frame.url.startswith(site.base_url + "/")
    frame_origin = await frame.evaluate("location.origin")
    assert frame_origin == await page.evaluate("location.origin")
    assert await frame.locator("input[type=password]").count() == 1


async def test_two_step_remembers_the_username_server_side(
    site: DemoSite, context: BrowserContext
) -> None:
    """The password step has only a password field and names the username
    the server kept from the first step; a fresh browser session going
    straight to the password step is sent back to the username step."""
    account = site.account
    page = await context.new_page()
    await page.goto(site.url("two_step"))
    await page.get_by_label("Username").fill(account.username)
    await page.get_by_role("button", name="Next").click()
    await page.wait_for_url("**/two-step/password")

    assert await page.locator("input").count() == 1
    await expect(page.locator("main")).to_contain_text(
        f"Signing in as {account.username}"
    )

    other = await context.browser.new_context()  # type: ignore[union-attr]
    try:
        stranger = await other.new_page()
        await stranger.goto(site.url("two_step") + "password")
        assert stranger.url == site.url("two_step")
    finally:
        await other.close()
