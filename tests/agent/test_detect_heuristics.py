"""Detection on pages that mix forms: registration pages, competing ids, steps."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from blindfill.agent.forms import FieldRole, FormKind, best_form
from blindfill.agent.session import ShimSession
from tests.agent.conftest import PAGES, Site

pytestmark = pytest.mark.browser

HEADER_SIGN_IN = """<header><nav><a href="/">Home</a>
<form action="/session" method="post">
<input name="user" placeholder="Username"><input type="password" name="pw">
<button>Sign in</button></form></nav></header>"""


def modal_page(modal_class: str) -> str:
    html = (PAGES / "registration_modal_sign_in.html").read_text(encoding="utf-8")
    return html.replace("{{MODAL_CLASS}}", modal_class)


async def chosen(shim: ShimSession) -> tuple[FormKind, list[int | None]] | None:
    form = best_form(await shim.detect())
    if form is None:
        return None
    return form.kind, [field.input_index for field in form.fields]


async def test_header_sign_in_on_a_registration_page_is_withheld(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """A sign-in in the header of a registration page is not offered for filling."""
    await page.goto(site.add_file("registration_header_sign_in.html"))
    assert await shim.detect() == []
    kinds = [form.kind for form in await shim.detect(include_unfillable=True)]
    assert FormKind.SIGNUP in kinds
    assert FormKind.LOGIN not in kinds


async def test_header_sign_in_without_registration_is_filled(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """The same header sign-in on a page with no registration form is a login."""
    await page.goto(site.add(f"{HEADER_SIGN_IN}<main><h1>News</h1></main>"))
    assert await chosen(shim) == (FormKind.LOGIN, [0, 1])


async def test_main_sign_in_wins_over_header_sign_in(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """A page's own sign-in form ranks above the one in its header."""
    await page.goto(
        site.add(
            f"{HEADER_SIGN_IN}<main><h1>Welcome</h1><form action=/login method=post>"
            "<input name=member><input type=password name=secret>"
            "<button>Continue</button></form></main>"
        )
    )
    assert await chosen(shim) == (FormKind.LOGIN, [2, 3])


async def test_side_by_side_sign_in_and_registration(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """A sign-in next to a registration in the page's main part is still offered."""
    await page.goto(
        site.add(
            "<main><section><h2>Log in</h2><form><input name=username>"
            "<input type=password name=password><button>Log in</button></form>"
            "</section><section><h2>Create an account</h2><form>"
            "<input name=new_username><input type=password name=new_password>"
            "<input type=password name=new_password_again>"
            "<button>Create account</button></form></section></main>"
        )
    )
    assert await chosen(shim) == (FormKind.LOGIN, [0, 1])


@pytest.mark.parametrize("modal_class", ["modal", "modal fade", "c-login-modal"])
async def test_closed_modal_sign_in_on_a_registration_page_is_withheld(
    page: Page, shim: ShimSession, site: Site, modal_class: str
) -> None:
    """A sign-in modal with no sign of being open, on a registration page: no fill.

    The test page has no style sheet, so the modal shows; on a live site the
    site's styles hide it. Only the class names tell it is closed.
    """
    await page.goto(site.add(modal_page(modal_class)))
    assert await shim.detect() == []


@pytest.mark.parametrize(
    "modal_class", ["modal show", "modal fade in", "c-login-modal is-open"]
)
async def test_open_modal_sign_in_on_a_registration_page_is_filled(
    page: Page, shim: ShimSession, site: Site, modal_class: str
) -> None:
    """A sign-in modal the page marks as open is the form to fill, signup or not."""
    await page.goto(site.add(modal_page(modal_class)))
    assert await chosen(shim) == (FormKind.LOGIN, [3, 4])


async def test_modal_opened_by_script_is_filled(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """A modal a script shows with an inline display is open, whatever its class."""
    await page.goto(site.add(modal_page("modal")))
    await page.evaluate("document.getElementById('sign-in').style.display = 'block'")
    assert await chosen(shim) == (FormKind.LOGIN, [3, 4])


async def test_competing_numbers_take_the_one_next_to_the_password(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Branch, account and contract numbers before a password: none is named a
    username, so the one next to the password is taken, as browsers do."""
    await page.goto(
        site.add(
            "<h1>Online banking login</h1><form>"
            "<label for=b>Branch</label><input id=b name=branch type=tel>"
            "<label for=a>Account number</label><input id=a name=account_no type=tel>"
            "<label for=c>Contract number</label><input id=c name=contract type=tel>"
            "<label for=p>Password</label><input id=p type=password name=pw>"
            "<button>Log in</button></form>"
        )
    )
    assert await chosen(shim) == (FormKind.LOGIN, [2, 3])


async def test_a_named_username_beats_a_nearer_number(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Among several fields, one the page names a user ID is the username."""
    await page.goto(
        site.add(
            "<h1>Online banking login</h1><form>"
            "<label for=u>User ID</label><input id=u name=userid>"
            "<label for=c>Contract number</label><input id=c name=contract type=tel>"
            "<label for=p>Password</label><input id=p type=password name=pw>"
            "<button>Log in</button></form>"
        )
    )
    assert await chosen(shim) == (FormKind.LOGIN, [0, 2])


USERNAME_STEP = """<!doctype html><title>Username, then password</title>
<form method="post" action="/two-step/"><p><label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" required></p>
<p><button type="submit">{button}</button></p>{extra}</form>"""


@pytest.mark.parametrize("button", ["Next", "Continue"])
async def test_plain_username_step(
    page: Page, shim: ShimSession, site: Site, button: str
) -> None:
    """A lone field marked autocomplete=username, sent on with Next or Continue,
    is a username step without any sign-in word on the page."""
    await page.goto(site.add(USERNAME_STEP.format(button=button, extra="")))
    form = best_form(await shim.detect())
    assert form is not None
    assert form.kind is FormKind.USERNAME_STEP
    assert form.roles == (FieldRole.USERNAME,)


@pytest.mark.parametrize(
    "case",
    [
        ("Go", "", FormKind.OTHER),
        ("Next", "<input name=city>", FormKind.OTHER),
        ("Continue", "<p>Subscribe to our newsletter</p>", FormKind.NEWSLETTER),
        ("Next", "<p>Create your account</p>", FormKind.SIGNUP),
    ],
)
async def test_username_field_that_is_no_step(
    page: Page, shim: ShimSession, site: Site, case: tuple[str, str, FormKind]
) -> None:
    """Without Next, with another field, a newsletter or a registration: no step."""
    button, extra, kind = case
    await page.goto(site.add(USERNAME_STEP.format(button=button, extra=extra)))
    assert await shim.detect() == []
    assert kind in {form.kind for form in await shim.detect(include_unfillable=True)}
