"""Fixtures for channel tests: a paired in-memory pair and a DH counter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from noise.backends.default.diffie_hellmans import ED25519

from blindfill.channel.testing import ChannelPair


@pytest.fixture
def pair() -> ChannelPair:
    return ChannelPair.paired()


class DHCounter:
    """Counts X25519 operations the Noise library performs."""

    def __init__(self) -> None:
        self.calls = 0


@pytest.fixture
def dh_counter(monkeypatch: pytest.MonkeyPatch) -> DHCounter:
    counter = DHCounter()
    original: Callable[..., Any] = ED25519.dh

    def counting(self: ED25519, private_key: Any, public_key: Any) -> bytes:
        counter.calls += 1
        return original(self, private_key, public_key)  # type: ignore[no-any-return]

    monkeypatch.setattr(ED25519, "dh", counting)
    return counter
