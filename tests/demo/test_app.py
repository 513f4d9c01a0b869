"""The demo site's request handling, driven in memory."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from blindfill.demo import DEMO_PAGES, MAX_BODY_BYTES, DemoApp, random_account
from blindfill.demo.app import MAX_CODE_FAILURES, MAX_FIELD_CHARS
from blindfill.errors import UsageError
from tests.demo.asgi import FORM, call, post_form

ACCOUNT = random_account()
NOW = 1_800_000_000.0


@pytest.fixture
def app() -> DemoApp:
    return DemoApp(ACCOUNT, clock=lambda: NOW)


def login_body(username: str = ACCOUNT.username, password: str | None = None) -> str:
    if password is None:
        password = ACCOUNT.password.reveal()
    return urlencode({"username": username, "password": password})


async def test_plain_login_signs_in_and_records_the_session(app: DemoApp) -> None:
    """A correct POST answers "Signed in as", sets a session cookie, and
    `signed_in` reports the username for that session only."""
    reply = await post_form(app, "/plain/", login_body())

    assert reply.status == 200
    assert f"Signed in as <strong>{ACCOUNT.username}</strong>" in reply.text
    assert reply.session is not None
    assert app.signed_in("plain", session=reply.session) == ACCOUNT.username
    assert app.signed_in("plain", session="x" * 32) is None
    assert app.signed_in("plain") == ACCOUNT.username
    assert app.signed_in("iframe") is None
    assert [s.page for s in app.sign_ins] == ["plain"]


async def test_session_cookie_is_http_only_and_same_site(app: DemoApp) -> None:
    """The cookie is set once, HttpOnly and SameSite=Strict, and a known
    cookie is kept rather than replaced."""
    first = await call(app, "GET", "/plain/")
    again = await call(app, "GET", "/plain/", session=first.session)

    cookie = first.header("set-cookie")
    assert cookie is not None
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert again.session is None


async def test_unknown_session_cookie_gets_a_new_session(app: DemoApp) -> None:
    """A cookie the server never issued is not adopted."""
    forged = "A" * 32

    reply = await call(app, "GET", "/plain/", session=forged)

    assert reply.session not in (None, forged)


async def test_pages_send_a_strict_content_security_policy(app: DemoApp) -> None:
    """Every page forbids inline script, framing by other sites and
    posting forms elsewhere."""
    reply = await call(app, "GET", "/")

    policy = reply.header("content-security-policy") or ""
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'self'" in policy
    assert "form-action 'self'" in policy
    assert reply.header("x-content-type-options") == "nosniff"


async def test_index_links_every_page(app: DemoApp) -> None:
    """The index links each demo page by path."""
    reply = await call(app, "GET", "/")

    assert reply.status == 200
    for page in DEMO_PAGES:
        assert f'href="{page.path}"' in reply.text


async def test_unknown_path_is_404_and_wrong_method_405(app: DemoApp) -> None:
    """Paths outside the site answer 404; a known path with the wrong
    method answers 405."""
    assert (await call(app, "GET", "/nope")).status == 404
    assert (await call(app, "GET", "/static/../app.py")).status == 404
    assert (await call(app, "DELETE", "/plain/")).status == 405
    assert (await call(app, "GET", "/react/api/login")).status == 405


@pytest.mark.parametrize(
    ("headers", "chunks"),
    [
        pytest.param([], [b"username=a&password=b"], id="no content type"),
        pytest.param(
            [("content-type", "application/json")],
            [b'{"username": "a", "password": "b"}'],
            id="json",
        ),
        pytest.param(
            [("content-type", FORM), ("content-type", FORM)],
            [b"username=a&password=b"],
            id="two content types",
        ),
        pytest.param([("content-type", FORM)], [b""], id="empty body"),
        pytest.param([("content-type", FORM)], [b"username=a"], id="missing field"),
        pytest.param(
            [("content-type", FORM)],
            [b"username=a&password=b&admin=1"],
            id="unknown field",
        ),
        pytest.param(
            [("content-type", FORM)],
            [b"username=a&username=b&password=c"],
            id="repeated field",
        ),
        pytest.param(
            [("content-type", FORM)], [b"username=a&password"], id="no equals"
        ),
        pytest.param(
            [("content-type", FORM)],
            [b"username=%FF%FE&password=b"],
            id="percent-encoded bytes that are not UTF-8",
        ),
        pytest.param(
            [("content-type", FORM)],
            ["username=é&password=b".encode()],
            id="raw non-ASCII byte",
        ),
        pytest.param(
            [("content-type", FORM)],
            [f"username=a&password={'p' * (MAX_FIELD_CHARS + 1)}".encode()],
            id="field too long",
        ),
        pytest.param(
            [("content-type", FORM), ("content-length", "12x")],
            [b"username=a&password=b"],
            id="malformed content length",
        ),
        pytest.param(
            [("content-type", FORM), ("content-length", str(MAX_BODY_BYTES + 1))],
            [b"username=a&password=b"],
            id="declared length too large",
        ),
        pytest.param(
            [("content-type", FORM)],
            [b"username=a&password=", b"p" * MAX_BODY_BYTES],
            id="undeclared body too large",
        ),
    ],
)
async def test_malformed_posts_are_refused_with_400(
    app: DemoApp, headers: list[tuple[str, str]], chunks: list[bytes]
) -> None:
    """Every malformed or oversized POST answers 400 with a plain message
    and records nothing."""
    reply = await call(app, "POST", "/plain/", headers=headers, chunks=chunks)

    assert reply.status == 400
    assert reply.header("content-type") == "text/plain; charset=utf-8"
    assert reply.text.strip()
    assert app.sign_ins == ()


async def test_refusals_never_echo_field_values(app: DemoApp) -> None:
    """A refused field's value, here a long real-looking password, does
    not appear in the 400 answer."""
    secret = ACCOUNT.password.reveal() * 20

    reply = await post_form(app, "/plain/", login_body(password=secret))

    assert reply.status == 400
    assert ACCOUNT.password.reveal() not in reply.text


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=600))
async def test_any_form_body_gets_an_answer_never_a_crash(body: bytes) -> None:
    """Whatever bytes arrive as a form, the answer is a page (200, 401) or
    a 400; the application never raises."""
    app = DemoApp(ACCOUNT, clock=lambda: NOW)

    reply = await post_form(app, "/plain/", body)

    assert reply.status in (200, 400, 401)


@settings(max_examples=100, deadline=None)
@given(
    username=st.text(max_size=40),
    password=st.text(max_size=40),
)
async def test_only_the_exact_credentials_sign_in(username: str, password: str) -> None:
    """Any username and password other than the account's are refused
    with 401, whatever characters they hold."""
    app = DemoApp(ACCOUNT, clock=lambda: NOW)

    reply = await post_form(app, "/plain/", login_body(username, password))

    assert reply.status == 401
    assert "Wrong username or password." in reply.text
    assert app.sign_ins == ()


async def test_totp_flow_checks_the_code_at_the_clocks_time(app: DemoApp) -> None:
    """The right password leads to the code step; the code for the
    injected clock's time signs in."""
    login = await post_form(app, "/totp/", login_body())
    session = login.session

    assert login.status == 303
    assert login.header("location") == "/totp/code"
    code_page = await call(app, "GET", "/totp/code", session=session)
    assert 'autocomplete="one-time-code"' in code_page.text
    assert app.signed_in("totp") is None

    code = ACCOUNT.one_time_code(NOW).reveal()
    reply = await post_form(app, "/totp/code", f"code={code}", session=session)

    assert reply.status == 200
    assert app.signed_in("totp", session=session) == ACCOUNT.username


