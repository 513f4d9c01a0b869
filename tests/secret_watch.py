"""A suite-wide check that no secret reaches captured output.

Every `Secret` made while the suite runs is remembered (with its hex and
base64 spellings when it holds bytes). After each test phase, the stdout,
stderr and log output pytest captured for it are searched for any of them;
a hit fails the test with the secret's kind, never its value. Since the
suite leaves structlog unconfigured, every log event of every level lands
in captured stdout and is checked too.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from blindfill.sensitive import Secret

# Shorter values (six-digit codes, one-letter fixtures) would match by chance.
MIN_LENGTH = 8

_seen: dict[str, str] = {}
_original_init = Secret.__init__


def _remember(self: Secret[Any], value: Any, *, kind: str = "secret") -> None:
    _original_init(self, value, kind=kind)
    if isinstance(value, bytes):
        spellings = {
            value.hex(),
            base64.b64encode(value).decode(),
            base64.urlsafe_b64encode(value).decode().rstrip("="),
        }
    else:
        spellings = {value}
    for text in spellings:
        if len(text) >= MIN_LENGTH:
            _seen[text] = kind


def install() -> None:
    """Start remembering secrets (called once, when the suite starts)."""
    Secret.__init__ = _remember  # type: ignore[method-assign]


def leaked_kind(text: str) -> str | None:
    """The kind of a remembered secret that appears in `text`, if any."""
    if not text:
        return None
    for value, kind in list(_seen.items()):
        if value in text:
            return kind
    return None


def redacted(text: str) -> str:
    """`text` with every remembered secret replaced."""
    for value in list(_seen):
        if value in text:
            text = text.replace(value, "[secret]")
    return text


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    # Sections accumulate over the phases; judge only this phase's own.
    own = [content for name, content in report.sections if name.endswith(report.when)]
    kind = leaked_kind("\n".join(own))
    if kind is not None:
        report.outcome = "failed"
        report.longrepr = (
            f"a secret ({kind}) appeared in the output captured during "
            f"the {report.when} phase of this test"
        )
    # Never let the report itself print a secret.
    report.sections = [(name, redacted(content)) for name, content in report.sections]
