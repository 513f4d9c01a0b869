"""`blindfill demo`: every part of blindfill, end to end, on one machine.

The demo starts the demo login site on 127.0.0.1 with a fresh random
account, an approver over a throwaway vault holding that account and a
policy that grants it to the demo agent, pairs a browser side with it, and
launches the system Chromium. It then signs in to every demo page, each in
a fresh browser context, and shows what happened: one row per page, then
the approver's audit trail. Everything lives in a temporary directory that
is removed when the demo ends.

What is printed is what the agent and the person at the approver would
see: statuses, form steps, field names, origins and decisions. The
throwaway password and TOTP seed stay in the vault and the site; no output
shows them.

A page counts as signed in only when blindfill reports `signed_in` and the
demo site agrees that this browser context's session belongs to the demo
user. The exit status is 0 when every page counts, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from blindfill.demo.account import random_account
from blindfill.demo.pages import DEMO_PAGES, DemoPage
from blindfill.errors import BlindfillError, ExitStatus

if TYPE_CHECKING:
    from playwright.async_api import Browser

    from blindfill.demo import DemoAccount, DemoSite
    from blindfill.embedded import Embedded

__all__ = [
    "AGENT_NAME",
    "AuditRow",
    "DemoReport",
    "PageOutcome",
    "register",
    "render_report",
    "run_demo",
]

AGENT_NAME: Final = "blindfill-demo"
ITEM_TITLE: Final = "Demo site"
_ERROR: Final = "error"  # a page that could not be driven at all


@dataclass(frozen=True, slots=True)
class PageOutcome:
    """How the sign-in to one demo page went. Holds no value.

    `status` is a `SignInStatus` value, or "error" when the page could not
    be loaded or driven (`detail` then names the error code). `confirmed`
    says whether the demo site saw this browser context signed in as the
    demo user.
    """

    name: str
    title: str
    status: str
    steps: tuple[str, ...]
    fields_filled: tuple[str, ...]
    seconds: float
    confirmed: bool
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "signed_in" and self.confirmed


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One approver decision, as the demo shows it. Never holds a secret."""

    time: str
    origin: str
    item: str | None
    fields: tuple[str, ...]
    decision: str
    decided_by: str


@dataclass(frozen=True, slots=True)
class DemoReport:
    """Everything one demo run found."""

    site: str
    pages: tuple[PageOutcome, ...]
    audit: tuple[AuditRow, ...]
    audit_intact: bool

    @property
    def ok(self) -> bool:
        """True when there were pages and every one of them signed in."""
        return bool(self.pages) and all(page.ok for page in self.pages)


