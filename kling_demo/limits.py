"""Per-visitor limits for a public app spending the owner's key: jobs per hour and jobs at once."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from .errors import KlingError


class LimitError(KlingError):
    """A visitor is over their share; nothing was sent."""


@dataclass(frozen=True)
class Quota:
    """What a visitor has left."""

    left_this_hour: int
    running: int
    per_hour: int
    at_once: int

    def describe(self) -> str:
        """'N left this hour' for the page."""
        return f"{self.left_this_hour} of {self.per_hour} generations left this hour · {self.at_once} at once"


class VisitorLimits:
    """Sliding one-hour window and a concurrent-job cap per visitor id."""

    def __init__(
        self, per_hour: int = 5, at_once: int = 2, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_hour = per_hour
        self.at_once = at_once
        self.clock = clock
        self._starts: dict[str, deque[float]] = defaultdict(deque)
        self._running: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def _trim(self, visitor: str) -> deque[float]:
        starts = self._starts[visitor]
        cutoff = self.clock() - 3600
        while starts and starts[0] <= cutoff:
            starts.popleft()
        return starts

    def quota(self, visitor: str) -> Quota:
        """The visitor's remaining allowance."""
        with self._lock:
            used = len(self._trim(visitor))
            return Quota(max(0, self.per_hour - used), self._running[visitor], self.per_hour, self.at_once)

    def acquire(self, visitor: str) -> None:
        """Count a new job, or raise LimitError saying when to come back."""
        with self._lock:
            starts = self._trim(visitor)
            if self._running[visitor] >= self.at_once:
                raise LimitError(
                    f"You already have {self._running[visitor]} jobs running; the limit here is "
                    f"{self.at_once} at once. Wait for one to finish."
                )
            if len(starts) >= self.per_hour:
                wait = 3600 - (self.clock() - starts[0])
                raise LimitError(
                    f"This public demo allows {self.per_hour} generations per hour per visitor. "
                    f"Try again in {wait / 60:.0f} min, or paste your own API key."
                )
            starts.append(self.clock())
            self._running[visitor] += 1

    def release(self, visitor: str) -> None:
        """A job this visitor started has stopped being watched."""
        with self._lock:
            self._running[visitor] = max(0, self._running[visitor] - 1)

    def refund(self, visitor: str) -> None:
        """Undo acquire for a job that was never created (refused input, network failure)."""
        with self._lock:
            if self._starts[visitor]:
                self._starts[visitor].pop()
            self._running[visitor] = max(0, self._running[visitor] - 1)