async def test_totp_code_from_another_time_is_refused(app: DemoApp) -> None:
    """A code from ten minutes earlier, or one that is not six digits, is
    refused with 401 and the code step is shown again."""
    login = await post_form(app, "/totp/", login_body())
    old = ACCOUNT.one_time_code(NOW - 600).reveal()

    for code in (old, "12345", "abcdef"):
        reply = await post_form(
            app, "/totp/code", f"code={code}", session=login.session
        )
        assert reply.status == 401
        assert "Wrong code" in reply.text
    assert app.sign_ins == ()


async def test_too_many_wrong_codes_restart_the_sign_in(app: DemoApp) -> None:
    """After the fifth wrong code even the right code is refused until the
    password is entered again."""
    login = await post_form(app, "/totp/", login_body())
    wrong = ACCOUNT.one_time_code(NOW - 600).reveal()
    right = ACCOUNT.one_time_code(NOW).reveal()

    for _ in range(MAX_CODE_FAILURES):
        await post_form(app, "/totp/code", f"code={wrong}", session=login.session)
    late = await post_form(app, "/totp/code", f"code={right}", session=login.session)

    assert late.status == 401
    assert "Enter your password again" in late.text
    assert app.sign_ins == ()


async def test_password_step_without_username_step_is_refused(app: DemoApp) -> None:
    """Posting a password with no username kept in the session signs
    nobody in and asks for the username again."""
    reply = await post_form(
        app, "/two-step/password", urlencode({"password": ACCOUNT.password.reveal()})
    )

    assert reply.status == 401
    assert 'autocomplete="username"' in reply.text
    assert app.sign_ins == ()