def register(subparsers: Any) -> None:
    """Add `blindfill demo` to the command line."""
    parser = subparsers.add_parser(
        "demo",
        help="sign in to the built-in demo site, end to end, on this machine",
        description=(
            "Start the demo login site on 127.0.0.1, an approver with a "
            "throwaway vault and a policy that approves the demo account, "
            "pair a browser side with it and sign in to every demo page in "
            "the system Chromium. Prints one row per page and the audit "
            "trail; exit status 0 only if every page signed in. Nothing is "
            "kept afterwards and no password or code is ever printed."
        ),
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead"
    )
    parser.add_argument(
        "--headed",
        action="store_true",
        help="show the browser window (needs a display)",
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    if not args.json:
        print("Signing in to every demo page...", file=sys.stderr, flush=True)
    report = asyncio.run(run_demo(headed=args.headed, pages=DEMO_PAGES))
    print(render_report(report, as_json=args.json))
    return ExitStatus.OK if report.ok else ExitStatus.FAILED


async def run_demo(
    *,
    headed: bool = False,
    account: DemoAccount | None = None,
    pages: Sequence[DemoPage] = DEMO_PAGES,
) -> DemoReport:
    """Run the demo over `pages` and return what happened.

    `account` defaults to a fresh random one. The site, the approver and
    the browser are stopped and the temporary directory removed before
    this returns. Raises `BrowserError` if Chromium cannot be launched;
    a page that fails on its own becomes a row, not an exception.
    """
    from blindfill.agent.client import launch_browser
    from blindfill.approver.audit import verify_log
    from blindfill.demo import DemoSite
    from blindfill.embedded import embedded, policy_for

    account = account if account is not None else random_account()
    with tempfile.TemporaryDirectory(prefix="blindfill-demo-") as tmp:
        async with (
            DemoSite(account) as site,
            launch_browser(headless=not headed) as browser,
        ):
            async with embedded(
                [site.vault_item(title=ITEM_TITLE)],
                workdir=Path(tmp) / "embedded",
                policy=policy_for(AGENT_NAME, [site.base_url], rule_name="demo"),
                agent_name=AGENT_NAME,
            ) as running:
                outcomes = [
                    await _sign_in_to(browser, site, running, page) for page in pages
                ]
            audit = _audit_rows(running)
            intact = verify_log(running.audit_path).ok if audit else True
            return DemoReport(site.base_url, tuple(outcomes), audit, intact)


async def _sign_in_to(
    browser: Browser, site: DemoSite, running: Embedded, page: DemoPage
) -> PageOutcome:
    """Sign in to one demo page in a browser context of its own."""
    from playwright.async_api import Error as PlaywrightError

    from blindfill.demo import SESSION_COOKIE

    started = time.perf_counter()
    context = await browser.new_context()
    try:
        tab = await context.new_page()
        await tab.goto(site.url(page))
        result = await running.blindfill.sign_in(tab, reason=f"demo: {page.title}")
        cookies = await context.cookies()
    except (BlindfillError, PlaywrightError) as exc:
        code = exc.code if isinstance(exc, BlindfillError) else "browser_failed"
        return PageOutcome(
            page.name,
            page.title,
            _ERROR,
            (),
            (),
            time.perf_counter() - started,
            confirmed=False,
            detail=code,
        )
    finally:
        await context.close()

    session = next((c["value"] for c in cookies if c["name"] == SESSION_COOKIE), None)
    try:
        who = site.signed_in(page.name, session=session)
    except BlindfillError:  # a page the site does not know signs no one in
        who = None
    return PageOutcome(
        page.name,
        page.title,
        result.status.value,
        tuple(step.kind for step in result.steps),
        result.fields_filled,
        time.perf_counter() - started,
        confirmed=who == site.account.username,
        detail=result.detail,
    )


def _audit_rows(running: Embedded) -> tuple[AuditRow, ...]:
    from blindfill.approver.audit import read_records

    if not running.audit_path.exists():
        return ()
    rows = []
    for entry in read_records(running.audit_path):
        record = entry.record
        if record is None:
            continue
        item = record.get("item") or {}
        rows.append(
            AuditRow(
                time=str(record.get("time", "")),
                origin=str(record.get("origin", "")),
                item=item.get("title"),
                fields=tuple(str(f) for f in record.get("fields") or ()),
                decision=str(record.get("decision", "")),
                decided_by=str(record.get("decided_by", "")),
            )
        )
    return tuple(rows)


# --- output ---------------------------------------------------------------


def render_report(report: DemoReport, *, as_json: bool = False) -> str:
    """The report as the command prints it: tables, or one JSON object."""
    if as_json:
        return json.dumps(_report_json(report), ensure_ascii=False)

    done = sum(page.ok for page in report.pages)
    lines = [
        f"Demo site {report.site}: signed in to {done} of {len(report.pages)} pages.",
        "",
    ]
    lines += _table(
        ("page", "steps", "fields filled", "status", "time"),
        [
            (
                page.name,
                " > ".join(page.steps) or "-",
                ", ".join(page.fields_filled) or "-",
                _status_text(page),
                f"{page.seconds:.1f} s",
            )
            for page in report.pages
        ],
    )
    chain = "hash chain intact" if report.audit_intact else "hash chain BROKEN"
    lines += ["", f"Audit trail ({len(report.audit)} decisions, {chain}):", ""]
    lines += _table(
        ("time", "origin", "item", "fields", "decision", "decided by"),
        [
            (
                row.time,
                row.origin,
                row.item or "-",
                ", ".join(row.fields) or "-",
                row.decision,
                _short_decider(row.decided_by),
            )
            for row in report.audit
        ],
    )
    return "\n".join(lines)


def _status_text(page: PageOutcome) -> str:
    text = page.status
    if page.detail:
        text += f" ({page.detail})"
    if page.status == "signed_in" and not page.confirmed:
        text += " (the site disagrees)"
    return text


def _short_decider(decided_by: str) -> str:
    # A continuation names the request that began the sign-in by its full
    # id; eight digits tell the rows apart in a table.
    kind, _, request_id = decided_by.partition(":")
    if kind == "continuation" and len(request_id) > 8:
        return f"{kind}:{request_id[:8]}"
    return decided_by


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    from blindfill.approver.text import clean_text

    cells = [list(header)] + [[clean_text(c, limit=80) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        "  ".join(
            cell.ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in cells
    ]


def _report_json(report: DemoReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "site": report.site,
        "pages": [asdict(page) | {"ok": page.ok} for page in report.pages],
        "audit": {
            "intact": report.audit_intact,
            "records": [asdict(row) for row in report.audit],
        },
    }
