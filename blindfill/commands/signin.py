"""`blindfill sign-in URL --reason TEXT`: sign a browser in from the shell.

The command launches the system Chromium (or, with `--cdp`, attaches to a
Chromium that runs already and takes its first page), opens URL and runs
`Blindfill.sign_in` with the pairing saved by `blindfill pair`. It prints
how the sign-in ended, the fields filled, the origin and the steps; never
a value. The exit status says how it ended (see `EXIT_STATUS_HELP`), so a
script can branch on it without parsing the output.

Checks happen in the order that fails fastest and changes nothing: the
URL and flags first (usage errors, status 2), then whether this side is
paired (status 3), and only then the browser is started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from blindfill.agent.link import APPROVER_URL_ENV, RESPONSE_TIMEOUT_S, SLOW_AFTER_S
from blindfill.agent.signin import SignInResult, SignInStatus
from blindfill.errors import (
    BlindfillError,
    BrowserError,
    ExitStatus,
    TimeoutFault,
    UsageError,
)

if TYPE_CHECKING:
    from playwright.async_api import Page

__all__ = ["EXIT_STATUS_HELP", "STATUS_EXIT", "check_page_url", "register"]

MAX_URL_CHARS: Final = 8192
# How long an approval may take before the command says so (a variable so
# that tests need not wait ten seconds).
slow_after_s: float = SLOW_AFTER_S

STATUS_EXIT: Final[dict[SignInStatus, int]] = {
    SignInStatus.SIGNED_IN: ExitStatus.OK,
    SignInStatus.FILLED: ExitStatus.OK,
    SignInStatus.DECLINED: ExitStatus.FAILED,
    SignInStatus.NO_LOGIN_FORM: ExitStatus.FAILED,
    SignInStatus.ORIGIN_CHANGED: ExitStatus.FAILED,
    SignInStatus.REFUSED: ExitStatus.FAILED,
    SignInStatus.RATE_LIMITED: ExitStatus.FAILED,
    SignInStatus.UNPAIRED: ExitStatus.REMOTE,
    SignInStatus.APPROVER_UNREACHABLE: ExitStatus.ENVIRONMENT,
    SignInStatus.TIMEOUT: ExitStatus.ENVIRONMENT,
}

EXIT_STATUS_HELP: Final = """\
exit statuses:
  0  signed_in, or filled (with --no-submit, or the site showed the form again)
  1  declined, no_login_form, origin_changed, refused or rate_limited
  2  usage error: a bad URL, flag or value; no approver URL known
  3  unpaired: this browser side is not (or no longer) paired
  4  approver_unreachable or timeout; or the browser or the page failed
  130  interrupted
