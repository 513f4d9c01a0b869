"""The redaction processor and the Secret wrapper."""

from __future__ import annotations

import io
import json
import pickle

import pytest
import structlog

from blindfill.errors import UsageError
from blindfill.log import configure_logging, get_logger
from blindfill.sensitive import Secret

PASSWORD = "correct-horse-battery-staple-7731"


@pytest.fixture
def log_stream() -> io.StringIO:
    stream = io.StringIO()
    configure_logging(level="debug", json=True, stream=stream)
    yield stream
    structlog.reset_defaults()


def test_secret_never_shows_in_repr_str_or_format() -> None:
    """A Secret shows only its kind, however it is printed."""
    secret = Secret(PASSWORD, kind="password")
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret])):
        assert PASSWORD not in text
        assert "password" in text
    assert secret.reveal() == PASSWORD


def test_secret_compares_by_value_and_refuses_pickling() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    with pytest.raises(TypeError):
        pickle.dumps(Secret("a"))


def test_redaction_hides_sensitive_keys_and_secrets_at_any_depth(
    log_stream: io.StringIO,
) -> None:
    """Sensitive keys and Secret values are replaced before rendering."""
    log = get_logger("test")
    log.info(
        "fill.requested",
        password=PASSWORD,
        nested={"otp": PASSWORD, "list": [Secret(PASSWORD)]},
        anything=Secret(PASSWORD),
        origin="https://bank.test",
        frame_chain=["https://bank.test"],
    )
    out = log_stream.getvalue()
    assert PASSWORD not in out
    record = json.loads(out)
    assert record["origin"] == "https://bank.test"
    assert record["frame_chain"] == ["https://bank.test"]
    assert record["event"] == "fill.requested"


def test_unknown_level_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        configure_logging(level="loud")


def test_module_level_logger_follows_later_configuration() -> None:
    """A logger made before configure_logging still uses the new settings."""
    log = get_logger("early")
    stream = io.StringIO()
    configure_logging(level="info", json=True, stream=stream)
    try:
        log.debug("ignored.event")
        log.info("shown.event")
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["shown.event"]
    assert lines[0]["component"] == "early"
