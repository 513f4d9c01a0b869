"""Fixtures for channel tests: a paired in-memory pair and a DH counter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from blindfill.channel import _kk, _noise
from blindfill.channel.testing import ChannelPair


@pytest.fixture
def pair() -> ChannelPair:
    return ChannelPair.paired()


class DHCounter:
    """Counts the X25519 exchanges of both handshake implementations.

    Pairing runs through `noiseprotocol` (`_noise`), fills through the
    hand-written KKpsk0 (`_kk`); both are counted.
    """

    def __init__(self) -> None:
        self.calls = 0


@pytest.fixture
def dh_counter(monkeypatch: pytest.MonkeyPatch) -> DHCounter:
    counter = DHCounter()
    original: Callable[..., bytes] = _noise._X25519.dh

    def counting(self: object, private_key: Any, public_key: Any) -> bytes:
        counter.calls += 1
        return original(self, private_key, public_key)

    monkeypatch.setattr(_noise._X25519, "dh", counting)
    original_kk: Callable[..., bytes] = _kk._dh

    def counting_kk(private_key: Any, public_key: Any) -> bytes:
        counter.calls += 1
        return original_kk(private_key, public_key)

    monkeypatch.setattr(_kk, "_dh", counting_kk)
    return counter
