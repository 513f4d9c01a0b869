"""Counting recent requests per agent and per origin.

A page that triggers sign-in requests in a loop, or an agent that has been
talked into asking again and again, must not turn into a stream of prompts
the person learns to wave through. The approver counts every request it
receives (whatever becomes of it) in a sliding window, per agent key and
per frame origin, refuses requests over either limit without asking, and
shows both counts in every prompt.

Memory is bounded: keys whose window is empty are dropped, and at most
`max_keys` keys per kind are kept (the oldest go first), so a page that
invents a new origin for every request cannot grow the table without end.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "RecentCounts"]


@dataclass(frozen=True, slots=True)
class RecentCounts:
    """Requests in the last `window` seconds, this one included."""

    agent: int
    origin: int
    window: float


class _Window:
    def __init__(self, max_keys: int) -> None:
        self._times: OrderedDict[str, deque[float]] = OrderedDict()
        self._max_keys = max_keys

    def count(self, key: str, now: float, window: float) -> int:
        times = self._times.get(key)
        if times is None:
            return 0
        while times and times[0] <= now - window:
            times.popleft()
        if not times:
            del self._times[key]
            return 0
        return len(times)

    def add(self, key: str, now: float) -> None:
        times = self._times.setdefault(key, deque())
        times.append(now)
        self._times.move_to_end(key)
        while len(self._times) > self._max_keys:
            self._times.popitem(last=False)


class RateLimiter:
    """Sliding-window counts of requests per agent and per origin."""

    def __init__(
        self,
        *,
        window: float = 300.0,
        max_per_agent: int = 30,
        max_per_origin: int = 10,
        clock: Callable[[], float] = time.time,
        max_keys: int = 10_000,
    ) -> None:
        self.window = window
        self.max_per_agent = max_per_agent
        self.max_per_origin = max_per_origin
        self._clock = clock
        self._agents = _Window(max_keys)
        self._origins = _Window(max_keys)

    def record(self, agent: str, origin: str) -> tuple[RecentCounts, bool]:
        """Count one request; return the counts and whether it is allowed.

        A refused request still counts, so a loop stays refused for as long
        as it keeps going.
        """
        now = self._clock()
        self._agents.add(agent, now)
        self._origins.add(origin, now)
        counts = self.peek(agent, origin)
        allowed = (
            counts.agent <= self.max_per_agent and counts.origin <= self.max_per_origin
        )
        return counts, allowed

    def peek(self, agent: str, origin: str) -> RecentCounts:
        """The current counts without recording anything."""
        now = self._clock()
        return RecentCounts(
            agent=self._agents.count(agent, now, self.window),
            origin=self._origins.count(origin, now, self.window),
            window=self.window,
        )
