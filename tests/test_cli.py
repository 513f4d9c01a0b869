"""The `blindfill` command's shared behaviour."""

from __future__ import annotations

import subprocess
import sys

import pytest

from blindfill.cli import main
from blindfill.errors import ExitStatus


def test_help_lists_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "exit statuses" in capsys.readouterr().out


def test_unknown_flag_is_a_usage_error_without_traceback() -> None:
    """A wrong flag prints one usage line and exits 2, never a traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "blindfill", "--no-such-flag"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == ExitStatus.USAGE
    assert "Traceback" not in proc.stderr
    assert "unrecognized arguments" in proc.stderr


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == ExitStatus.USAGE
    assert "usage" in capsys.readouterr().err
