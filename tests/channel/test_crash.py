"""Crash recovery: a kill -9 between any two steps of a fill loses no pairing.

A fill is eight steps on two machines. The sides persist their state files
(through `blindfill.pairing_state`) in the documented order: the browser side
before sending message 1 and after reading message 2, the approver before
sending message 2. Each test crashes one side (or both) after one step: the
crashed side loses everything in memory and restarts from its file; the other
side keeps running but its pending attempt is abandoned, as after a timeout.
Two ordinary fills must then succeed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from blindfill.channel import (
    ApproverChannel,
    BrowserChannel,
    BrowserState,
    FieldRole,
    FillStart,
    FormKind,
    Grant,
    PendingRequest,
    Reply,
)
from blindfill.channel.testing import ChannelPair, FakeClock
from blindfill.pairing_state import (
    load_approver_state,
    load_browser_state,
    save_approver_state,
    save_browser_state,
)
from blindfill.sensitive import Secret

STEPS = (
    "browser_starts",  # builds message 1 in memory
    "browser_saves",  # persists the state holding the retry token
    "approver_receives",  # message 1 crosses the network
    "approver_answers",  # builds message 2 in memory
    "approver_saves",  # persists current and next link
    "browser_gets_answer",  # message 2 crosses the network
    "browser_reads",  # reads message 2 in memory
    "browser_saves_again",  # persists the advanced chain
)


@dataclass
class World:
    """Two machines, each with a state file and a process that may die."""

    clock: FakeClock
    browser_file: Path
    approver_file: Path
    browser: BrowserChannel
    approver: ApproverChannel
    start: FillStart | None = None
    pending: PendingRequest | None = None
    reply: Reply | None = None
    answer: bytes | None = None
    outcome_state: BrowserState | None = None
    filled: list[str] = field(default_factory=list)

    def restart_browser(self) -> None:
        state = load_browser_state(self.browser_file)
        assert state is not None
        self.browser = BrowserChannel(state, clock=self.clock)
        self.start = None
        self.answer = None

    def restart_approver(self) -> None:
        state = load_approver_state(self.approver_file)
        assert state is not None
        self.approver = ApproverChannel(state, clock=self.clock)
        self.pending = None
        self.reply = None

    def step(self, name: str, value: str) -> None:
        if name == "browser_starts":
            request = self.browser.new_request(
                frame_origin="https://bank.test",
                top_origin="https://bank.test",
                form_kind=FormKind.LOGIN,
                fields=(FieldRole.PASSWORD,),
                reason="crash test",
            )
            self.start = self.browser.start_fill(request)
        elif name == "browser_saves":
            assert self.start is not None
            save_browser_state(self.browser_file, self.start.state)
        elif name == "approver_receives":
            assert self.start is not None
            self.pending = self.approver.receive(self.start.frame)
        elif name == "approver_answers":
            assert self.pending is not None
            self.reply = self.pending.grant({FieldRole.PASSWORD: Secret(value)})
        elif name == "approver_saves":
            assert self.reply is not None
            save_approver_state(self.approver_file, self.reply.state)
        elif name == "browser_gets_answer":
            assert self.reply is not None
            self.answer = self.reply.frame
        elif name == "browser_reads":
            assert self.start is not None
            assert self.answer is not None
            outcome = self.start.pending.receive(self.answer)
            assert isinstance(outcome.decision, Grant)
            self.filled.append(outcome.decision.values[FieldRole.PASSWORD].reveal())
            self.outcome_state = outcome.state
        elif name == "browser_saves_again":
            assert self.outcome_state is not None
            save_browser_state(self.browser_file, self.outcome_state)

    def full_fill(self, value: str) -> None:
        self.clock.advance(3)  # the browser side's timeout, then a new attempt
        self.start = None
        self.pending = None
        self.reply = None
        self.answer = None
        for name in STEPS:
            self.step(name, value)


def _world(tmp_path: Path) -> World:
    pair = ChannelPair.paired()
    browser_file = tmp_path / "browser.json"
    approver_file = tmp_path / "approver.json"
    save_browser_state(browser_file, pair.browser_state)
    save_approver_state(approver_file, pair.approver_state)
    world = World(pair.clock, browser_file, approver_file, pair.browser, pair.approver)
    world.full_fill("warm-up")  # start from an epoch with history
    return world


@pytest.mark.parametrize("side", ["browser", "approver", "both"])
@pytest.mark.parametrize("crash_after", range(len(STEPS) + 1))
def test_crash_between_any_two_steps_recovers(
    tmp_path: Path, crash_after: int, side: str
) -> None:
    """Security case 32: after a crash at any step the next fills work unpaired-free."""
    world = _world(tmp_path)
    for name in STEPS[:crash_after]:
        world.step(name, "interrupted")

    if side in ("browser", "both"):
        world.restart_browser()
    if side in ("approver", "both"):
        world.restart_approver()

    world.full_fill("after-crash-1")
    world.full_fill("after-crash-2")
    assert world.filled[-2:] == ["after-crash-1", "after-crash-2"]


def test_state_files_are_private_and_reload_identically(tmp_path: Path) -> None:
    """State files are mode 0600 and load back equal to what was saved."""
    world = _world(tmp_path)
    for path in (world.browser_file, world.approver_file):
        assert path.stat().st_mode & 0o777 == 0o600
    assert load_browser_state(world.browser_file) == world.browser.state
    assert load_approver_state(world.approver_file) == world.approver.state
