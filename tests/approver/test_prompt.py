"""The terminal prompt, driven through a pipe and a pseudo-terminal."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import pty
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest

from blindfill.approver.audit import AuditLog
from blindfill.approver.decisions import DecisionEngine, EngineConfig, Outcome
from blindfill.approver.prompt import (
    Candidate,
    FdLineReader,
    PromptQuestion,
    TerminalPrompt,
    UnlockQuestion,
)
from blindfill.approver.request import (
    AgentIdentity,
    ApprovalRequest,
    FieldRole,
    FormKind,
)
from blindfill.approver.testing import MemoryVault
from blindfill.approver.text import clean_text
from blindfill.approver.vault import VaultAccess

from .test_decisions import BANK, MAIL

ITEMS = (
    Candidate(1, "id-1", "Bank", "alice", "https://bank.test/login", True),
    Candidate(2, "id-2", "Bank (work)", "alice@work", "https://bank.test", False),
)


def question(candidates: tuple[Candidate, ...] = ITEMS) -> PromptQuestion:
    return PromptQuestion(
        request_id="r1",
        agent_name="report-bot",
        agent_fingerprint="ab12 cd34",
        origin="https://bank.test",
        top_origin="https://bank.test",
        frame_chain=("https://bank.test",),
        form_kind=FormKind.LOGIN,
        fields=(FieldRole.USERNAME, FieldRole.PASSWORD),
        reason="check the balance",
        candidates=candidates,
        warnings=(),
        agent_recent=2,
        origin_recent=1,
        window_s=300,
        timeout_s=60,
    )


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_fd, write_fd = os.pipe()
    yield read_fd, write_fd
    for fd in (read_fd, write_fd):
        with contextlib.suppress(OSError):
            os.close(fd)


async def answer_later(fd: int, data: bytes, delay: float = 0.05) -> None:
    await asyncio.sleep(delay)
    os.write(fd, data)


async def test_number_chooses_the_item(pipe: tuple[int, int]) -> None:
    """Typing an item's number approves that item."""
    read_fd, write_fd = pipe
    out = io.StringIO()
    prompt = TerminalPrompt(FdLineReader(read_fd), out)
    typing = asyncio.create_task(answer_later(write_fd, b"2\n"))
    assert await prompt.ask(question()) == "id-2"
    await typing
    shown = out.getvalue()
    assert "origin       https://bank.test" in shown
    assert "2 requests from this agent, 1 for this origin" in shown
    assert "1) Bank - alice - https://bank.test/login  [+ one-time code]" in shown
    assert "approved: item 2" in shown


async def test_blank_line_declines_and_junk_asks_again(pipe: tuple[int, int]) -> None:
    """Only a valid number approves; anything else re-asks; Enter declines."""
    read_fd, write_fd = pipe
    out = io.StringIO()
    prompt = TerminalPrompt(FdLineReader(read_fd), out)
    typing = asyncio.create_task(answer_later(write_fd, b"yes\n7\n\n"))
    assert await prompt.ask(question()) is None
    await typing
    assert out.getvalue().count("Please type a number from 1-2") == 2
    assert "declined" in out.getvalue()


async def test_input_typed_before_the_question_is_discarded(
    pipe: tuple[int, int],
) -> None:
    """A keystroke left over from an earlier prompt never answers this one."""
    read_fd, write_fd = pipe
    os.write(write_fd, b"1\n")  # typed too late for the previous prompt
    prompt = TerminalPrompt(FdLineReader(read_fd), io.StringIO())
    typing = asyncio.create_task(answer_later(write_fd, b"\n"))
    assert await prompt.ask(question()) is None
    await typing


async def test_end_of_input_declines(pipe: tuple[int, int]) -> None:
    """End of input (the terminal went away) declines."""
    read_fd, write_fd = pipe
    prompt = TerminalPrompt(FdLineReader(read_fd), io.StringIO())
    os.close(write_fd)
    assert await prompt.ask(question()) is None


async def test_nothing_to_fill_can_only_be_dismissed(pipe: tuple[int, int]) -> None:
    """With no candidates, any answer (even a number) dismisses."""
    read_fd, write_fd = pipe
    out = io.StringIO()
    prompt = TerminalPrompt(FdLineReader(read_fd), out)
    typing = asyncio.create_task(answer_later(write_fd, b"1\n"))
    assert await prompt.ask(question(candidates=())) is None
    await typing
    assert "Nothing can be filled" in out.getvalue()


