"""The published deterministic vectors match what the code produces."""

from __future__ import annotations

import json

import pytest

from blindfill.channel import ApproverChannel, ApproverState, decode_frame
from blindfill.channel.testing import FakeClock
from blindfill.errors import ReplayError
from tests.vectors.generate import PATH, generate, render


def test_vectors_file_matches_the_code() -> None:
    """tests/vectors/channel-v1.json is exactly what the code generates now.

    If the protocol changed on purpose, run `python -m tests.vectors.generate`
    and bump the protocol version.
    """
    assert PATH.read_text() == render(generate())


def test_vectors_cover_both_pairing_modes_and_every_fill_kind() -> None:
    """The vectors hold token and code pairings, grants, declines and a retry."""
    vectors = json.loads(PATH.read_text())
    cases = vectors["cases"]
    assert [c["pairing"]["mode"] for c in cases] == ["token", "code"]
    for case in cases:
        kinds = [f["kind"] for f in case["fills"]]
        assert kinds == ["grant", "decline", "lost_then_retry", "grant"]
        for fill in case["fills"]:
            frame = decode_frame(bytes.fromhex(fill["message_1"]))
            assert frame.header.epoch == fill["epoch"]


def test_recorded_request_is_refused_as_a_replay_by_the_recorded_state() -> None:
    """The vectors' frames are real: the recorded state refuses their replay."""
    case = json.loads(PATH.read_text())["cases"][0]
    fill = case["fills"][0]
    state = ApproverState.from_bytes(json.dumps(fill["approver_state_after"]).encode())
    approver = ApproverChannel(state, clock=FakeClock(fill["clock"]))
    with pytest.raises(ReplayError) as caught:
        approver.receive(bytes.fromhex(fill["message_1"]))
    assert caught.value.code == "replayed"
