"""A wrapper that keeps secret values out of reprs, logs and messages.

`Secret` holds a password, one-time code, key or token. Its `repr` and `str`
name only the kind of value, so printing a dataclass that holds one, or
logging it by mistake, shows nothing. Code that needs the value calls
`reveal()`, which makes every place that touches a secret easy to find.
"""

from __future__ import annotations

import hmac
from typing import Final, Generic, NoReturn, TypeVar

__all__ = ["REDACTED", "Secret"]

REDACTED: Final = "[redacted]"

T = TypeVar("T", str, bytes)


class Secret(Generic[T]):
    """An opaque holder for a secret value of type `str` or `bytes`."""

    __slots__ = ("_kind", "_value")

    def __init__(self, value: T, *, kind: str = "secret") -> None:
        self._value: T = value
        self._kind = kind

    def reveal(self) -> T:
        """Return the value itself. Call only where it must be used."""
        return self._value

    @property
    def kind(self) -> str:
        return self._kind

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        left, right = self._value, other._value
        left_bytes = left.encode() if isinstance(left, str) else left
        right_bytes = right.encode() if isinstance(right, str) else right
        return hmac.compare_digest(left_bytes, right_bytes)

    def __hash__(self) -> int:
        return hash((type(self), self._kind))

    def __repr__(self) -> str:
        return f"Secret({self._kind}={REDACTED})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")
