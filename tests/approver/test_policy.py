"""Policy files: validation with line numbers, and use counts on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from blindfill.approver.policy import Policy, UseCounts, normalise_fingerprint
from blindfill.errors import InvalidInputError, StorageError

GOOD = """\
version = 1

[[rule]]
name = "a"
agent = "bot"
origins = ["https://bank.test"]

[[rule]]
name = "b"
agent_fingerprint = "AB:CD"
origins = ["https://mail.test:8443", "http://127.0.0.1:3000"]
fields = ["one_time_code"]
items = ["x1"]
max_uses = 3
expires = 2030-06-01T12:00:00+02:00
allow_embedded = true
"""


def test_good_policy_parses() -> None:
    """Every key is read and normalised."""
    policy = Policy.parse(GOOD)
    first, second = policy.rules
    assert (first.name, first.agent, first.line) == ("a", "bot", 3)
    assert second.agent_fingerprint == "abcd"
    assert [o.serialize() for o in second.origins] == [
        "https://mail.test:8443",
        "http://127.0.0.1:3000",
    ]
    assert second.max_uses == 3
    assert second.expires == 1906538400.0
    assert second.allow_embedded
    assert second.line == 8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[rule]\nname = 'x'\n", "line 1"),
        ("colour = 'red'\n", "line 1: unknown key 'colour'"),
        ("version = 2\n", "only `version = 1`"),
        (GOOD + "\n[[rule]]\nname = 'c'\norigins = ['https://a.test']\n", "line 18"),
        (
            GOOD.replace('agent = "bot"', 'agnet = "bot"'),
            "line 5: rule 'a': unknown key",
        ),
        (GOOD.replace('name = "a"\n', ""), "line 3: rule: `name` is required"),
        (GOOD.replace('"https://bank.test"', '"null"'), "line 6: rule 'a': 'null'"),
        (GOOD.replace('"https://bank.test"', '"https://bank.test/x"'), "not an origin"),
        (GOOD.replace('["one_time_code"]', '["pin"]'), "line 12: rule 'b': `fields`"),
        (GOOD.replace("max_uses = 3", "max_uses = 0"), "line 14"),
        (GOOD.replace("+02:00", ""), "without a time zone"),
        (GOOD.replace("2030-06-01T12:00:00+02:00", "2030-06-01"), "(got a date)"),
        (GOOD.replace("allow_embedded = true", "allow_embedded = 1"), "line 16"),
        (
            GOOD.replace('name = "b"', 'name = "a"'),
            "line 8: the rule name 'a' is used twice",
        ),
        ("rule = 3\n", "[[rule]] tables"),
    ],
)
def test_malformed_policy_names_the_line_and_key(text: str, message: str) -> None:
    """Each mistake is refused with the line (and key) at fault."""
    with pytest.raises(InvalidInputError) as exc:
        Policy.parse(text, source="policy.toml")
    assert message in str(exc.value)
    assert exc.value.code == "policy_invalid"


def test_load_refuses_a_policy_others_can_write(tmp_path: Path) -> None:
    """A policy grants access: one that others may change is refused."""
    path = tmp_path / "policy.toml"
    path.write_text(GOOD)
    os.chmod(path, 0o620)  # group may write
    with pytest.raises(StorageError):
        Policy.load(path, state_path=None)
    os.chmod(path, 0o600)
    assert len(Policy.load(path, state_path=None).rules) == 2


def test_use_counts_survive_and_damage_is_refused(tmp_path: Path) -> None:
    """Counts are saved atomically; a damaged file is an error, not a reset."""
    path = tmp_path / "uses.json"
    counts = UseCounts(path)
    counts.increment("a")
    counts.increment("a")
    assert UseCounts(path).get("a") == 2
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    path.write_text('{"uses": {"a": "lots"}}')
    with pytest.raises(StorageError) as exc:
        UseCounts(path)
    assert exc.value.code == "policy_state_corrupt"


def test_fingerprints_compare_without_separators() -> None:
    """Fingerprints compare without case, spaces or colons."""
    assert normalise_fingerprint("AB:cd 12\tEF") == "abcd12ef"
