"""Fixtures for the approver service tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import structlog


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """CLI tests configure structlog for a captured stream; undo it."""
    yield
    structlog.reset_defaults()


class DHCounter:
    """Counts X25519 exchanges in the channel's Noise backend."""

    def __init__(self) -> None:
        self.calls = 0


@pytest.fixture
def dh_counter(monkeypatch: pytest.MonkeyPatch) -> DHCounter:
    from blindfill.channel import _noise

    counter = DHCounter()
    original = _noise._X25519.dh

    def counting(self: object, private_key: Any, public_key: Any) -> bytes:
        counter.calls += 1
        return original(self, private_key, public_key)

    monkeypatch.setattr(_noise._X25519, "dh", counting)
    return counter