async def test_long_lines_are_cut(pipe: tuple[int, int]) -> None:
    """An over-long line is cut, and the next line still reads."""
    read_fd, write_fd = pipe
    reader = FdLineReader(read_fd, max_line=16)
    typing = asyncio.create_task(answer_later(write_fd, b"x" * 5000 + b"\nnext\n"))
    assert await reader.readline() == "x" * 16
    assert await reader.readline() == "next"
    await typing


async def test_unlock_reads_the_password_without_echo_on_a_tty() -> None:
    """On a terminal the master password is read with echo off, then echo is back."""
    master, slave = pty.openpty()
    try:
        out = io.StringIO()
        prompt = TerminalPrompt(FdLineReader(slave), out)
        unlock = UnlockQuestion(
            vault="/v.bfv",
            agent_name="bot",
            origin="https://bank.test",
            attempt=1,
            timeout_s=60,
        )
        typing = asyncio.create_task(answer_later(master, b"hunter2-master\n"))
        secret = await prompt.ask_unlock(unlock)
        await typing
        assert secret is not None
        assert secret.reveal() == "hunter2-master"
        # Nothing came back to the terminal: echo was off while it was typed.
        echoed = b""
        while True:
            ready = await asyncio.to_thread(_readable, master)
            if not ready:
                break
            echoed += os.read(master, 1024)
        assert b"hunter2" not in echoed
        assert termios.tcgetattr(slave)[3] & termios.ECHO
        assert "the approver is locked" in out.getvalue()
    finally:
        os.close(master)
        os.close(slave)


def _readable(fd: int) -> bool:
    import select

    return bool(select.select([fd], [], [], 0.05)[0])


async def test_unlock_blank_stays_locked(pipe: tuple[int, int]) -> None:
    """A blank answer to the unlock prompt means stay locked."""
    read_fd, write_fd = pipe
    prompt = TerminalPrompt(FdLineReader(read_fd), io.StringIO())
    unlock = UnlockQuestion(
        vault="v", agent_name="b", origin="o", attempt=2, timeout_s=5
    )
    typing = asyncio.create_task(answer_later(write_fd, b"\n"))
    assert await prompt.ask_unlock(unlock) is None
    await typing


async def test_engine_over_a_pipe_times_out_and_ignores_late_answers(
    pipe: tuple[int, int], tmp_path: Path
) -> None:
    """A timed-out prompt says so; an answer typed late does not approve the next."""
    read_fd, write_fd = pipe
    out = io.StringIO()
    engine = DecisionEngine(
        vault=VaultAccess.unlocked(MemoryVault([BANK, MAIL])),
        audit=AuditLog(tmp_path / "audit.jsonl"),
        prompt=TerminalPrompt(FdLineReader(read_fd), out),
        config=EngineConfig(decision_timeout=0.2),
    )
    agent = AgentIdentity("bot", "ff00")

    def req(n: int) -> ApprovalRequest:
        return ApprovalRequest.build(
            request_id=f"req-{n}",
            agent=agent,
            frame_origin="https://bank.test",
            top_origin="https://bank.test",
            form_kind="login",
            fields=["username", "password"],
            reason="Approve login for Bank\x1b[31m NOW\nplease",
        )

    first = await engine.decide(req(1))
    assert first.outcome is Outcome.DECLINED
    assert "(no answer in time: declined)" in out.getvalue()
    os.write(write_fd, b"1\n")  # the person answers the first prompt, too late
    second = await engine.decide(req(2))
    assert second.outcome is Outcome.DECLINED
    assert second.decided_by == "timeout"
    shown = out.getvalue()
    assert "\x1b" not in shown
    assert "unverified" in shown
    assert "| Approve login for Bank NOW please" in shown


def test_clean_text_strips_escapes_controls_and_caps() -> None:
    """Security case 21: escape sequences, controls and bidi marks are removed."""
    hostile = (
        "\x1b[2J\x1b[H\x1b]0;owned\x07\x1bP+q\x1b\\ok\r\n\tnext\u202e\u2066\u200b"
        "\x9b31mred\x00\x7f end"
    )
    assert clean_text(hostile) == "ok nextred end"
    assert clean_text("a" * 50, limit=10) == "a" * 9 + "…"
    assert clean_text("") == ""
    assert clean_text("bänk ✓ 日本") == "bänk ✓ 日本"
