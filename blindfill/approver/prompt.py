"""Asking a person: the prompt interface and the terminal prompt.

The decision engine talks to a person through `Prompt`, an abstract class
with three coroutines: `ask` (approve a fill, choosing an item, or decline),
`ask_unlock` (the master password, when a request arrives while the
approver is locked) and `tell` (a one-line notice). The engine owns the
timeout: it cancels a pending `ask` when time is up, and a prompt must stop
waiting then. One prompt is shown at a time; the engine queues the rest.

`TerminalPrompt` is the implementation for a terminal. It reads lines from
a file descriptor without blocking the event loop (`FdLineReader`), and
writes to a text stream, so tests drive it through a pipe or a
pseudo-terminal. What it shows is built from `PromptQuestion`, in which the
trusted parts (the origins the browser engine reported, the agent's paired
name and key, vault metadata) are kept apart from the agent's reason, which
is cleaned of control characters and escape sequences, capped, and labelled
as unverified.

Stale answers: before every question the reader throws away anything typed
earlier, so a keystroke meant for a prompt that timed out can never answer
the next one. A blank line declines; approving needs the item's number.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import os
import select
import sys
import termios
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from blindfill.approver.request import FieldRole, FormKind
from blindfill.sensitive import Secret

__all__ = [
    "Candidate",
    "FdLineReader",
    "Prompt",
    "PromptQuestion",
    "TerminalPrompt",
    "UnlockQuestion",
]

_FORM_NAMES = {
    FormKind.LOGIN: "a login form",
    FormKind.USERNAME_STEP: "a username step",
    FormKind.PASSWORD_STEP: "a password step",
    FormKind.ONE_TIME_CODE_STEP: "a one-time-code step",
}
_FIELD_NAMES = {
    FieldRole.USERNAME: "username",
    FieldRole.PASSWORD: "password",
    FieldRole.ONE_TIME_CODE: "one-time code",
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A vault item the person may choose, numbered from 1. No secrets."""

    number: int
    item_id: str
    title: str
    username: str
    url: str
    has_totp: bool


@dataclass(frozen=True, slots=True)
class PromptQuestion:
    """Everything a person needs to decide one request, ready to show.

    All text is already cleaned for the terminal. `origin`, `top_origin` and
    `frame_chain` are rendered by `render_origin` (decoded and raw). When
    `candidates` is empty nothing can be filled and the person can only
    dismiss the request; `warnings` say why or what is unusual.
    """

    request_id: str
    agent_name: str
    agent_fingerprint: str
    origin: str
    top_origin: str
    frame_chain: tuple[str, ...]
    form_kind: FormKind
    fields: tuple[FieldRole, ...]
    reason: str
    candidates: tuple[Candidate, ...]
    warnings: tuple[str, ...]
    agent_recent: int
    origin_recent: int
    window_s: float
    timeout_s: float


@dataclass(frozen=True, slots=True)
class UnlockQuestion:
    """A request is waiting on a locked approver; ask for the master password."""

    vault: str
    agent_name: str
    origin: str
    attempt: int
    timeout_s: float


class Prompt(abc.ABC):
    """How the decision engine reaches a person. Implementations must be
    cancellable at every await: the engine cancels on timeout."""

    @abc.abstractmethod
    async def ask(self, question: PromptQuestion) -> str | None:
        """The id of the item the person chose, or None for no."""

    @abc.abstractmethod
    async def ask_unlock(self, question: UnlockQuestion) -> Secret[str] | None:
        """The master password, or None if the person leaves it locked."""

    @abc.abstractmethod
    async def tell(self, message: str) -> None:
        """Show a one-line notice (a timeout, a wrong password)."""


class FdLineReader:
    """Reads lines from a file descriptor inside an asyncio loop.

    It waits with `loop.add_reader` and reads only what is ready, so it
    never blocks the loop and never sets O_NONBLOCK (which a terminal shares
    with the process's output). Lines are decoded as UTF-8 with
    replacement; a line over `max_line` bytes is cut.
    """

    def __init__(self, fd: int, *, max_line: int = 4096) -> None:
        self.fd = fd
        self._buffer = bytearray()
        self._eof = False
        self._max_line = max_line

    @property
    def is_tty(self) -> bool:
        return os.isatty(self.fd)

    async def readline(self) -> str | None:
        """The next line without its newline, or None at end of input."""
        while b"\n" not in self._buffer:
            if self._eof:
                if not self._buffer:
                    return None
                break
            await self._wait_readable()
            chunk = os.read(self.fd, 4096)
            if not chunk:
                self._eof = True
            self._buffer += chunk
            if len(self._buffer) > self._max_line and b"\n" not in self._buffer:
                del self._buffer[self._max_line :]
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line[: self._max_line].decode("utf-8", "replace").rstrip("\r")

    def discard_pending(self) -> None:
        """Throw away everything typed or sent so far and not yet read."""
        self._buffer.clear()
        if self.is_tty:
            with contextlib.suppress(termios.error):
                termios.tcflush(self.fd, termios.TCIFLUSH)
        while not self._eof:
            ready, _, _ = select.select([self.fd], [], [], 0)
            if not ready:
                break
            if not os.read(self.fd, 4096):
                self._eof = True

    @contextlib.contextmanager
    def hidden(self) -> Iterator[None]:
        """Turn off terminal echo while reading a secret (no-op off a tty)."""
        if not self.is_tty:
            yield
            return
        saved = termios.tcgetattr(self.fd)
        quiet = termios.tcgetattr(self.fd)
        quiet[3] &= ~termios.ECHO
        termios.tcsetattr(self.fd, termios.TCSANOW, quiet)
        try:
            yield
        finally:
            termios.tcsetattr(self.fd, termios.TCSANOW, saved)

    async def _wait_readable(self) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        try:
            loop.add_reader(self.fd, wake)
        except PermissionError:
            return  # a regular file: always readable, read() will not block
        try:
            await ready
        finally:
            loop.remove_reader(self.fd)


