"""`blindfill detect`: show the sign-in forms blindfill finds on pages.

One browser serves every target. A target is an http(s) URL or a local HTML
file; files are served from a loopback HTTP server so each has a real origin,
and every request a file's page makes elsewhere is aborted. With `--json`
each target gives one line (a stable contract for evaluation tools):

    {"target": T, "url": U, "forms": [FORM...], "best": FORM | null}

with FORM = {"kind", "origin", "frame": [frame URLs from the top],
"fields": [{"role", "input_index", "selector"}]}. A target that cannot be
examined gives {"target": T, "url": U | null, "error": {"code", "message"}}
instead, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blindfill.errors import BlindfillError, ExitStatus

if TYPE_CHECKING:
    from playwright.async_api import Browser

    from blindfill.agent.forms import DetectedForm
    from blindfill.agent.localserve import LocalPages

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the `detect` command."""
    parser = subparsers.add_parser(
        "detect",
        help="list the sign-in forms found on pages (URLs or local HTML files)",
        description=(
            "Open each target in one headless Chromium and show the forms "
            "the shim finds, and the one a sign-in would fill."
        ),
    )
    parser.add_argument(
        "targets", nargs="+", metavar="TARGET", help="http(s) URL or HTML file"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object per target"
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="when no form shows after loading, wait this long for one (default 1)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="give up loading a target after this long (default 20)",
    )
    parser.set_defaults(handler=_handle)


@dataclass(frozen=True, slots=True)
class _Target:
    """One command-line target: what the user typed and the URL to load."""

    given: str
    url: str | None
    error: BlindfillError | None = None


def _handle(args: argparse.Namespace) -> int:
    # Written so that "nan" fails too; "inf" would wait or load forever.
    if not (0 <= args.wait < math.inf and 0 < args.timeout < math.inf):
        from blindfill.errors import UsageError

        raise UsageError("--wait must be >= 0 and --timeout > 0, both finite")
    return asyncio.run(
        _run(args.targets, as_json=args.json, wait=args.wait, load_seconds=args.timeout)
    )


def _resolve(given: str, pages: LocalPages) -> _Target:
    """The URL for a target: itself if http(s), else a served local file."""
    from blindfill.errors import InvalidInputError

    lowered = given.lower()
    if lowered.startswith(("http://", "https://")):
        return _Target(given, given)
    if "://" in given or lowered.startswith(("data:", "javascript:", "blob:")):
        return _Target(
            given,
            None,
            InvalidInputError(
                "only http(s) URLs and local files can be examined",
                code="unsupported_target",
            ),
        )
    try:
        return _Target(given, pages.add(Path(given)))
    except BlindfillError as exc:
        return _Target(given, None, exc)


async def _run(
    targets: list[str], *, as_json: bool, wait: float, load_seconds: float
) -> int:
    from blindfill.agent.client import launch_browser
    from blindfill.agent.localserve import LocalPages

    failures = 0
    with LocalPages() as pages:
        resolved = [_resolve(given, pages) for given in targets]
        async with launch_browser() as browser:
            for target in resolved:
                record = await _examine(browser, target, pages, wait, load_seconds)
                failures += "error" in record
                _print(record, as_json=as_json)
    return ExitStatus.FAILED if failures else ExitStatus.OK


async def _examine(
    browser: Browser,
    target: _Target,
    pages: LocalPages,
    wait: float,
    load_seconds: float,
) -> dict[str, Any]:
    """Load one target in a fresh context and describe its forms."""
    from playwright.async_api import Error as PlaywrightError

    from blindfill.agent.forms import best_form
    from blindfill.agent.localserve import block_outside
    from blindfill.agent.session import ShimSession

    if target.error is not None or target.url is None:
        assert target.error is not None
        return _error_record(target, target.error)
    context = await browser.new_context()
    try:
        if target.url.startswith(pages.origin + "/"):
            await block_outside(context, pages.origin)
        page = await context.new_page()
        session = await ShimSession.attach(page)
        try:
            await page.goto(target.url, wait_until="load", timeout=load_seconds * 1000)
        except PlaywrightError as exc:
            from blindfill.errors import BrowserError

            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return _error_record(
                target,
                BrowserError(
                    f"could not load {target.url}: {message}", code="load_failed"
                ),
            )
        forms = await session.detect()
        if not forms and wait > 0:
            forms = await session.wait_for_forms(wait)
        best = best_form(forms)
        return {
            "target": target.given,
            "url": page.url,
            "forms": [_form_json(form) for form in forms],
            "best": _form_json(best) if best is not None else None,
        }
    except BlindfillError as exc:
        return _error_record(target, exc)
    finally:
        await context.close()


def _form_json(form: DetectedForm) -> dict[str, Any]:
    return {
        "kind": form.kind.value,
        "origin": form.origin,
        "frame": [ref.url for ref in form.frame_chain],
        "fields": [
            {
                "role": field.role.value,
                "input_index": field.input_index,
                "selector": field.selector,
            }
            for field in form.fields
        ],
    }


def _error_record(target: _Target, exc: BlindfillError) -> dict[str, Any]:
    return {
        "target": target.given,
        "url": target.url,
        "error": {"code": exc.code, "message": str(exc)},
    }


def _print(record: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(record, ensure_ascii=False), flush=True)
        return
    print(record["target"])
    if "error" in record:
        error = record["error"]
        print(f"  error [{error['code']}]: {error['message']}", file=sys.stderr)
        return
    if not record["forms"]:
        print("  no sign-in form found")
    for form in record["forms"]:
        marker = "*" if form == record["best"] else " "
        roles = ", ".join(
            f"{field['role']}={field['selector']}" for field in form["fields"]
        )
        frames = " > ".join(form["frame"]) if len(form["frame"]) > 1 else "top frame"
        print(f" {marker}{form['kind']:<14} {form['origin']}  [{frames}]")
        print(f"    {roles}")
