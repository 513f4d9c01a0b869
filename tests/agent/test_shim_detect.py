"""Detection: form kinds, fields outside forms, shadow roots, frames, navigation."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, Page

from blindfill.agent.forms import FieldRole, FormKind, best_form
from blindfill.agent.session import ShimSession
from tests.agent.conftest import Site

pytestmark = pytest.mark.browser

LOGIN = """<!doctype html><title>Sign in</title>
<h1>Sign in to Example</h1>
<form action="/session" method="post">
  <input type=text name=q placeholder="Search" style="display:none">
  <label>Email <input type=email name=email autocomplete=username></label>
  <label>Password <input type=password name=password></label>
  <button type=submit>Sign in</button>
  <a href="/forgot">Forgot password?</a>
</form>"""


async def kinds(shim: ShimSession) -> set[FormKind]:
    return {form.kind for form in await shim.detect(include_unfillable=True)}


async def test_login_form_fields_and_origin(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """A username and password form is a login form with both roles, origin from CDP."""
    await page.goto(site.add(LOGIN))
    forms = await shim.detect()
    assert [form.kind for form in forms] == [FormKind.LOGIN]
    form = forms[0]
    assert form.roles == (FieldRole.USERNAME, FieldRole.PASSWORD)
    assert [field.input_index for field in form.fields] == [1, 2]
    assert form.origin == site.origin()
    assert [ref.origin for ref in form.frame_chain] == [site.origin()]
    assert form.has_form_element


async def test_fields_without_form_element(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Fields outside any <form> still group into a login form."""
    await page.goto(
        site.add(
            "<div><h2>Log in</h2><div><input id=u name=username></div>"
            "<div><input id=p type=password></div><button>Log in</button></div>"
        )
    )
    form = best_form(await shim.detect())
    assert form is not None
    assert form.kind is FormKind.LOGIN
    assert not form.has_form_element
    assert [f.selector for f in form.fields] == ["#u", "#p"]


async def test_open_shadow_root(page: Page, shim: ShimSession, site: Site) -> None:
    """Fields inside an open shadow root are found; their input_index is null."""
    await page.goto(
        site.add(
            "<login-box></login-box><script>"
            "const host = document.querySelector('login-box');"
            "const root = host.attachShadow({mode: 'open'});"
            "root.innerHTML = '<form><input name=username><input type=password>"
            "<button>Sign in</button></form>';</script>"
        )
    )
    form = best_form(await shim.detect())
    assert form is not None
    assert form.kind is FormKind.LOGIN
    assert [f.input_index for f in form.fields] == [None, None]
    assert all(">>>" in f.selector for f in form.fields)


async def test_same_origin_iframe(page: Page, shim: ShimSession, site: Site) -> None:
    """A form in a same-origin iframe is found, with the frame chain from the top."""
    child = site.add(LOGIN)
    top = site.add(
        f"<p>Welcome</p><iframe src='{child}' width=600 height=400></iframe>"
    )
    await page.goto(top)
    form = best_form(await shim.detect())
    assert form is not None
    assert [ref.url for ref in form.frame_chain] == [top, child]
    assert form.origin == site.origin()


