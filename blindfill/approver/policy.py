"""Policy files: rules a person writes so the approver can decide alone.

A policy is a TOML file of rules. A rule can only grant; anything no rule
grants goes to the person at the terminal, or is declined when nobody is
there. An example, with every key:

    version = 1

    [[rule]]
    name = "nightly-invoices"           # required, unique; audit records name it
    agent_fingerprint = "3f2a 9c1e ..." # the paired agent's key (preferred)
    agent = "invoice-bot"               # or / and the agent's paired name
    origins = ["https://billing.example.com"]
    items = ["7d0c5e8a..."]             # optional: only these item ids
    fields = ["username", "password"]   # what it may fill (this is the default)
    max_uses = 30                       # optional: then it stops granting
    expires = 2026-12-31T23:59:59Z      # optional: a date-time with a zone
    allow_embedded = false              # optional: also inside other origins' frames

A rule grants a request when every one of these holds: the agent matches
(each of `agent` and `agent_fingerprint` that is given; at least one must
be); the frame origin is one of `origins` (exact scheme, host and port); the
frame chain holds that origin alone, unless `allow_embedded`; the request
asks for no field outside `fields`; it has not expired and has uses left;
and exactly one vault item matching the origin (and in `items`, if given)
can fill every field asked for. The first rule in file order that grants
wins. A multi-step login granted by a rule uses one use.

Use counts of rules with `max_uses` live in a separate state file,
replaced atomically after each use, so they survive restarts and a crash
never lets a use be taken twice.
A malformed policy is refused as a whole, with the line and key at fault.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from blindfill.approver.items import Item
from blindfill.approver.origins import Origin, parse_origin
from blindfill.approver.paths import ensure_private_dir
from blindfill.approver.request import ApprovalRequest, FieldRole
from blindfill.errors import BlindfillError, InvalidInputError, StorageError
from blindfill.storage import read_private, write_atomic

__all__ = ["Policy", "Rule", "RuleMatch", "UseCounts", "normalise_fingerprint"]

MAX_POLICY_BYTES = 1024 * 1024
_RULE_KEYS = frozenset(
    {
        "name",
        "agent",
        "agent_fingerprint",
        "origins",
        "items",
        "fields",
        "max_uses",
        "expires",
        "allow_embedded",
    }
)
_DEFAULT_FIELDS = frozenset({FieldRole.USERNAME, FieldRole.PASSWORD})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def normalise_fingerprint(text: str) -> str:
    """A fingerprint without spaces or colons, lower case, for comparing."""
    return re.sub(r"[\s:]", "", text).lower()


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a policy file, validated. `line` is where it starts."""

    name: str
    origins: tuple[Origin, ...]
    agent: str | None = None
    agent_fingerprint: str | None = None
    items: frozenset[str] | None = None
    fields: frozenset[FieldRole] = _DEFAULT_FIELDS
    max_uses: int | None = None
    expires: float | None = None
    allow_embedded: bool = False
    line: int = 0


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule that grants a request, and the one item it grants."""

    rule: Rule
    item: Item


class UseCounts:
    """How often each rule has granted, kept in an atomically replaced file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._counts: dict[str, int] = {}
        if path is not None and path.exists():
            self._counts = self._load(path)

    @staticmethod
    def _load(path: Path) -> dict[str, int]:
        try:
            data = json.loads(read_private(path))
            counts = data["uses"]
            if not isinstance(counts, dict) or not all(
                isinstance(k, str) and isinstance(v, int) and v >= 0
                for k, v in counts.items()
            ):
                raise TypeError("uses")
        except StorageError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(
                f"the policy use counts in {path} are damaged",
                code="policy_state_corrupt",
                hint="fix the file, or delete it to start every count at zero",
            ) from exc
        return dict(counts)

    def get(self, name: str) -> int:
        return self._counts.get(name, 0)

    def increment(self, name: str) -> None:
        """Count one use and persist it; raises `StorageError` if it cannot.

        On failure the count in memory is unchanged.
        """
        counts = dict(self._counts)
        counts[name] = counts.get(name, 0) + 1
        if self.path is not None:
            ensure_private_dir(self.path.parent)
            document = {"version": 1, "uses": counts}
            write_atomic(self.path, json.dumps(document, sort_keys=True).encode())
        self._counts = counts