"""

# What to do next, on stderr, for every outcome that is not a success.
_HINTS: Final[dict[SignInStatus, str]] = {
    SignInStatus.DECLINED: (
        "the approver declined: a person said no, no policy rule granted it, "
        "or no vault item matches this origin"
    ),
    SignInStatus.NO_LOGIN_FORM: "no login form showed on the page",
    SignInStatus.ORIGIN_CHANGED: "the page navigated away before the fill",
    SignInStatus.REFUSED: "a safety check stopped the fill (see detail)",
    SignInStatus.RATE_LIMITED: "the approver asks to slow down; try later",
    SignInStatus.UNPAIRED: (
        "the approver does not know this browser side; pair again with `blindfill pair`"
    ),
    SignInStatus.APPROVER_UNREACHABLE: (
        "could not reach the approver; check that it runs and the URL (--approver)"
    ),
    SignInStatus.TIMEOUT: (
        "the approver did not answer in time; it may be locked, or the person away"
    ),
}

SLOW_NOTICE: Final = (
    "blindfill: approval is taking longer than expected; the approver may be "
    "locked, or the person has not answered yet"
)


def register(subparsers: Any) -> None:
    """Add `blindfill sign-in` to the command line."""
    parser = subparsers.add_parser(
        "sign-in",
        help="open a URL in Chromium and sign in with the approver's credential",
        description=(
            "Open URL in the system Chromium (or a running one, with --cdp)\n"
            "and sign in: the approver paired with `blindfill pair` is asked\n"
            "for each form step, and only the credential it sends is filled.\n"
            "Prints the outcome; never a password or code."
        ),
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", metavar="URL", help="the http(s) page to sign in on")
    parser.add_argument(
        "--reason",
        required=True,
        metavar="TEXT",
        help="why the agent signs in; shown on the approver, marked unverified",
    )
    parser.add_argument(
        "--no-submit",
        action="store_true",
        help="fill the first form step and stop, without submitting it",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--cdp",
        metavar="ENDPOINT",
        help=(
            "attach to a running Chromium over CDP (http://host:9222) and use "
            "its first page instead of launching one"
        ),
    )
    where.add_argument(
        "--headed", action="store_true", help="show the launched browser's window"
    )
    parser.add_argument(
        "--approver",
        metavar="URL",
        help=(
            f"the approver's URL (default: ${APPROVER_URL_ENV}, then the one "
            "saved by `blindfill pair`)"
        ),
    )
    parser.add_argument(
        "--state",
        type=Path,
        metavar="PATH",
        help="browser-side pairing state (default: the one `blindfill pair` saved)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=RESPONSE_TIMEOUT_S,
        metavar="S",
        help=(
            "seconds to wait for the page to load, and for the approver to "
            f"answer each step (default {RESPONSE_TIMEOUT_S:g})"
        ),
    )
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="PATH",
        help="save a PNG of the page afterwards, every input field masked",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead"
    )
    parser.set_defaults(handler=_handle)


def check_page_url(url: str) -> str:
    """`url` itself if it is an http(s) URL with a host; else `UsageError`.

    URLs with a user name or password in them are refused without being
    echoed: a credential has no place on a command line.
    """
    if len(url) > MAX_URL_CHARS or any(ord(c) < 0x21 or c == "\x7f" for c in url):
        raise UsageError(
            "the URL is too long or contains spaces or control characters",
            code="bad_url",
            hint="quote it, and percent-encode spaces",
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (parsing the port is the check)
    except ValueError as exc:
        raise UsageError(f"{url!r} is not a valid URL: {exc}", code="bad_url") from None
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            "the URL carries a user name or password",
            code="bad_url",
            hint="give the login page's URL alone; the approver holds the credential",
        )
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"{url!r} is not an http(s) URL with a host",
            code="bad_url",
            hint="give it as https://example.com/login",
        )
    return url


def _check_cdp_endpoint(endpoint: str) -> str:
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https", "ws", "wss"):
        raise UsageError(
            f"{endpoint!r} is not a CDP endpoint",
            code="bad_cdp_endpoint",
            hint="give it as http://127.0.0.1:9222",
        )
    if not parts.hostname:
        raise UsageError(f"{endpoint!r} has no host", code="bad_cdp_endpoint")
    return endpoint


def _check_args(args: argparse.Namespace) -> None:
    from blindfill.channel._messages import MAX_REASON_CHARS, check_display_text

    check_page_url(args.url)
    if args.cdp is not None:
        _check_cdp_endpoint(args.cdp)
    if not args.reason.strip():
        raise UsageError("--reason must not be empty", hint="say why you sign in")
    try:
        check_display_text(args.reason, "--reason", max_chars=MAX_REASON_CHARS)
    except BlindfillError as exc:
        raise UsageError(exc.message, code="bad_reason") from None
    if not 0 < args.timeout <= 3600:
        raise UsageError("--timeout must be more than 0 and at most 3600 seconds")
    shot: Path | None = args.screenshot
    if shot is not None and not shot.parent.resolve().is_dir():
        raise UsageError(f"cannot save a screenshot in {shot.parent}: no directory")


def _handle(args: argparse.Namespace) -> int:
    _check_args(args)
    result, record = asyncio.run(_run(args))
    status = STATUS_EXIT[result.status]
    record["exit_status"] = status
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
    else:
        print(_describe(result))
    hint = _HINTS.get(result.status)
    if hint is not None:
        print(f"blindfill: {result.status.value}: {hint}", file=sys.stderr)
    return status


async def _run(args: argparse.Namespace) -> tuple[SignInResult, dict[str, Any]]:
    from blindfill.agent.client import Blindfill

    def slow() -> None:
        print(SLOW_NOTICE, file=sys.stderr, flush=True)

    async with contextlib.AsyncExitStack() as stack:
        bf = Blindfill.connect(
            args.approver,
            state_path=args.state,
            on_slow=slow,
            slow_after=slow_after_s,
            response_timeout=args.timeout,
        )
        stack.push_async_callback(bf.aclose)
        bf.link.paired_state()  # unpaired: fail before starting a browser

        page = await stack.enter_async_context(_page(args))
        try:
            await _load(page, args.url, args.timeout)
            result = await bf.sign_in(
                page, reason=args.reason, submit=not args.no_submit
            )
        finally:
            await bf.aclose()  # detach the shim while the browser is there
        if args.screenshot is not None:
            await _screenshot(page, args.screenshot)
    return result, _result_json(result)


@contextlib.asynccontextmanager
async def _page(args: argparse.Namespace) -> AsyncIterator[Page]:
    """The page to sign in on: a fresh one, or the first of a CDP browser."""
    from blindfill.agent.client import connect_browser, launch_browser

    if args.cdp is not None:
        async with connect_browser(await _by_address(args.cdp)) as browser:
            contexts = browser.contexts
            context = contexts[0] if contexts else await browser.new_context()
            pages = context.pages
            yield pages[0] if pages else await context.new_page()
        return
    async with launch_browser(headless=not args.headed) as browser:
        context = await browser.new_context()
        yield await context.new_page()


async def _by_address(endpoint: str) -> str:
    """`endpoint` with its host name replaced by the address it resolves to.

    Chromium's DevTools server answers only requests whose Host header is
    an IP address or `localhost` (a guard against DNS rebinding by web
    pages), so `http://browser:9222` from a sidecar container would be
    refused however reachable the browser is. Resolving the name here, in
    a process no web page controls, lets container and host names work.
    Raises `BrowserError` when the name does not resolve.
    """
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if host == "localhost" or _is_address(host):
        return endpoint
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise BrowserError(
            f"cannot resolve the CDP host {host!r}",
            code="cdp_unreachable",
            hint="check the browser's host name, or give its IP address",
        ) from exc
    address = str(found[0][4][0])
    netloc = f"[{address}]" if ":" in address else address
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _load(page: Page, url: str, load_seconds: float) -> None:
    """Open `url`; raise `BrowserError` or `TimeoutFault` if it will not load."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    try:
        await page.goto(url, wait_until="load", timeout=load_seconds * 1000)
    except PlaywrightTimeout:
        raise TimeoutFault(
            f"{url} did not load within {load_seconds:g} seconds",
            code="load_timeout",
            hint="check that the site is up, or raise --timeout",
        ) from None
    except PlaywrightError as exc:
        reason = _first_line(str(exc))
        raise BrowserError(
            f"could not load {url}: {reason}",
            code="load_failed",
            hint="check the URL and that the site answers from this machine",
        ) from None


