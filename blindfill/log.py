"""structlog configuration shared by the CLI, the approver and the agent.

Everything outside `blindfill.channel` logs through structlog with event names
made of a dotted noun and a past-tense verb (`fill.requested`). The
`redact_secrets` processor runs before every renderer: it replaces any
`Secret` value and the value of any key whose name marks it as sensitive, at
any depth, so a mistaken `log.info("x", password=...)` shows nothing.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

from blindfill.sensitive import REDACTED, Secret

__all__ = ["configure_logging", "get_logger", "redact_secrets"]

# Keys whose values are never shown, whatever they hold.
_SENSITIVE_KEY = re.compile(
    r"(pass(word|phrase)?|secret|token|otp|totp|seed|psk|private|"
    r"^key$|_key$|cookie|authorization|credential|code$|value$|values$)",
    re.IGNORECASE,
)
# Keys that match the pattern above but only ever hold harmless metadata.
_HARMLESS_KEYS = frozenset(
    {"error_code", "status_code", "exit_code", "code_kind", "key_fingerprint"}
)


def _scrub(value: Any) -> Any:
    if isinstance(value, Secret):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: _scrub_item(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v) for v in value]
    return value


def _scrub_item(key: str, value: Any) -> Any:
    if key not in _HARMLESS_KEYS and _SENSITIVE_KEY.search(key):
        return REDACTED
    return _scrub(value)


def redact_secrets(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: hide secrets and sensitive keys at any depth."""
    for key in list(event_dict):
        if key == "event":
            continue
        event_dict[key] = _scrub_item(key, event_dict[key])
    return event_dict


def configure_logging(
    *, level: str = "warning", json: bool = False, stream: TextIO | None = None
) -> None:
    """Send structlog events at `level` or above to `stream` (stderr).

    `json=True` renders one JSON object a line for machines; otherwise a
    short human-readable line.
    """
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        from blindfill.errors import UsageError

        raise UsageError(
            f"unknown log level {level!r}",
            hint="use one of debug, info, warning, error",
        )
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """A structlog logger carrying `component=name`.

    The logger is a lazy proxy: it follows whatever `configure_logging` set
    last, so a module-level logger created at import time still honours a
    configuration made later.
    """
    return structlog.get_logger(component=name)
