"""The poll schedule: sparse early, dense near the expected end, bounded in count."""

from __future__ import annotations

from kling_demo.polling import MAX_INTERVAL, MIN_INTERVAL, Tracker, format_seconds, next_interval
from kling_demo.status import TaskState, TaskStatus


def simulate(expected: float, actual: float) -> tuple[int, float]:
    """Polls made and delay between completion and the first poll that sees it."""
    t = [0.0]
    tracker = Tracker(
        TaskStatus("x", TaskState.QUEUED, "queued"), expected=expected, timeout=3600, clock=lambda: t[0]
    )
    while True:
        t[0] += tracker.wait_before_poll()
        done = t[0] >= actual
        tracker.record(
            TaskStatus(
                "x",
                TaskState.COMPLETED if done else TaskState.GENERATING,
                "completed" if done else "generating",
                video_url="u" if done else None,
            )
        )
        if done:
            return tracker.polls, t[0] - actual


def test_interval_bounds() -> None:
    assert next_interval(0, 210) == MAX_INTERVAL
    assert next_interval(209, 210) == MIN_INTERVAL
    assert MIN_INTERVAL <= next_interval(400, 210) <= MAX_INTERVAL


def test_typical_job_costs_few_polls_and_is_seen_fast() -> None:
    polls, delay = simulate(210, 210)
    assert polls <= 30
    assert delay <= 1.5


def test_late_job_backs_off() -> None:
    polls, delay = simulate(210, 300)
    assert polls <= 45  # 90 s late: backs off instead of polling every second
    assert delay <= MAX_INTERVAL


def test_early_job_is_still_caught() -> None:
    _, delay = simulate(210, 150)
    assert delay <= MAX_INTERVAL


def test_format_seconds() -> None:
    assert format_seconds(0) == "0:00"
    assert format_seconds(204) == "3:24"
