"""In-memory stand-ins for tests of the approver and of what calls it.

`MemoryVault` holds items without a file; `ScriptedPrompt` answers prompts
from a script (or waits, as a person who never answers would) and keeps
every question it was asked. Neither touches a terminal or the disk, so a
test can drive `DecisionEngine` the way the approver service will.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from blindfill.approver.items import Item
from blindfill.approver.prompt import Prompt, PromptQuestion, UnlockQuestion
from blindfill.sensitive import Secret

__all__ = ["HANG", "MemoryVault", "ScriptedPrompt"]


class _Hang:
    def __repr__(self) -> str:
        return "HANG"


# A scripted answer that never comes: the prompt waits until cancelled.
HANG: Final = _Hang()


class MemoryVault:
    """A read-only vault of the given items."""

    read_only = True

    def __init__(self, items: Iterable[Item], path: Path = Path("memory")) -> None:
        self.path = path
        self._items = tuple(items)

    def items(self) -> tuple[Item, ...]:
        return self._items

    def get(self, item_id: str) -> Item | None:
        return next((item for item in self._items if item.id == item_id), None)


class ScriptedPrompt(Prompt):
    """A prompt that answers from scripts and records what it was asked.

    `choices` answer `ask` in order: a candidate number (from 1), None to
    decline, or `HANG` to never answer. `passwords` answer `ask_unlock`: a
    string, None to stay locked, or `HANG`. An empty script hangs.
    """

    def __init__(
        self,
        *,
        choices: Iterable[int | _Hang | None] = (),
        passwords: Iterable[str | _Hang | None] = (),
    ) -> None:
        self.choices: deque[int | _Hang | None] = deque(choices)
        self.passwords: deque[str | _Hang | None] = deque(passwords)
        self.questions: list[PromptQuestion] = []
        self.unlock_questions: list[UnlockQuestion] = []
        self.messages: list[str] = []

    async def ask(self, question: PromptQuestion) -> str | None:
        self.questions.append(question)
        choice = self.choices.popleft() if self.choices else HANG
        if isinstance(choice, _Hang):
            await asyncio.Event().wait()
        if not isinstance(choice, int) or not 1 <= choice <= len(question.candidates):
            return None
        return question.candidates[choice - 1].item_id

    async def ask_unlock(self, question: UnlockQuestion) -> Secret[str] | None:
        self.unlock_questions.append(question)
        answer = self.passwords.popleft() if self.passwords else HANG
        if isinstance(answer, _Hang):
            await asyncio.Event().wait()
        return None if not isinstance(answer, str) else Secret(answer)

    async def tell(self, message: str) -> None:
        self.messages.append(message)