async def _screenshot(page: Page, path: Path) -> None:
    """Save a PNG of `page` with every input masked, mode 0600.

    Filled values (a username, a one-time code that was not submitted)
    must not end up in a picture, so every input, text area and editable
    element in every frame is painted over. A failure is reported on
    stderr; it does not change the sign-in's outcome.
    """
    from playwright.async_api import Error as PlaywrightError

    from blindfill.storage import write_atomic

    masked = "input, textarea, select, [contenteditable]"
    try:
        image = await page.screenshot(
            mask=[frame.locator(masked) for frame in page.frames], type="png"
        )
        write_atomic(path, image)
    except PlaywrightError as exc:
        print(
            f"blindfill: could not take the screenshot: {_first_line(str(exc))}",
            file=sys.stderr,
        )
    except BlindfillError as exc:
        print(f"blindfill: could not save the screenshot: {exc}", file=sys.stderr)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:300] if lines else "unknown error"


# --- output ---------------------------------------------------------------


def _result_json(result: SignInResult) -> dict[str, Any]:
    return {
        "status": result.status.value,
        "ok": result.ok,
        "origin": result.origin,
        "fields_filled": list(result.fields_filled),
        "submitted": result.submitted,
        "detail": result.detail,
        "steps": [
            {
                "kind": step.kind,
                "origin": step.origin,
                "fields_filled": list(step.fields_filled),
                "submitted": step.submitted,
            }
            for step in result.steps
        ],
    }


def _describe(result: SignInResult) -> str:
    lines = [
        f"status         {result.status.value}",
        f"origin         {result.origin or '-'}",
        f"fields filled  {', '.join(result.fields_filled) or '-'}",
        f"submitted      {'yes' if result.submitted else 'no'}",
    ]
    if result.detail:
        lines.append(f"detail         {result.detail}")
    for number, step in enumerate(result.steps, start=1):
        label = "steps" if number == 1 else ""
        fields = ", ".join(step.fields_filled) or "nothing filled"
        sent = "submitted" if step.submitted else "not submitted"
        lines.append(f"{label:<15}{number}. {step.kind} ({fields}), {sent}")
    if not result.steps:
        lines.append("steps          none")
    return "\n".join(lines)