class TerminalPrompt(Prompt):
    """A prompt on a terminal (or any line-oriented pair of streams)."""

    def __init__(self, reader: FdLineReader, output: TextIO) -> None:
        self._reader = reader
        self._out = output

    @classmethod
    def on_stdio(cls) -> TerminalPrompt:
        """Read answers from standard input, write questions to standard error."""
        return cls(FdLineReader(sys.stdin.fileno()), sys.stderr)

    async def ask(self, question: PromptQuestion) -> str | None:
        self._reader.discard_pending()
        self._write(render_question(question))
        if not question.candidates:
            self._write("Nothing can be filled. Press Enter to dismiss: ")
            await self._answer()
            return None

        count = len(question.candidates)
        choices = "1" if count == 1 else f"1-{count}"
        while True:
            self._write(f"Fill with item [{choices}], or Enter to decline: ")
            answer = await self._answer()
            if answer is None or answer.lower() in ("", "n", "no"):
                self._write("declined\n")
                return None
            if answer.isdigit() and 1 <= int(answer) <= count:
                chosen = question.candidates[int(answer) - 1]
                self._write(f"approved: item {chosen.number} ({chosen.title})\n")
                return chosen.item_id
            self._write(f"Please type a number from {choices}, or press Enter.\n")

    async def ask_unlock(self, question: UnlockQuestion) -> Secret[str] | None:
        self._reader.discard_pending()
        if question.attempt == 1:
            self._write(
                "\n== blindfill: the approver is locked ==\n"
                f"  agent {question.agent_name!r} asks to sign in to "
                f"{question.origin}\n"
                f"  (answer within {question.timeout_s:.0f} s)\n"
            )
        self._write(f"Master password for {question.vault} (Enter to stay locked): ")
        with self._reader.hidden():
            answer = await self._answer()
        self._write("\n" if self._reader.is_tty else "")
        if not answer:
            return None
        return Secret(answer, kind="master_password")

    async def tell(self, message: str) -> None:
        self._write(f"{message}\n")

    async def _answer(self) -> str | None:
        try:
            line = await self._reader.readline()
        except asyncio.CancelledError:
            self._write("\n(no answer in time: declined)\n")
            raise
        return None if line is None else line.strip()

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()


def render_question(question: PromptQuestion) -> str:
    """The text shown for `question`: trusted facts first, then the reason."""
    fields = ", ".join(_FIELD_NAMES[role] for role in question.fields)
    lines = [
        "",
        f"== blindfill: sign-in request (answer within {question.timeout_s:.0f} s) ==",
        f"  origin       {question.origin}",
    ]
    if len(question.frame_chain) > 1:
        lines.append(f"  top page     {question.top_origin}")
        lines.append("  frame chain  " + "  >  ".join(question.frame_chain))
    lines += [
        f"  form         {_FORM_NAMES[question.form_kind]}, asking for {fields}",
        f"  agent        {question.agent_name}  (key {question.agent_fingerprint})",
        f"  recent       {question.agent_recent} requests from this agent, "
        f"{question.origin_recent} for this origin, in the last "
        f"{question.window_s / 60:.0f} min",
    ]
    lines += [f"  WARNING      {warning}" for warning in question.warnings]
    lines += [
        "  -- the agent's reason (unverified: written by the agent or the page) --",
        f"  | {question.reason or '(none given)'}",
        "  --",
    ]
    if question.candidates:
        lines.append("  matching items:")
        for candidate in question.candidates:
            code = "  [+ one-time code]" if candidate.has_totp else ""
            lines.append(
                f"    {candidate.number}) {candidate.title} - "
                f"{candidate.username or '(no username)'} - {candidate.url}{code}"
            )
    return "\n".join(lines) + "\n"
