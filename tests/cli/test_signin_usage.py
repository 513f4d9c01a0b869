"""`blindfill sign-in` refuses bad input before starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from blindfill.agent.signin import SignInStatus
from blindfill.cli import main
from blindfill.commands.signin import STATUS_EXIT, check_page_url
from blindfill.errors import ExitStatus, UsageError


def test_help_documents_every_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    """--help ends with the exit status of each outcome."""
    with pytest.raises(SystemExit) as exc:
        main(["sign-in", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--reason", "--no-submit", "--cdp", "--approver", "--state"):
        assert flag in out
    assert "exit statuses:" in out
    for status in SignInStatus:
        assert status.value in out


def test_every_outcome_has_an_exit_status() -> None:
    """Each SignInStatus maps to the exit status of its error family."""
    assert set(STATUS_EXIT) == set(SignInStatus)
    assert STATUS_EXIT[SignInStatus.SIGNED_IN] == ExitStatus.OK
    assert STATUS_EXIT[SignInStatus.FILLED] == ExitStatus.OK
    assert STATUS_EXIT[SignInStatus.DECLINED] == ExitStatus.FAILED
    assert STATUS_EXIT[SignInStatus.UNPAIRED] == ExitStatus.REMOTE
    assert STATUS_EXIT[SignInStatus.APPROVER_UNREACHABLE] == ExitStatus.ENVIRONMENT
    assert STATUS_EXIT[SignInStatus.TIMEOUT] == ExitStatus.ENVIRONMENT


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.com/login",
        "http://",
        "http://[::1/",
        "http://example.com:99999/",
        "http://exa mple.com/",
        "http://example.com/\x07",
    ],
)
def test_bad_urls_are_usage_errors(url: str) -> None:
    """Anything but an http(s) URL with a host is refused as a usage error."""
    with pytest.raises(UsageError) as exc:
        check_page_url(url)
    assert exc.value.code == "bad_url"


def test_url_with_a_password_is_refused_without_echoing_it() -> None:
    """A URL carrying a credential is refused and the credential not shown."""
    with pytest.raises(UsageError) as exc:
        check_page_url("https://alice:hunter2-secret@example.com/")
    assert "hunter2-secret" not in str(exc.value)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sign-in", "ftp://x/", "--reason", "r"], "[bad_url]"),
        (["sign-in", "http://x/", "--reason", "   "], "--reason must not be empty"),
        (["sign-in", "http://x/", "--reason", "a\x1bb"], "[bad_reason]"),
        (["sign-in", "http://x/", "--reason", "r" * 1001], "[bad_reason]"),
        (["sign-in", "http://x/", "--reason", "r", "--timeout", "0"], "--timeout"),
        (["sign-in", "http://x/", "--reason", "r", "--cdp", "x"], "CDP endpoint"),
        (
            ["sign-in", "http://x/", "--reason", "r", "--screenshot", "/no/dir/a.png"],
            "screenshot",
        ),
    ],
)
def test_bad_values_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad values are one error line and exit status 2, no traceback."""
    assert main(argv) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["sign-in", "http://x/"],  # no --reason
        ["sign-in", "--reason", "r"],  # no URL
        ["sign-in", "http://x/", "--reason", "r", "--cdp", "http://h:9222", "--headed"],
        ["sign-in", "http://x/", "--reason", "r", "--timeout", "soon"],
        ["sign-in", "http://x/", "--reason", "r", "--no-such-flag"],
    ],
)
def test_bad_flags_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Missing, conflicting and unknown flags are argparse usage errors."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert err.startswith("usage: blindfill")
    assert "error:" in err


def test_unpaired_state_exits_3_before_starting_a_browser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a saved pairing the command stops at once with exit 3."""
    status = main(
        [
            "sign-in",
            "http://127.0.0.1:9/login",
            "--reason",
            "r",
            "--approver",
            "http://127.0.0.1:9",
            "--state",
            str(tmp_path / "none.json"),
        ]
    )
    assert status == ExitStatus.REMOTE
    assert "[not_paired]" in capsys.readouterr().err


def test_no_approver_url_is_a_usage_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With no --approver, no environment variable and no saved URL: exit 2."""
    monkeypatch.delenv("BLINDFILL_APPROVER_URL", raising=False)
    status = main(
        [
            "sign-in",
            "http://127.0.0.1:9/login",
            "--reason",
            "r",
            "--state",
            str(tmp_path / "none.json"),
        ]
    )
    assert status == ExitStatus.USAGE
    assert "no approver URL" in capsys.readouterr().err
