"""Hostile pages served on loopback: each is refused by detection or by fill."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Frame, Page

from blindfill.agent.forms import FieldRole, FillStatus, FormKind, best_form
from blindfill.agent.origins import chain_refusal, frame_refusal
from blindfill.agent.session import ShimSession
from blindfill.sensitive import Secret
from tests.agent.conftest import Site
from tests.loopback import LoopbackSite

LOGIN = (
    "<h1>Sign in</h1><form><input name=username autocomplete=username>"
    "<input type=password name=password><button>Sign in</button></form>"
)
VALUES = {
    FieldRole.USERNAME: Secret("dave", kind="username"),
    FieldRole.PASSWORD: Secret("hostile-page-test-pw", kind="password"),
}


async def all_values(frame: Frame | Page) -> list[str]:
    return list(
        await frame.evaluate(
            "[...document.querySelectorAll('input')].map(i => i.value)"
        )
    )


@pytest.mark.browser
async def test_security_case_7_cross_origin_login_frame(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Security case 7: a login frame in a trusted page shows its own origin, chain."""
    child = site.add(LOGIN, host="localhost")
    top = site.add(
        f"<h1>Trusted</h1><iframe src='{child}' width=600 height=300></iframe>"
    )
    await page.goto(top)
    form = best_form(await shim.detect())
    assert form is not None
    assert form.origin == site.origin("localhost")
    assert form.top_origin == site.origin()
    assert [ref.url for ref in form.frame_chain] == [top, child]
    assert (await shim.fill(form, VALUES)).ok
    assert await all_values(page) == []  # the top page has no inputs at all
    assert await all_values(page.frames[1]) == ["dave", "hostile-page-test-pw"]


@pytest.mark.browser
@pytest.mark.parametrize(
    "frame",
    [
        f"<iframe sandbox='allow-forms' srcdoc='{LOGIN}'></iframe>",
        f"<iframe sandbox='allow-forms allow-scripts' srcdoc='{LOGIN}'></iframe>",
        f"<iframe srcdoc='{LOGIN}'></iframe>",
        "<iframe id=blank></iframe><script>"
        f"document.getElementById('blank').contentDocument.body.innerHTML = `{LOGIN}`;"
        "</script>",
        f"<iframe src='data:text/html,{LOGIN}'></iframe>",
        "<iframe id=b></iframe><script>document.getElementById('b').src ="
        f" URL.createObjectURL(new Blob([`{LOGIN}`], {{type: 'text/html'}}));</script>",
        "<iframe sandbox src='{{SELF}}/sandboxed-login'></iframe>",
    ],
    ids=[
        "sandbox",
        "sandbox-scripts",
        "srcdoc",
        "about-blank",
        "data",
        "blob",
        "sandbox-src",
    ],
)
async def test_security_case_8_opaque_frames(
    page: Page, shim: ShimSession, site: Site, frame: str
) -> None:
    """Security case 8: sandboxed, srcdoc, about:blank, data:, blob: frames: refused."""
    site.add(LOGIN, path="/sandboxed-login")
    await page.goto(site.add(f"<p>Host page</p>{frame}"))
    await page.wait_for_timeout(200)  # let blob and data frames commit
    assert len(page.frames) == 2
    assert await shim.detect(include_unfillable=True) == []


@pytest.mark.browser
@pytest.mark.parametrize(
    "style",
    [
        "width:0;height:0;overflow:hidden",
        "opacity:0",
        "opacity:0.3",
        "position:absolute;left:-9999px",
        "visibility:hidden",
        "height:2px;overflow:hidden",
        "clip-path:inset(50%);position:absolute",
    ],
)
async def test_security_case_9_invisible_form(
    page: Page, shim: ShimSession, site: Site, style: str
) -> None:
    """Security case 9: a tiny, transparent, off-screen, hidden or clipped form."""
    await page.goto(site.add(f"<div style='{style}'><div>{LOGIN}</div></div>"))
    assert await shim.detect(include_unfillable=True) == []


