"""The suite-wide secret check itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from blindfill.sensitive import Secret
from tests import secret_watch

pytest_plugins = ["pytester"]


def test_remembers_secrets_and_their_byte_spellings() -> None:
    """A new Secret is found in text, in hex and base64 when it holds bytes."""
    Secret("watch-me-if-you-can-42", kind="password")
    Secret(bytes(range(32)), kind="key")
    assert secret_watch.leaked_kind("x watch-me-if-you-can-42 y") == "password"
    assert secret_watch.leaked_kind(bytes(range(32)).hex()) == "key"
    assert secret_watch.leaked_kind("nothing here") is None


def test_a_printed_secret_fails_the_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test that prints a secret fails, and the report names only its kind."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[1]))
    pytester.makeconftest(
        "from tests import secret_watch\n"
        "from tests.secret_watch import pytest_runtest_makereport\n"
        "secret_watch.install()\n"
    )
    pytester.makepyfile(
        "from blindfill.sensitive import Secret\n"
        "def test_leaks():\n"
        "    s = Secret('leaky-value-123456', kind='password')\n"
        "    print('oops', s.reveal())\n"
        "def test_quiet():\n"
        "    s = Secret('quiet-value-123456', kind='password')\n"
        "    print('fine', s)\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*a secret (password) appeared*"])
    assert "leaky-value-123456" not in result.stdout.str()
