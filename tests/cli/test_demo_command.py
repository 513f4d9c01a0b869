"""`blindfill demo`: the whole system on one machine, as `make demo` runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from blindfill.cli import main
from blindfill.commands import demo as demo_command
from blindfill.commands.demo import AuditRow, DemoReport, PageOutcome, render_report
from blindfill.demo import DEMO_PAGES, DemoAccount, DemoPage, Step
from blindfill.errors import ExitStatus
from tests.cli.conftest import secrets_of


@pytest.mark.browser
@pytest.mark.slow
def test_demo_signs_in_to_every_page_and_shows_the_audit_trail() -> None:
    """The command exits 0 with a signed_in row per page and the audit trail."""
    proc = subprocess.run(
        [sys.executable, "-m", "blindfill", "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert proc.returncode == ExitStatus.OK, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert f"signed in to {len(DEMO_PAGES)} of {len(DEMO_PAGES)} pages" in lines[0]
    for page in DEMO_PAGES:
        row = next(line for line in lines if line.startswith(page.name + " "))
        assert " signed_in " in row
        assert " > ".join(step.value for step in page.steps) in row
    assert any(line.startswith("Audit trail (") for line in lines)
    assert "hash chain intact" in proc.stdout
    header = next(line for line in lines if line.startswith("time "))
    for column in ("origin", "item", "fields", "decision", "decided by"):
        assert column in header
    granted = [line for line in lines if " granted " in line]
    # At least one decision per page, each naming the item, never a value.
    assert len(granted) >= len(DEMO_PAGES)
    assert all("Demo site" in line for line in granted)
    assert "Traceback" not in proc.stderr


@pytest.mark.browser
@pytest.mark.slow
def test_demo_json_names_no_secret(
    account: DemoAccount,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--json prints one object; no password, seed or code in any output,
    debug logs included."""
    monkeypatch.setattr(demo_command, "random_account", lambda: account)

    status = main(["--log-level", "debug", "demo", "--json"])

    out, err = capsys.readouterr()
    assert status == ExitStatus.OK, err
    report = json.loads(out)
    assert report["ok"] is True
    assert [page["name"] for page in report["pages"]] == [p.name for p in DEMO_PAGES]
    for page, demo in zip(report["pages"], DEMO_PAGES, strict=True):
        assert page["status"] == "signed_in"
        assert page["confirmed"] is True
        assert page["steps"] == [step.value for step in demo.steps]
    records = report["audit"]["records"]
    assert report["audit"]["intact"] is True
    assert {record["decision"] for record in records} == {"granted"}
    assert {record["item"] for record in records} == {"Demo site"}
    assert {record["origin"] for record in records} == {report["site"]}
    for secret in secrets_of(account):
        assert secret not in out
        assert secret not in err
    code = account.one_time_code().reveal()
    assert not re.search(rf"(?<![\d.]){code}(?!\d)", out)


@pytest.mark.browser
def test_demo_exits_1_when_a_page_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A page without a login form makes the run fail with exit status 1."""
    missing = DemoPage(
        name="missing",
        path="/missing/",
        title="A page the site does not serve",
        description="Nothing to sign in to.",
        steps=(Step.LOGIN,),
    )
    monkeypatch.setattr(demo_command, "DEMO_PAGES", (missing,))

    status = main(["demo"])

    out = capsys.readouterr().out
    assert status == ExitStatus.FAILED
    assert "signed in to 0 of 1 pages" in out
    row = next(line for line in out.splitlines() if line.startswith("missing "))
    assert "no_login_form" in row


def test_failed_rows_say_why() -> None:
    """Errors and sign-ins the site did not see are marked, and not ok."""
    report = DemoReport(
        site="http://127.0.0.1:1",
        pages=(
            PageOutcome("plain", "Plain", "error", (), (), 0.1, False, "load_failed"),
            PageOutcome(
                "react",
                "React",
                "signed_in",
                ("login",),
                ("username", "password"),
                1.0,
                confirmed=False,
            ),
        ),
        audit=(
            AuditRow(
                "2026-01-01T00:00:00.000Z",
                "http://127.0.0.1:1",
                "Demo site",
                ("username", "password"),
                "granted",
                "continuation:" + "ab" * 16,
            ),
        ),
        audit_intact=False,
    )

    text = render_report(report)
    document = json.loads(render_report(report, as_json=True))

    assert not report.ok
    assert "signed in to 0 of 2 pages" in text
    assert "error (load_failed)" in text
    assert "signed_in (the site disagrees)" in text
    assert "hash chain BROKEN" in text
    assert "continuation:abababab " in text + " "
    assert document["ok"] is False
    assert [page["ok"] for page in document["pages"]] == [False, False]
    assert document["audit"]["records"][0]["decided_by"].endswith("ab" * 16)


def test_demo_help(capsys: pytest.CaptureFixture[str]) -> None:
    """--help describes the demo and its flags."""
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--json" in out
    assert "--headed" in out
    assert "throwaway vault" in out


def test_demo_refuses_unknown_flags(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown flag is a usage error, exit 2."""
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--fast"])
    assert exc.value.code == ExitStatus.USAGE
    assert "unrecognized arguments: --fast" in capsys.readouterr().err


def test_broken_browser_driver_is_one_clear_error() -> None:
    """A Playwright driver that cannot start: one error line, exit 4."""
    env = dict(os.environ, PLAYWRIGHT_NODEJS_PATH="/bin/false")
    proc = subprocess.run(
        [sys.executable, "-m", "blindfill", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )

    assert proc.returncode == ExitStatus.ENVIRONMENT
    assert "blindfill: error [driver_failed]" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
