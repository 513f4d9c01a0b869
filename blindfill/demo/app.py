"""The demo site as a plain ASGI application.

Requests flow through one method, `DemoApp.__call__`, in four phases:

1. route: the method and path pick a handler, or the answer is 404 / 405;
2. session: a cookie names the browser session, made on first sight, which
   carries the state between the steps of a multi-step sign-in;
3. body: a POST must be `application/x-www-form-urlencoded`, at most
   `MAX_BODY_BYTES`, with exactly the fields the handler expects, each at
   most `MAX_FIELD_CHARS`; anything else is refused with 400 before a
   handler sees it;
4. handle: the handler checks credentials and answers with a page.

The password is compared in constant time (both the username and the
password are always compared, so timing does not tell which was wrong). A
successful sign-in is recorded as a `SignIn`, which `DemoSite.signed_in`
reads from another thread, so records sit behind a lock. Nothing logs a
password, a code or a session cookie.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, Final
from urllib.parse import parse_qsl

from blindfill.demo import views
from blindfill.demo.account import DemoAccount
from blindfill.demo.pages import DemoPage, demo_page
from blindfill.errors import RemoteProtocolError
from blindfill.log import get_logger
from blindfill.sensitive import Secret
from blindfill.totp import decode_seed, verify_totp

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_FIELD_CHARS",
    "SESSION_COOKIE",
    "DemoApp",
    "SignIn",
]

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

MAX_BODY_BYTES: Final = 4096
MAX_FIELD_CHARS: Final = 256
SESSION_COOKIE: Final = "blindfill_demo_session"
MAX_SESSIONS: Final = 4096  # oldest sessions are forgotten past this
MAX_SIGN_INS: Final = 10_000  # oldest records are forgotten past this
MAX_CODE_FAILURES: Final = 5  # wrong codes before the password is asked again

WRONG_CREDENTIALS: Final = "Wrong username or password."
WRONG_CODE: Final = "Wrong code. Check your authenticator app and try again."


_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
_FORM_TYPE = re.compile(
    r"application/x-www-form-urlencoded\s*(;\s*charset=\"?utf-8\"?\s*)?",
    re.IGNORECASE,
)

# A careful site's policy: no inline script or style, no foreign origin, no
# framing by another site. The shim runs in an isolated world, untouched.
_SECURITY_HEADERS: Final = (
    (
        b"content-security-policy",
        b"default-src 'self'; base-uri 'none'; form-action 'self'; "
        b"frame-ancestors 'self'; object-src 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"same-origin"),
)

_HTML = "text/html; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json"
_STATIC_TYPES: Final = {
    "demo.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
    "shadow-login.js": "text/javascript; charset=utf-8",
    "react-login.js": "text/javascript; charset=utf-8",
    "react.production.min.js": "text/javascript; charset=utf-8",
    "react-dom.production.min.js": "text/javascript; charset=utf-8",
    "LICENSE-react.txt": _TEXT,
}


@dataclass(frozen=True, slots=True)
class SignIn:
    """One successful sign-in: through which page, as whom, when, and in
    which browser session (the value of the `SESSION_COOKIE` cookie)."""

    page: str
    username: str
    at: float
    session: Secret[str] = field(repr=False)


@dataclass(slots=True)
class _Session:
    """What the server remembers about one browser between requests."""

    pending: dict[str, str] = field(default_factory=dict)  # page -> username
    code_failures: int = 0


@dataclass(frozen=True, slots=True)
class _Request:
    path: str
    token: str
    session: _Session
    form: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    body: bytes
    content_type: str = _HTML
    location: str | None = None

    @classmethod
    def html(cls, status: int, text: str) -> _Response:
        return cls(status, text.encode("utf-8"))

    @classmethod
    def redirect(cls, location: str) -> _Response:
        # 303 turns the POST into a GET, so a reload never re-posts the form.
        return cls(303, b"", _TEXT, location)


class _BadRequest(RemoteProtocolError):
    """A request refused with 400 before any handler ran."""


Handler = Callable[[_Request], _Response]


@dataclass(frozen=True, slots=True)
class _Route:
    handler: Handler
    fields: tuple[str, ...] = ()  # a POST's form fields, exactly these


class DemoApp:
    """The ASGI application of the demo site, for one `DemoAccount`.

    `clock` gives Unix time for TOTP checks and sign-in records; tests may
    inject one. The application is stateful (sessions, sign-ins) and runs
    on one event loop; `signed_in` and `sign_ins` are safe from any thread.
    """

    def __init__(
        self, account: DemoAccount, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._account = account
        self._totp_key = Secret(
            decode_seed(account.totp_seed.reveal()), kind="totp_key"
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._sign_ins: deque[SignIn] = deque(maxlen=MAX_SIGN_INS)
        self._static = _load_static()
        both = ("username", "password")
        self._routes: dict[tuple[str, str], _Route] = {
            ("GET", "/"): _Route(lambda _: _Response.html(200, views.index())),
            ("GET", "/plain/"): _Route(self._show_plain),
            ("POST", "/plain/"): _Route(self._post_plain, both),
            ("GET", "/two-step/"): _Route(self._show_username_step),
            ("POST", "/two-step/"): _Route(self._post_username_step, ("username",)),
            ("GET", "/two-step/password"): _Route(self._show_password_step),
            ("POST", "/two-step/password"): _Route(
                self._post_password_step, ("password",)
            ),
            ("GET", "/iframe/"): _Route(self._show_iframe_host),
            ("GET", "/iframe/frame"): _Route(self._show_iframe_form),
            ("POST", "/iframe/frame"): _Route(self._post_iframe, both),
            ("GET", "/shadow-root/"): _Route(self._show_shadow),
            ("POST", "/shadow-root/"): _Route(self._post_shadow, both),
            ("GET", "/react/"): _Route(self._show_react),
            ("POST", "/react/api/login"): _Route(self._post_react, both),
            ("GET", "/totp/"): _Route(self._show_totp_login),
            ("POST", "/totp/"): _Route(self._post_totp_login, both),
            ("GET", "/totp/code"): _Route(self._show_code_step),
            ("POST", "/totp/code"): _Route(self._post_code_step, ("code",)),
        }
        self._paths = {path for _, path in self._routes}

    # --- what tests and the demo command read ------------------------------

    @property
    def sign_ins(self) -> tuple[SignIn, ...]:
        """Every recorded successful sign-in, oldest first."""
        with self._lock:
            return tuple(self._sign_ins)

    def signed_in(self, page: str, *, session: str | None = None) -> str | None:
        """The username that last signed in through the page named `page`.

        With `session` (a `SESSION_COOKIE` value, such as a Playwright
        context's cookie), only sign-ins from that browser session count.
        Returns None when nobody has; raises `UsageError` for an unknown
        page name.
        """
        demo_page(page)
        with self._lock:
            records = list(self._sign_ins)
        for record in reversed(records):
            if record.page != page:
                continue
            if session is None or hmac.compare_digest(
                record.session.reveal().encode(), session.encode()
            ):
                return record.username
        return None

    # --- ASGI -----------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request; other scope types are ignored."""
        if scope["type"] != "http":
            return
        method: str = scope["method"]
        path: str = scope["path"]

        # Route: static files first, then pages.
        if method == "GET" and path.startswith("/static/"):
            await _send(send, self._serve_static(path.removeprefix("/static/")))
            return
        route = self._routes.get((method, path))
        if route is None:
            await _send(send, self._unrouted(path))
            return

        token, session, is_new = self._session(scope)
        try:
            form: Mapping[str, str] = {}
            if method == "POST":
                body = await _read_body(scope, receive)
                form = _parse_form(scope, body, route.fields)
            response = route.handler(_Request(path, token, session, form))
        except _BadRequest as exc:
            _log("demo.request_refused", path=path, reason=exc.code)
            response = _Response(400, f"{exc.message}\n".encode(), _TEXT)
        cookie = _session_cookie(token) if is_new else None
        await _send(send, response, cookie=cookie)

    def _unrouted(self, path: str) -> _Response:
        if path in self._paths:
            return _Response(405, b"method not allowed\n", _TEXT)
        missing = views.message_page("Not found", "No such page.")
        return _Response.html(404, missing)

    def _serve_static(self, name: str) -> _Response:
        found = self._static.get(name)
        if found is None:
            return _Response(404, b"not found\n", _TEXT)
        content_type, data = found
        return _Response(200, data, content_type)

    def _session(self, scope: Scope) -> tuple[str, _Session, bool]:
        """The request's session and its token; a new one if none is known."""
        token = _cookie(scope, SESSION_COOKIE)
        with self._lock:
            if token is not None and token in self._sessions:
                self._sessions.move_to_end(token)
                return token, self._sessions[token], False
            token = secrets.token_urlsafe(24)
            session = self._sessions[token] = _Session()
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
            return token, session, True

    # --- checks -----------------------------------------------------------

    def _credentials_match(self, username: str, password: str) -> bool:
        # Compare both, always, with `&` rather than `and`, so the time taken
        # does not say which one was wrong.
        user_ok = hmac.compare_digest(
            username.encode(), self._account.username.encode()
        )
        password_ok = hmac.compare_digest(
            password.encode(), self._account.password.reveal().encode()
        )
        return user_ok & password_ok

    def _code_matches(self, code: str) -> bool:
        if not re.fullmatch(r"[0-9]{6}", code):
            return False
        return verify_totp(self._totp_key.reveal(), code, self._clock())

    def _record(self, page: DemoPage, request: _Request, username: str) -> None:
        record = SignIn(
            page=page.name,
            username=username,
            at=self._clock(),
            session=Secret(request.token, kind="session"),
        )
        with self._lock:
            self._sign_ins.append(record)
        # The username travels as a secret (the agent never learns it), so
        # the site's log, printed in the agent's process, leaves it out.
        _log("demo.signed_in", page=page.name)

    def _failed(self, page: DemoPage, reason: str) -> None:
        _log("demo.sign_in_failed", page=page.name, reason=reason)

    def _check_login(self, page: DemoPage, request: _Request) -> str | None:
        """The username if the form's credentials match, else None."""
        username = request.form["username"]
        if self._credentials_match(username, request.form["password"]):
            return username
        self._failed(page, "wrong_credentials")
        return None

    # --- plain form ---------------------------------------------------------

    def _show_plain(self, request: _Request) -> _Response:
        page = demo_page("plain")
        return _Response.html(200, views.login_form(page, page.path))

    def _post_plain(self, request: _Request) -> _Response:
        page = demo_page("plain")
        username = self._check_login(page, request)
        if username is None:
            form = views.login_form(page, page.path, error=WRONG_CREDENTIALS)
            return _Response.html(401, form)
        self._record(page, request, username)
        return _Response.html(200, views.signed_in(page, username))

    # --- username, then password ---------------------------------------------

    def _show_username_step(self, request: _Request) -> _Response:
        page = demo_page("two_step")
        return _Response.html(200, views.username_form(page, page.path))

    def _post_username_step(self, request: _Request) -> _Response:
        # Any username moves on to the password step, so this step does not
        # tell who has an account.
        page = demo_page("two_step")
        request.session.pending[page.name] = request.form["username"]
        return _Response.redirect(page.path + "password")

    def _show_password_step(self, request: _Request) -> _Response:
        page = demo_page("two_step")
        username = request.session.pending.get(page.name)
        if username is None:
            return _Response.redirect(page.path)
        form = views.password_form(page, page.path + "password", username)
        return _Response.html(200, form)

    def _post_password_step(self, request: _Request) -> _Response:
        page = demo_page("two_step")
        username = request.session.pending.get(page.name)
        if username is None:
            error = "Your sign-in expired. Enter your username again."
            return _Response.html(
                401, views.username_form(page, page.path, error=error)
            )
        if not self._credentials_match(username, request.form["password"]):
            self._failed(page, "wrong_credentials")
            form = views.password_form(
                page, page.path + "password", username, error=WRONG_CREDENTIALS
            )
            return _Response.html(401, form)
        del request.session.pending[page.name]
        self._record(page, request, username)
        return _Response.html(200, views.signed_in(page, username))

    # --- iframe -------------------------------------------------------------

    def _show_iframe_host(self, request: _Request) -> _Response:
        page = demo_page("iframe")
        return _Response.html(200, views.iframe_host(page, page.path + "frame"))

    def _show_iframe_form(self, request: _Request) -> _Response:
        page = demo_page("iframe")
        return _Response.html(200, views.iframe_form(page, page.path + "frame"))

    def _post_iframe(self, request: _Request) -> _Response:
        # The answer replaces the iframe's document, as an embedded widget's
        # would; the top page stays.
        page = demo_page("iframe")
        username = self._check_login(page, request)
        if username is None:
            action = page.path + "frame"
            form = views.iframe_form(page, action, error=WRONG_CREDENTIALS)
            return _Response.html(401, form)
        self._record(page, request, username)
        return _Response.html(200, views.signed_in(page, username, nav=False))

    # --- shadow root ----------------------------------------------------------

    def _show_shadow(self, request: _Request) -> _Response:
        return _Response.html(200, views.shadow_host(demo_page("shadow_root")))

    def _post_shadow(self, request: _Request) -> _Response:
        page = demo_page("shadow_root")
        username = self._check_login(page, request)
        if username is None:
            form = views.shadow_host(page, error=WRONG_CREDENTIALS)
            return _Response.html(401, form)
        self._record(page, request, username)
        return _Response.html(200, views.signed_in(page, username))

    # --- React ---------------------------------------------------------------

    def _show_react(self, request: _Request) -> _Response:
        return _Response.html(200, views.react_host(demo_page("react")))

    def _post_react(self, request: _Request) -> _Response:
        # The React page posts with fetch and renders the answer itself.
        page = demo_page("react")
        username = self._check_login(page, request)
        if username is None:
            return _json(401, {"error": WRONG_CREDENTIALS})
        self._record(page, request, username)
        return _json(200, {"username": username})

    # --- password, then one-time code --------------------------------------

    def _show_totp_login(self, request: _Request) -> _Response:
        page = demo_page("totp")
        return _Response.html(200, views.login_form(page, page.path))

    def _post_totp_login(self, request: _Request) -> _Response:
        page = demo_page("totp")
        username = self._check_login(page, request)
        if username is None:
            form = views.login_form(page, page.path, error=WRONG_CREDENTIALS)
            return _Response.html(401, form)
        request.session.pending[page.name] = username
        request.session.code_failures = 0
        return _Response.redirect(page.path + "code")

    def _show_code_step(self, request: _Request) -> _Response:
        page = demo_page("totp")
        username = request.session.pending.get(page.name)
        if username is None:
            return _Response.redirect(page.path)
        form = views.code_form(page, page.path + "code", username)
        return _Response.html(200, form)

    def _post_code_step(self, request: _Request) -> _Response:
        page = demo_page("totp")
        session = request.session
        username = session.pending.get(page.name)
        if username is None:
            error = "Your sign-in expired. Enter your password again."
            form = views.login_form(page, page.path, error=error)
            return _Response.html(401, form)
        if not self._code_matches(request.form["code"]):
            self._failed(page, "wrong_code")
            session.code_failures += 1
            if session.code_failures >= MAX_CODE_FAILURES:
                del session.pending[page.name]
                error = "Too many wrong codes. Sign in again."
                form = views.login_form(page, page.path, error=error)
                return _Response.html(401, form)
            action = page.path + "code"
            form = views.code_form(page, action, username, error=WRONG_CODE)
            return _Response.html(401, form)
        del session.pending[page.name]
        self._record(page, request, username)
        return _Response.html(200, views.signed_in(page, username))


# --- helpers without state ------------------------------------------------


def _log(event: str, **fields: Any) -> None:
    # Fetched per event, so `configure_logging` after import still applies.
    get_logger(__name__).info(event, **fields)


def _load_static() -> dict[str, tuple[str, bytes]]:
    """Every static file, read once; a missing one is a broken install."""
    folder = files("blindfill.demo").joinpath("static")
    return {
        name: (content_type, folder.joinpath(name).read_bytes())
        for name, content_type in _STATIC_TYPES.items()
    }


def _header(scope: Scope, name: bytes) -> list[bytes]:
    return [value for key, value in scope["headers"] if key.lower() == name]


def _cookie(scope: Scope, name: str) -> str | None:
    """The value of cookie `name` if it looks like one of our tokens."""
    for header in _header(scope, b"cookie"):
        for pair in header.decode("latin-1").split(";"):
            key, _, value = pair.strip().partition("=")
            if key == name and _TOKEN.fullmatch(value):
                return value
    return None


def _session_cookie(token: str) -> bytes:
    attributes = "Path=/; HttpOnly; SameSite=Strict"
    return f"{SESSION_COOKIE}={token}; {attributes}".encode()


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    """The request body, refused with `_BadRequest` past `MAX_BODY_BYTES`.

    A declared Content-Length is checked before reading anything; a body
    without one (chunked) is counted as it arrives.
    """
    declared = _header(scope, b"content-length")
    if declared:
        if len(declared) > 1 or not declared[0].isdigit():
            raise _BadRequest("malformed Content-Length", code="bad_length")
        if int(declared[0]) > MAX_BODY_BYTES:
            raise _BadRequest(
                f"request body too large (at most {MAX_BODY_BYTES} bytes)",
                code="body_too_large",
            )
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _BadRequest("client went away mid-body", code="disconnected")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _BadRequest(
                f"request body too large (at most {MAX_BODY_BYTES} bytes)",
                code="body_too_large",
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse_form(scope: Scope, body: bytes, expected: tuple[str, ...]) -> dict[str, str]:
    """The form fields of a urlencoded body: exactly `expected`, once each.

    Raises `_BadRequest` for another content type, bytes that are not
    ASCII, bad percent-escapes or UTF-8, missing, repeated or unknown
    fields, and values longer than `MAX_FIELD_CHARS`.
    """
    content_types = _header(scope, b"content-type")
    if len(content_types) != 1 or not _FORM_TYPE.fullmatch(
        content_types[0].decode("latin-1")
    ):
        raise _BadRequest(
            "expected one Content-Type: application/x-www-form-urlencoded",
            code="bad_content_type",
        )
    try:
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=len(expected),
        )
    except ValueError:  # includes UnicodeDecodeError
        raise _BadRequest("malformed form body", code="bad_form") from None

    form: dict[str, str] = {}
    for name, value in pairs:
        if name not in expected or name in form:
            raise _BadRequest(
                f"unexpected or repeated form field {name[:32]!r}",
                code="bad_form",
            )
        if len(value) > MAX_FIELD_CHARS:
            raise _BadRequest(
                f"form field {name!r} longer than {MAX_FIELD_CHARS} characters",
                code="field_too_long",
            )
        form[name] = value
    missing = [name for name in expected if name not in form]
    if missing:
        raise _BadRequest(
            f"missing form field(s): {', '.join(missing)}", code="bad_form"
        )
    return form


def _json(status: int, payload: Mapping[str, str]) -> _Response:
    return _Response(status, json.dumps(payload).encode(), _JSON)


async def _send(
    send: Send, response: _Response, *, cookie: bytes | None = None
) -> None:
    headers = [
        (b"content-type", response.content_type.encode()),
        (b"content-length", str(len(response.body)).encode()),
        (b"cache-control", b"no-store"),
        *_SECURITY_HEADERS,
    ]
    if response.location is not None:
        headers.append((b"location", response.location.encode()))
    if cookie is not None:
        headers.append((b"set-cookie", cookie))
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})
