"""When to poll and what to tell the user: a pure, clock-driven tracker shared by sync and async loops."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .status import TaskState, TaskStatus

MIN_INTERVAL = 1.0
MAX_INTERVAL = 15.0
# Each wait is this share of the time expected to remain: sparse early, dense near the expected end.
REMAINING_SHARE = 0.25
# Past the expected end the job is late by an unknown amount; back off slowly from the densest rate.
LATE_GROWTH = 0.2


def next_interval(elapsed: float, expected: float) -> float:
    """Seconds to wait before the next poll, given time since submit and the expected total."""
    remaining = expected - elapsed
    wait = remaining * REMAINING_SHARE if remaining > 0 else MIN_INTERVAL - remaining * LATE_GROWTH
    return max(MIN_INTERVAL, min(MAX_INTERVAL, wait))


@dataclass(frozen=True)
class Progress:
    """One status event for a user: the last snapshot plus timing."""

    status: TaskStatus
    elapsed: float
    expected: float
    polls: int
    queued_for: float | None = None
    note: str = ""

    @property
    def state(self) -> TaskState:
        """The task's state at the last poll."""
        return self.status.state

    @property
    def remaining(self) -> float | None:
        """Seconds likely left, or None once the estimate has passed."""
        left = self.expected - self.elapsed
        return left if left > 0 and not self.status.is_terminal else None

    def summary(self) -> str:
        """One line: state, elapsed, estimate."""
        text = f"{self.status.label()} · {format_seconds(self.elapsed)} elapsed"
        if self.status.is_terminal:
            return text
        if self.note:
            text = f"{text} · {self.note}"
        if self.remaining is not None:
            return f"{text} · about {format_seconds(self.remaining)} left"
        return f"{text} · taking longer than the usual {format_seconds(self.expected)}"


def format_seconds(seconds: float) -> str:
    """m:ss for a person."""
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Tracker:
    """Decides when the next poll is due and builds Progress events; holds no I/O."""

    def __init__(
        self,
        status: TaskStatus,
        *,
        expected: float,
        timeout: float,
        clock: Callable[[], float],
        started_at: float | None = None,
    ) -> None:
        self.clock = clock
        self.started_at = clock() if started_at is None else started_at
        self.expected = max(1.0, expected)
        self.timeout = timeout
        self.status = status
        self.polls = 0
        self.generating_since: float | None = None
        self.queued_for: float | None = None
        self.note = ""
        self._next_poll = self.started_at + min(MIN_INTERVAL * 2, next_interval(0.0, self.expected))
        self._note_state(status)

    @property
    def elapsed(self) -> float:
        """Seconds since the job was submitted."""
        return self.clock() - self.started_at

    @property
    def expired(self) -> bool:
        """True once the overall deadline has passed."""
        return self.elapsed >= self.timeout

    def _note_state(self, status: TaskStatus) -> None:
        if status.state is TaskState.GENERATING and self.generating_since is None:
            self.generating_since = self.clock()
            self.queued_for = self.generating_since - self.started_at

    def record(self, status: TaskStatus) -> Progress:
        """Take a new snapshot and schedule the next poll."""
        self.polls += 1
        self.status = status
        self.note = ""
        self._note_state(status)
        now = self.clock()
        self._next_poll = now + next_interval(now - self.started_at, self.expected)
        return self.progress()

    def record_failure(self, message: str) -> Progress:
        """A poll failed transiently: keep the last snapshot, say so, and try again soon."""
        self.polls += 1
        self.note = message
        now = self.clock()
        self._next_poll = now + min(
            MAX_INTERVAL, max(2.0, next_interval(now - self.started_at, self.expected))
        )
        return self.progress()

    def progress(self) -> Progress:
        """The current event (elapsed time moves on between polls)."""
        return Progress(self.status, self.elapsed, self.expected, self.polls, self.queued_for, self.note)

    def wait_before_poll(self) -> float:
        """Seconds until the next poll is due (never past the deadline)."""
        deadline = self.started_at + self.timeout
        return max(0.0, min(self._next_poll, deadline) - self.clock())
