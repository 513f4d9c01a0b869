"""`blindfill detect`: the JSON-lines contract evaluation tools rely on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blindfill.cli import main
from tests.agent.conftest import Site

pytestmark = pytest.mark.browser

LOGIN = (
    "<h1>Sign in</h1><form><input name=q type=search>"
    "<input name=username autocomplete=username>"
    "<input type=password name=password><button>Sign in</button></form>"
)


def test_one_line_per_target_with_errors(
    tmp_path: Path, other_site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    """Files are served on loopback, bad targets get an error line, no traceback."""
    page = tmp_path / "login.html"
    # The frame points at another loopback server: serving local files must
    # not let a page reach anything else.
    page.write_text(LOGIN + f"<iframe src='{other_site.add(LOGIN)}'></iframe>")
    missing = tmp_path / "missing.html"
    status = main(
        ["detect", "--json", "--wait", "0", str(page), str(missing), "ftp://x.test/"]
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 1
    assert [line["target"] for line in lines] == [
        str(page),
        str(missing),
        "ftp://x.test/",
    ]

    found = lines[0]
    assert found["url"].startswith("http://127.0.0.1:")
    assert found["best"] == found["forms"][0]
    best = found["best"]
    assert best["kind"] == "login"
    assert best["origin"] == found["url"].rsplit("/", 2)[0]
    assert best["frame"] == [found["url"]]
    assert [(f["role"], f["input_index"]) for f in best["fields"]] == [
        ("username", 1),
        ("password", 2),
    ]
    assert all(f["selector"] for f in best["fields"])
    assert len(found["forms"]) == 1  # the framed page was never loaded

    assert lines[1]["error"]["code"] == "file_not_found"
    assert lines[2]["error"]["code"] == "unsupported_target"


def test_unreachable_url_and_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unreachable URL is a per-target error; without --json a table prints."""
    page = tmp_path / "login.html"
    page.write_text(LOGIN)
    status = main(["detect", "--wait", "0", str(page), "http://127.0.0.1:9/"])
    captured = capsys.readouterr()
    assert status == 1
    assert "*login" in captured.out
    assert "username=body > form:nth-of-type(1) > input:nth-of-type(2)" in captured.out
    assert "load_failed" in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    "flags",
    [["--wait", "-1"], ["--wait", "nan"], ["--timeout", "0"], ["--timeout", "inf"]],
)
def test_bad_wait_or_timeout_is_a_usage_error(
    tmp_path: Path, flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A negative, zero, NaN or infinite --wait or --timeout exits 2 at once."""
    status = main(["detect", *flags, str(tmp_path / "login.html")])
    err = capsys.readouterr().err
    assert status == 2
    assert "--wait must be >= 0 and --timeout > 0" in err
    assert "Traceback" not in err