async def test_cross_origin_frame_is_not_merged(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """A cross-site frame has its own origin; its password stays out of the parent."""
    child = site.add(
        "<form><input type=password name=pw><button>Sign in</button></form>",
        host="localhost",
    )
    await page.goto(
        site.add(
            "<form><input name=username autocomplete=username>"
            "<button>Next</button></form>"
            f"<iframe src='{child}' width=500 height=200></iframe>"
        )
    )
    forms = await shim.detect()
    in_child = [f for f in forms if f.origin == site.origin("localhost")]
    assert [f.kind for f in in_child] == [FormKind.PASSWORD_STEP]
    assert [ref.origin for ref in in_child[0].frame_chain] == [
        site.origin(),
        site.origin("localhost"),
    ]
    for form in forms:
        if form.origin == site.origin():
            assert FieldRole.PASSWORD not in form.roles


async def test_steps_and_codes(page: Page, shim: ShimSession, site: Site) -> None:
    """Username step, password step and one-time-code step are told apart."""
    await page.goto(
        site.add(
            "<h1>Sign in</h1><form><input type=email name=email autocomplete=username>"
            "<input type=password name=pw style='display:none'>"
            "<button>Next</button></form>"
        )
    )
    assert await kinds(shim) == {FormKind.USERNAME_STEP}
    await page.goto(
        site.add(
            "<h1>Welcome back</h1><form><input type=password name=password>"
            "<button>Sign in</button><a href=/f>Forgot your password?</a></form>"
        )
    )
    assert await kinds(shim) == {FormKind.PASSWORD_STEP}
    await page.goto(
        site.add(
            "<h1>Two-factor authentication</h1><form>"
            "<label>Code from your authenticator app <input name=otp "
            "autocomplete=one-time-code inputmode=numeric maxlength=6></label>"
            "<button>Verify</button></form>"
        )
    )
    forms = await shim.detect()
    assert [f.kind for f in forms] == [FormKind.ONE_TIME_CODE]
    assert forms[0].roles == (FieldRole.ONE_TIME_CODE,)


@pytest.mark.parametrize(
    ("html", "kind"),
    [
        (
            "<h1>Create your account</h1><form><input name=first_name>"
            "<input type=email name=email><input type=password name=password>"
            "<label><input type=checkbox> I agree to the Terms</label>"
            "<button>Sign up</button></form>",
            FormKind.SIGNUP,
        ),
        (
            "<form><input type=password autocomplete=current-password>"
            "<input type=password autocomplete=new-password>"
            "<input type=password autocomplete=new-password>"
            "<button>Change password</button></form>",
            FormKind.CHANGE_PASSWORD,
        ),
        (
            "<form role=search><input type=search name=q autocomplete=username>"
            "<button>Search</button></form>",
            FormKind.SEARCH,
        ),
        (
            "<footer><h3>Our newsletter</h3><form><input type=email name=email>"
            "<button>Subscribe</button></form></footer>",
            FormKind.NEWSLETTER,
        ),
        (
            "<h1>Checkout</h1><form><input name=email type=email>"
            "<button>Continue to payment</button></form>",
            FormKind.CHECKOUT,
        ),
    ],
)
async def test_forms_never_filled(
    page: Page, shim: ShimSession, site: Site, html: str, kind: FormKind
) -> None:
    """Signup, change-password, search, newsletter, checkout: recognised, not filled."""
    await page.goto(site.add(html))
    assert await shim.detect() == []
    assert kind in await kinds(shim)


async def test_frames_created_later_and_navigation(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """The shim reaches iframes added after attach and documents after navigation."""
    await page.goto(site.add("<p>empty</p>"))
    assert await shim.detect() == []
    child = site.add(LOGIN, host="localhost")
    await page.evaluate(
        "url => { const f = document.createElement('iframe'); f.src = url;"
        " f.width = 600; f.height = 400; document.body.append(f);"
        " return new Promise(r => f.onload = r); }",
        child,
    )
    forms = await shim.detect()
    assert [f.origin for f in forms] == [site.origin("localhost")]

    await page.goto(site.add(LOGIN))
    forms = await shim.detect()
    assert [f.origin for f in forms] == [site.origin()]


async def test_late_form_wakes_waiter(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """wait_for_forms returns once a script adds a login form."""
    await page.goto(
        site.add(
            "<div id=slot></div><script>setTimeout(() => {"
            "document.getElementById('slot').innerHTML = "
            "'<form><input name=user><input type=password>"
            "<button>Log in</button></form>';"
            "}, 300);</script>"
        )
    )
    forms = await shim.wait_for_forms(5)
    assert [f.kind for f in forms] == [FormKind.LOGIN]


async def test_context_attach_covers_new_pages(
    context: BrowserContext, site: Site
) -> None:
    """Attaching to a context injects into pages opened afterwards."""
    session = await ShimSession.attach(context)
    try:
        page = await context.new_page()
        await page.goto(site.add(LOGIN))
        forms = await session.detect()
        assert [f.kind for f in forms] == [FormKind.LOGIN]
    finally:
        await session.close()
