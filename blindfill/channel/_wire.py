"""Strict JSON objects, the one reader behind every message and state file.

Message payloads and state files are small JSON objects. Python's `json`
module is forgiving in ways a protocol must not be: it keeps the last of two
duplicate keys, accepts `NaN`, turns huge digit strings into integers and
recurses without a depth limit. `load_object` refuses all of that, and
`ObjectReader` hands out fields one at a time with a type and a size limit, so
that `finish()` can refuse any field nobody asked for.

Failures are reported through a `Fail` callable that builds the error to
raise: decoders of remote messages build a `RemoteProtocolError`, loaders of
local state files an `InvalidInputError`. The message names the object and the
field, never the value, because a value may be secret.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from typing import NoReturn

from blindfill.errors import BlindfillError

__all__ = ["Fail", "ObjectReader", "b64", "dump_object", "load_object"]

Fail = Callable[[str], BlindfillError]

_MISSING: object = object()


def dump_object(obj: dict[str, object]) -> bytes:
    """Encode `obj` as compact UTF-8 JSON with sorted keys (a stable form)."""
    return _ENCODER.encode(obj).encode("utf-8")


def b64(data: bytes) -> str:
    """Standard base64 with padding, the form every binary field uses."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def load_object(data: bytes, *, what: str, fail: Fail) -> ObjectReader:
    """Parse `data` as one JSON object and return a reader over its fields.

    Raises whatever `fail` builds if the bytes are not UTF-8, not JSON, not an
    object, nest too deep, repeat a key, or use a float or a constant such as
    `NaN` (no field of the protocol is a float).
    """
    try:
        obj = _DECODER.decode(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        # UnicodeDecodeError and JSONDecodeError are both ValueErrors.
        raise fail(f"{what} is not valid JSON") from exc
    if not isinstance(obj, dict):
        raise fail(f"{what} must be a JSON object")
    return ObjectReader(obj, what=what, fail=fail)


class ObjectReader:
    """Typed, bounded access to the fields of one decoded JSON object.

    Every accessor consumes its field; `finish()` then refuses any field left
    over. Accessors raise what the `fail` callable builds.
    """

    __slots__ = ("_fail", "_obj", "_seen", "_what")

    def __init__(self, obj: dict[str, object], *, what: str, fail: Fail) -> None:
        self._obj = obj
        self._what = what
        self._fail = fail
        self._seen: set[str] = set()

    def is_null(self, key: str) -> bool:
        """True, consuming the field, if it is present and JSON null."""
        if key in self._obj and self._obj[key] is None:
            self._seen.add(key)
            return True
        return False

    def _take(self, key: str) -> object:
        value = self._obj.get(key, _MISSING)
        if value is _MISSING:
            self._error(f"lacks the field {key!r}")
        self._seen.add(key)
        return value

    def _error(self, problem: str) -> NoReturn:
        raise self._fail(f"{self._what} {problem}")

    def _bad(self, key: str, problem: str) -> NoReturn:
        # The hot accessors below take a field with one dictionary lookup
        # and test for a missing one only once the value failed its check.
        if key not in self._obj:
            self._error(f"lacks the field {key!r}")
        self._error(f"field {key!r} {problem}")

    def text(self, key: str, *, max_chars: int) -> str:
        value = self._obj.get(key)
        if not isinstance(value, str) or len(value) > max_chars:
            self._bad(key, f"must be text of at most {max_chars} characters")
        self._seen.add(key)
        return value

    def integer(self, key: str, *, minimum: int, maximum: int) -> int:
        value = self._obj.get(key)
        # bool is a subclass of int; JSON true is not a number here.
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not minimum <= value <= maximum
        ):
            self._bad(key, f"must be an integer from {minimum} to {maximum}")
        self._seen.add(key)
        return value

    def boolean(self, key: str) -> bool:
        value = self._take(key)
        if not isinstance(value, bool):
            self._error(f"field {key!r} must be true or false")
        return value

    def blob(self, key: str, *, size: int) -> bytes:
        """A base64 field that must decode to exactly `size` bytes."""
        value = self._obj.get(key)
        if not isinstance(value, str) or len(value) > 4 * size:
            self._bad(key, f"must be base64 of {size} bytes")
        try:
            raw = binascii.a2b_base64(value, strict_mode=True)
        except ValueError:  # binascii.Error is one; so is a non-ASCII str
            self._bad(key, f"must be base64 of {size} bytes")
        # Refuse non-canonical encodings so that one value has one spelling.
        if len(raw) != size or b64(raw) != value:
            self._bad(key, f"must be base64 of {size} bytes")
        self._seen.add(key)
        return raw

    def text_list(self, key: str, *, max_items: int, max_chars: int) -> list[str]:
        value = self._obj.get(key)
        if (
            not isinstance(value, list)
            or len(value) > max_items
            or not all(isinstance(v, str) and len(v) <= max_chars for v in value)
        ):
            self._bad(
                key,
                f"must be a list of at most {max_items} texts "
                f"of at most {max_chars} characters",
            )
        self._seen.add(key)
        return list(value)

    def text_map(self, key: str, *, max_items: int, max_chars: int) -> dict[str, str]:
        value = self._obj.get(key)
        if (
            not isinstance(value, dict)
            or len(value) > max_items
            or not all(
                isinstance(v, str) and len(v) <= max_chars for v in value.values()
            )
        ):
            self._bad(
                key,
                f"must map at most {max_items} names to texts "
                f"of at most {max_chars} characters",
            )
        self._seen.add(key)
        return dict(value)

    def object(self, key: str, *, what: str) -> ObjectReader:
        value = self._take(key)
        if not isinstance(value, dict):
            self._error(f"field {key!r} must be an object")
        return ObjectReader(value, what=what, fail=self._fail)

    def objects(self, key: str, *, max_items: int, what: str) -> list[ObjectReader]:
        value = self._take(key)
        if (
            not isinstance(value, list)
            or len(value) > max_items
            or not all(isinstance(v, dict) for v in value)
        ):
            self._error(f"field {key!r} must be a list of at most {max_items} objects")
        return [ObjectReader(v, what=what, fail=self._fail) for v in value]

    def finish(self) -> None:
        """Refuse the object if it holds a field no accessor consumed."""
        # Only fields that are present are ever marked consumed, so equal
        # counts mean every field was.
        if len(self._seen) == len(self._obj):
            return
        unknown = sorted(set(self._obj) - self._seen)
        if unknown:
            # Field names are protocol vocabulary, not secrets, but an
            # attacker chooses them: show a bounded, printable excerpt.
            name = unknown[0][:40].encode("ascii", "backslashreplace").decode()
            self._error(f"has an unknown field {name!r}")


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key")
    return obj


def _refuse_float(text: str) -> NoReturn:
    raise ValueError("floats are not used")


def _refuse_constant(text: str) -> NoReturn:
    raise ValueError("NaN and Infinity are not JSON")


# Built once: `json.dumps` and `json.loads` with options build a new coder on
# every call, which costs more than coding a small message.
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
)
_DECODER = json.JSONDecoder(
    object_pairs_hook=_refuse_duplicate_keys,
    parse_float=_refuse_float,
    parse_constant=_refuse_constant,
)