async def test_username_step_escapes_what_it_echoes(app: DemoApp) -> None:
    """A username with markup is shown escaped on the password step."""
    step = await post_form(app, "/two-step/", "username=%3Cimg+src%3Dx%3E")
    page = await call(app, "GET", "/two-step/password", session=step.session)

    assert "<img src=x>" not in page.text
    assert "&lt;img src=x&gt;" in page.text


async def test_react_api_answers_json(app: DemoApp) -> None:
    """The React page's endpoint answers JSON: the username, or an error."""
    good = await post_form(app, "/react/api/login", login_body())
    bad = await post_form(app, "/react/api/login", login_body(password="nope"))

    assert good.status == 200
    assert good.header("content-type") == "application/json"
    assert good.text == f'{{"username": "{ACCOUNT.username}"}}'
    assert bad.status == 401
    assert "error" in bad.text


async def test_signed_in_refuses_an_unknown_page(app: DemoApp) -> None:
    """Asking about a page that does not exist is a usage error naming the
    pages that do."""
    with pytest.raises(UsageError) as caught:
        app.signed_in("nonexistent")

    assert "plain" in str(caught.value)


async def test_sign_in_records_hide_the_session_token(app: DemoApp) -> None:
    """A SignIn's repr shows page and username but not the session token."""
    reply = await post_form(app, "/plain/", login_body())

    (record,) = app.sign_ins
    assert reply.session is not None
    assert reply.session not in repr(record)
    assert ACCOUNT.username in repr(record)


async def test_logs_never_hold_a_password_or_code(app: DemoApp) -> None:
    """Sign-ins that succeed and fail, refused requests and code steps log
    events, none of which holds the password or a code."""
    password = ACCOUNT.password.reveal()
    code = ACCOUNT.one_time_code(NOW).reveal()

    with capture_logs() as logs:
        await post_form(app, "/plain/", login_body())
        await post_form(app, "/plain/", login_body(password=password + "x"))
        await post_form(app, "/plain/", login_body(password=password * 20))
        login = await post_form(app, "/totp/", login_body())
        await post_form(app, "/totp/code", f"code={code}", session=login.session)

    events = [entry["event"] for entry in logs]
    assert "demo.signed_in" in events
    assert "demo.sign_in_failed" in events
    assert "demo.request_refused" in events
    for entry in logs:
        text = repr(entry)
        assert password not in text
        assert code not in text
