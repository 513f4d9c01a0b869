"""The exception hierarchy: families, codes and messages."""

from __future__ import annotations

import inspect

import pytest

from blindfill import errors
from blindfill.errors import (
    BlindfillError,
    EnvironmentFault,
    ExitStatus,
    LocalError,
    RemoteError,
    RemoteProtocolError,
)

ALL_ERRORS = [
    obj
    for _, obj in inspect.getmembers(errors, inspect.isclass)
    if issubclass(obj, BlindfillError)
]


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_every_error_has_one_family_and_a_snake_case_code(cls: type) -> None:
    """Each concrete error belongs to exactly one family and has a code."""
    families = [
        f for f in (LocalError, RemoteError, EnvironmentFault) if issubclass(cls, f)
    ]
    assert len(families) <= 1
    if cls is not BlindfillError:
        assert len(families) == 1
    assert cls.code.replace("_", "").isalpha()
    assert cls.code == cls.code.lower()


def test_codes_are_unique() -> None:
    """No two error classes share a code, so the code alone names the error."""
    codes = [cls.code for cls in ALL_ERRORS]
    assert len(codes) == len(set(codes))


def test_instance_code_and_hint() -> None:
    """A raise site can refine the code and add a hint without a new class."""
    exc = RemoteProtocolError("frame too large", code="frame_too_large", hint="x")
    assert exc.code == "frame_too_large"
    assert RemoteProtocolError.code == "remote_protocol"
    assert str(exc) == "frame too large (x)"
    assert exc.exit_status == ExitStatus.REMOTE
    assert "frame_too_large" in repr(exc)