@dataclass(slots=True)
class Policy:
    """The rules of one policy file and their use counts."""

    rules: tuple[Rule, ...]
    uses: UseCounts = field(default_factory=lambda: UseCounts(None))
    source: str = "policy"

    @classmethod
    def load(cls, path: Path, *, state_path: Path | None) -> Policy:
        """Read and validate the policy at `path`; counts from `state_path`.

        Raises `StorageError` if it cannot be read (or others may write it),
        `InvalidInputError` naming the line and key of the first problem.
        """
        data = read_private(path)
        if len(data) > MAX_POLICY_BYTES:
            raise InvalidInputError(f"{path} is larger than 1 MiB")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError(f"{path} is not UTF-8 text") from None
        return cls.parse(text, source=str(path), uses=UseCounts(state_path))

    @classmethod
    def parse(
        cls, text: str, *, source: str = "policy", uses: UseCounts | None = None
    ) -> Policy:
        """Validate policy text; raises `InvalidInputError` naming the line."""
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInputError(
                f"{source}: not valid TOML: {exc}",
                code="policy_invalid",
            ) from None
        unknown = set(document) - {"version", "rule"}
        if unknown:
            key = sorted(unknown)[0]
            raise _error(source, _key_line(text, 1, None, key), f"unknown key {key!r}")
        if document.get("version", 1) != 1:
            raise _error(
                source,
                _key_line(text, 1, None, "version"),
                "only `version = 1` is understood",
            )
        raw_rules = document.get("rule", [])
        if not isinstance(raw_rules, list):
            raise _error(source, None, "`rule` must be written as [[rule]] tables")
        starts = _rule_starts(text)
        rules: list[Rule] = []
        for index, raw in enumerate(raw_rules):
            start = starts[index] if index < len(starts) else 0
            end = starts[index + 1] if index + 1 < len(starts) else None
            rules.append(_rule(raw, text, source, start, end))
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise _error(
                    source, rule.line, f"the rule name {rule.name!r} is used twice"
                )
            seen.add(rule.name)
        return cls(tuple(rules), uses or UseCounts(None), source)

    def evaluate(
        self,
        request: ApprovalRequest,
        origin: Origin,
        candidates: Sequence[Item],
        now: float,
    ) -> RuleMatch | None:
        """The first rule that grants `request`, with its item, or None.

        `candidates` are the items that match `origin` and can fill every
        field asked for. Pure: nothing is counted until `consume`.
        """
        for rule in self.rules:
            item = self._grants(rule, request, origin, candidates, now)
            if item is not None:
                return RuleMatch(rule, item)
        return None

    def consume(self, match: RuleMatch) -> None:
        """Count one use of the rule; raises `StorageError` if it cannot.

        Only rules with `max_uses` are counted: the audit log already holds
        every use, and a durable count costs a synced write per grant.
        """
        if match.rule.max_uses is not None:
            self.uses.increment(match.rule.name)

    def _grants(
        self,
        rule: Rule,
        request: ApprovalRequest,
        origin: Origin,
        candidates: Sequence[Item],
        now: float,
    ) -> Item | None:
        fingerprint = normalise_fingerprint(request.agent.fingerprint)
        applies = (
            rule.agent in (None, request.agent.name)
            and rule.agent_fingerprint in (None, fingerprint)
            and origin in rule.origins
            and (
                rule.allow_embedded
                or all(entry == origin.serialize() for entry in request.frame_chain)
            )
            and set(request.fields) <= rule.fields
            and (rule.expires is None or now < rule.expires)
            and (rule.max_uses is None or self.uses.get(rule.name) < rule.max_uses)
        )
        if not applies:
            return None
        allowed = [
            item for item in candidates if rule.items is None or item.id in rule.items
        ]
        return allowed[0] if len(allowed) == 1 else None


# --- parsing ----------------------------------------------------------------


_Fail = Callable[[str | None, str], InvalidInputError]