@pytest.mark.browser
async def test_security_case_9_covered_form(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Security case 9: a form covered by another element is refused."""
    await page.goto(
        site.add(
            f"<div>{LOGIN}</div><div style='position:fixed;inset:0;"
            "background:white'>Nothing to see</div>"
        )
    )
    assert await shim.detect() == []


@pytest.mark.browser
@pytest.mark.parametrize(
    "style",
    [
        "width:0;height:0;border:0",
        "opacity:0",
        "position:absolute;left:-5000px",
        "visibility:hidden",
    ],
)
async def test_security_case_9_invisible_frame(
    page: Page, shim: ShimSession, site: Site, style: str
) -> None:
    """Security case 9: a login form in an invisible cross-site frame is refused."""
    child = site.add(LOGIN, host="localhost")
    await page.goto(
        site.add(
            f"<iframe src='{child}' style='{style}' width=600 height=300></iframe>"
        )
    )
    assert await shim.detect() == []


@pytest.mark.browser
async def test_security_case_10_hidden_extra_fields(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Security case 10: hidden password and card fields by a username stay empty."""
    await page.goto(
        site.add(
            "<h1>Sign in</h1><form><input name=username autocomplete=username>"
            "<input type=hidden name=password>"
            "<input type=password name=password2 style='display:none'>"
            "<input name=cc-number autocomplete=cc-number style='display:none'>"
            "<button>Next</button></form>"
        )
    )
    forms = await shim.detect()
    assert [f.kind for f in forms] == [FormKind.USERNAME_STEP]
    assert forms[0].roles == (FieldRole.USERNAME,)
    outcome = await shim.fill(forms[0], {FieldRole.USERNAME: Secret("erin")})
    assert outcome.filled == (FieldRole.USERNAME,)
    assert await all_values(page) == ["erin", "", "", ""]


@pytest.mark.browser
async def test_security_case_11_sweep_fills_one_frame(
    page: Page, shim: ShimSession, site: Site, other_site: Site
) -> None:
    """Security case 11: one request fills one form in one frame, nothing else."""
    frames = [
        site.add(LOGIN, host="localhost"),
        other_site.add(LOGIN),
        other_site.add(LOGIN, host="localhost"),
    ]
    await page.goto(
        site.add(
            "".join(f"<iframe src='{u}' width=400 height=200></iframe>" for u in frames)
        )
    )
    forms = await shim.detect()
    assert sorted(f.origin for f in forms) == sorted(
        [site.origin("localhost"), other_site.origin(), other_site.origin("localhost")]
    )
    for frame in page.frames[1:]:
        assert await all_values(frame) == ["", ""]  # nothing without a request
    chosen = next(f for f in forms if f.origin == other_site.origin())
    assert (await shim.fill(chosen, VALUES)).ok
    filled = [await all_values(frame) for frame in page.frames[1:]]
    assert sorted(filled) == [["", ""], ["", ""], ["dave", "hostile-page-test-pw"]]


@pytest.mark.browser
@pytest.mark.parametrize("element", ["html", "body"])
async def test_security_case_12_faded_page(
    page: Page, shim: ShimSession, site: Site, element: str
) -> None:
    """Security case 12: opacity lowered on html or body hides the form."""
    await page.goto(site.add(f"<style>{element} {{ opacity: 0.1 }}</style>{LOGIN}"))
    assert await shim.detect() == []


@pytest.mark.browser
async def test_security_case_12_top_layer_overlay(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Security case 12: a modal dialog laid over the form blocks detection and fill."""
    await page.goto(
        site.add(
            f"{LOGIN}<dialog id=d style='width:100vw;height:100vh;max-width:none;"
            "max-height:none;margin:0'>Click to continue</dialog>"
        )
    )
    form = best_form(await shim.detect())
    assert form is not None
    await page.evaluate("document.getElementById('d').showModal()")
    assert await shim.detect() == []
    outcome = await shim.fill(form, VALUES)
    assert outcome.status is FillStatus.FIELD_HIDDEN
    assert await all_values(page) == ["", ""]


@pytest.mark.browser
async def test_security_case_18_distinct_origins(
    page: Page, shim: ShimSession, site: Site, other_site: Site, tmp_path: Path
) -> None:
    """Security case 18: IP literal, localhost and another port are distinct origins;
    a file: page is refused."""
    seen = set()
    for url in (
        site.add(LOGIN),
        site.add(LOGIN, host="localhost"),
        other_site.add(LOGIN),
    ):
        await page.goto(url)
        form = best_form(await shim.detect())
        assert form is not None
        seen.add(form.origin)
    assert seen == {site.origin(), site.origin("localhost"), other_site.origin()}
    local = tmp_path / "login.html"
    local.write_text(LOGIN)
    await page.goto(local.as_uri())
    assert await shim.detect(include_unfillable=True) == []


@pytest.mark.browser
@pytest.mark.parametrize(
    "html",
    [
        "<form role=search><input name=q autocomplete=username placeholder=Search>"
        "<button>Search</button></form>",
        "<form><input type=search name=q autocomplete=username>"
        "<button>Go</button></form>",
        "<section><h2>Newsletter</h2><p>Get our weekly deals.</p><form>"
        "<input type=email name=email autocomplete=username>"
        "<button>Subscribe</button></form></section>",
    ],
    ids=["search-role", "search-type", "newsletter"],
)
async def test_security_case_19_search_or_newsletter_with_username_hint(
    page: Page, shim: ShimSession, site: Site, html: str
) -> None:
    """Security case 19: a search or newsletter box marked autocomplete=username."""
    await page.goto(site.add(html))
    assert await shim.detect() == []


@pytest.mark.browser
@pytest.mark.parametrize("autocomplete", ["one-time-code", "cc-number", "cc-csc"])
async def test_security_case_20_wrong_kind_of_field(
    page: Page, shim: ShimSession, site: Site, autocomplete: str
) -> None:
    """Security case 20: a code or card field in the password's place is no password."""
    await page.goto(
        site.add(
            "<h1>Sign in</h1><form><input name=username autocomplete=username>"
            f"<input type=password name=password autocomplete={autocomplete}>"
            "<button>Sign in</button></form>"
        )
    )
    for form in await shim.detect():
        assert FieldRole.PASSWORD not in form.roles


@pytest.mark.browser
async def test_security_case_20_field_changes_kind_before_fill(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Security case 20: a password field turned into a code field is not filled."""
    await page.goto(site.add(LOGIN))
    form = best_form(await shim.detect())
    assert form is not None
    await page.evaluate(
        "document.querySelector('[type=password]')"
        ".setAttribute('autocomplete', 'one-time-code')"
    )
    outcome = await shim.fill(form, VALUES)
    assert outcome.status is FillStatus.ROLE_MISMATCH
    assert await all_values(page) == ["", ""]


def test_security_case_22_http_frame_in_https_page() -> None:
    """Security case 22: an http frame inside an https page is refused.

    The origin check the session applies to every CDP-reported frame chain;
    the browser tests below load such pages over real HTTPS.
    """
    assert (
        chain_refusal(
            [
                ("https://bank.test/", "https://bank.test"),
                ("http://bank.test/login", "http://bank.test"),
            ]
        )
        == "an http frame inside an https page (mixed content)"
    )
    assert chain_refusal([("https://bank.test/", "https://bank.test")]) is None
    assert chain_refusal([("http://a.test/", "http://a.test")]) is None


@pytest.fixture
async def https_page(browser: Browser) -> AsyncIterator[Page]:
    """A page in a context that loads pages despite a self-signed certificate."""
    context = await browser.new_context(ignore_https_errors=True)
    yield await context.new_page()
    await context.close()


@pytest.fixture
async def https_shim(https_page: Page) -> AsyncIterator[ShimSession]:
    session = await ShimSession.attach(https_page)
    yield session
    await session.close()


@pytest.fixture
def https_site(tmp_path: Path) -> Iterator[LoopbackSite]:
    """An HTTPS server on 127.0.0.1 with a certificate made for this test."""
    served = LoopbackSite(tls_dir=tmp_path)
    yield served
    served.close()


@pytest.fixture
def http_site() -> Iterator[LoopbackSite]:
    served = LoopbackSite()
    yield served
    served.close()


@pytest.mark.browser
async def test_security_case_22_http_login_frame_over_https(
    https_page: Page,
    https_shim: ShimSession,
    https_site: LoopbackSite,
    http_site: LoopbackSite,
) -> None:
    """Security case 22: an https page's login frame loaded over http is refused.

    The same frame served over https is found, so the refusal is the scheme's.
    """
    insecure = http_site.add("/login", LOGIN)
    secure = https_site.add("/login", LOGIN)
    top = https_site.add(
        "/", f"<h1>Bank</h1><iframe src='{insecure}' width=600 height=300></iframe>"
    )
    await https_page.goto(top)
    frame = https_page.frames[1]
    await frame.wait_for_selector("input[type=password]")
    assert frame.url == insecure  # the browser loaded it: blindfill refuses
    assert await https_shim.detect(include_unfillable=True) == []

    await https_page.goto(
        https_site.add("/ok", f"<iframe src='{secure}' width=600 height=300></iframe>")
    )
    await https_page.frames[1].wait_for_selector("input[type=password]")
    form = best_form(await https_shim.detect())
    assert form is not None
    assert form.origin == https_site.origin


@pytest.mark.browser
async def test_security_case_22_https_form_posting_over_http(
    https_page: Page,
    https_shim: ShimSession,
    https_site: LoopbackSite,
    http_site: LoopbackSite,
) -> None:
    """Security case 22: an https page's form that posts over http is not filled.

    Detection leaves it out; a form re-pointed to http after detection is
    refused by the fill itself, with every field left empty.
    """
    steal = f"{http_site.origin}/login"
    await https_page.goto(
        https_site.add(
            "/a", LOGIN.replace("<form>", f"<form action='{steal}' method=post>")
        )
    )
    assert await https_shim.detect(include_unfillable=True) == []

    await https_page.goto(
        https_site.add(
            "/b",
            LOGIN.replace("<button>", f"<button formaction='{steal}'>"),
        )
    )
    assert await https_shim.detect(include_unfillable=True) == []

    await https_page.goto(
        https_site.add(
            "/c", LOGIN.replace("<form>", "<form action=/session method=post>")
        )
    )
    form = best_form(await https_shim.detect())
    assert form is not None
    await https_page.evaluate(
        "url => { document.querySelector('form').action = url; }", steal
    )
    outcome = await https_shim.fill(form, VALUES)
    assert outcome.status is FillStatus.INSECURE_ACTION
    assert await all_values(https_page) == ["", ""]
    assert http_site.posted == []
    assert https_site.posted == []


@pytest.mark.browser
async def test_security_case_23_push_state_fakes_a_path(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Security case 23: pushState changes the URL shown, never the origin."""
    await page.goto(
        site.add(
            f"{LOGIN}<script>history.pushState({{}}, '',"
            " '/https://bank.test/login?origin=https://bank.test');</script>"
        )
    )
    form = best_form(await shim.detect())
    assert form is not None
    assert form.origin == site.origin()
    assert form.frame_chain[0].origin == site.origin()
    assert "bank.test" in form.url  # the path is shown, and trusted for nothing


@pytest.mark.browser
async def test_security_case_24_data_and_blob_clones(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Security case 24: data: and blob: copies of a login page are refused."""
    await page.goto(f"data:text/html,{LOGIN}")
    assert await shim.detect(include_unfillable=True) == []
    await page.goto(site.add("<p>loading</p>"))
    await page.evaluate(
        "html => { location.href = URL.createObjectURL("
        "new Blob([html], {type: 'text/html'})); }",
        LOGIN,
    )
    await page.wait_for_url(lambda url: url.startswith("blob:"))
    assert await page.evaluate("document.querySelectorAll('input').length") == 2
    assert await shim.detect(include_unfillable=True) == []


@pytest.mark.parametrize(
    ("url", "origin", "refused"),
    [
        ("https://a.test/x", "https://a.test", False),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080", False),
        ("about:blank", "https://a.test", True),
        ("about:srcdoc", "://", True),
        ("data:text/html,x", "://", True),
        ("blob:https://a.test/123", "https://a.test", True),
        ("https://a.test/", "://", True),
        ("https://a.test/", "https://b.test", True),
        ("file:///tmp/x.html", "file://", True),
    ],
)
def test_frame_refusal_rules(url: str, origin: str, refused: bool) -> None:
    """Only http(s) frames whose CDP origin matches their URL may be filled."""
    assert (frame_refusal(url, origin) is not None) is refused