def _rule(raw: object, text: str, source: str, start: int, end: int | None) -> Rule:
    if not isinstance(raw, dict):
        raise _error(source, start, "a rule must be a [[rule]] table")

    def fail(key: str | None, message: str) -> InvalidInputError:
        line = _key_line(text, start, end, key) if key else start
        name = raw.get("name")
        where = f"rule {name!r}" if isinstance(name, str) else "rule"
        return _error(source, line, f"{where}: {message}")

    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key {unknown[0]!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail(
            "name",
            "`name` is required: 1 to 64 letters, digits, dots, dashes, underscores",
        )
    agent = _optional_text(raw, "agent", fail)
    fingerprint = _optional_text(raw, "agent_fingerprint", fail)
    if agent is None and fingerprint is None:
        raise fail(None, "give `agent_fingerprint` or `agent` (or both)")
    max_uses = raw.get("max_uses")
    if max_uses is not None and (
        not isinstance(max_uses, int) or isinstance(max_uses, bool) or max_uses < 1
    ):
        raise fail("max_uses", "`max_uses` must be a whole number of at least 1")
    allow_embedded = raw.get("allow_embedded", False)
    if not isinstance(allow_embedded, bool):
        raise fail("allow_embedded", "`allow_embedded` must be true or false")

    return Rule(
        name=name,
        origins=_origins(raw.get("origins"), fail),
        agent=agent,
        agent_fingerprint=(
            normalise_fingerprint(fingerprint) if fingerprint is not None else None
        ),
        items=_items(raw, fail),
        fields=_fields(raw, fail),
        max_uses=max_uses,
        expires=_expiry(raw, fail),
        allow_embedded=allow_embedded,
        line=start,
    )


def _origins(value: object, fail: _Fail) -> tuple[Origin, ...]:
    if not isinstance(value, list) or not value:
        raise fail("origins", "`origins` must be a non-empty list of origins")
    origins = []
    for entry in value:
        if not isinstance(entry, str):
            raise fail("origins", "each origin must be a string")
        try:
            origins.append(parse_origin(entry))
        except BlindfillError as exc:
            raise fail("origins", exc.message) from None
    return tuple(origins)


def _items(raw: dict[str, Any], fail: _Fail) -> frozenset[str] | None:
    if "items" not in raw:
        return None
    value = raw["items"]
    if not isinstance(value, list) or not all(isinstance(i, str) and i for i in value):
        raise fail("items", "`items` must be a list of item ids")
    return frozenset(value)


def _fields(raw: dict[str, Any], fail: _Fail) -> frozenset[FieldRole]:
    if "fields" not in raw:
        return _DEFAULT_FIELDS
    value = raw["fields"]
    try:
        if not isinstance(value, list) or not value:
            raise ValueError("empty")
        return frozenset(FieldRole(role) for role in value)
    except (ValueError, TypeError):
        raise fail(
            "fields", "`fields` must list username, password and/or one_time_code"
        ) from None


def _expiry(raw: dict[str, Any], fail: _Fail) -> float | None:
    if "expires" not in raw:
        return None
    value = raw["expires"]
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.timestamp()
    if isinstance(value, datetime):
        kind = "a date-time without a time zone"
    elif isinstance(value, date):
        kind = "a date"
    else:
        kind = type(value).__name__
    raise fail(
        "expires",
        "`expires` must be a date-time with a time zone, such as "
        f"2026-12-31T23:59:59Z (got {kind})",
    )


def _optional_text(raw: dict[str, Any], key: str, fail: _Fail) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise fail(key, f"`{key}` must be a non-empty string")
    return value


def _rule_starts(text: str) -> list[int]:
    # Line numbers (from 1) of each [[rule]] header, in order.
    return [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if re.match(r"^\s*\[\[\s*rule\s*\]\]", line)
    ]


def _key_line(text: str, start: int, end: int | None, key: str | None) -> int | None:
    # The first line in [start, end) that assigns `key`; None if not found.
    if key is None:
        return start or None
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    lines = text.splitlines()
    last = len(lines) if end is None else end - 1
    for number in range(max(start, 1), last + 1):
        if pattern.match(lines[number - 1]):
            return number
    return start or None


def _error(source: str, line: int | None, message: str) -> InvalidInputError:
    where = f"{source} line {line}" if line else source
    return InvalidInputError(f"{where}: {message}", code="policy_invalid")
