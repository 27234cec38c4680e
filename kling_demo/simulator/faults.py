"""Queued and random transport faults: error statuses, dropped sockets, slow and malformed answers."""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

KINDS = ("500", "502", "503", "429", "drop", "slow", "malformed", "task_error")
TARGETS = ("create", "poll", "download")
# What fault_rate draws from; it applies to polls only.
RANDOM_FAULTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("500", {}),
    ("502", {}),
    ("503", {}),
    ("429", {"retry_after": 0}),
    ("drop", {}),
    ("slow", {"seconds": 0.2}),
    ("malformed", {}),
)


@dataclass(frozen=True)
class Fault:
    """One fault to apply to one request."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)


class FaultQueue:
    """FIFO queues of injected faults per target, plus seeded random faults on polls."""

    def __init__(self, rng: random.Random, rng_lock: threading.Lock) -> None:
        self._queues: dict[str, deque[Fault]] = {t: deque() for t in TARGETS}
        self._lock = threading.Lock()
        self._rng = rng
        self._rng_lock = rng_lock
        self._malformed = 0

    def inject(self, kind: str, target: str = "poll", count: int = 1, **params: Any) -> None:
        """Queue count copies of a fault for the next requests to target."""
        kind = str(kind)
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
        if target not in TARGETS:
            raise ValueError(f"unknown fault target {target!r}; expected one of {', '.join(TARGETS)}")
        if kind == "task_error" and target != "create":
            raise ValueError("task_error only targets create")
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        with self._lock:
            self._queues[target].extend(Fault(kind, dict(params)) for _ in range(count))

    def take(self, target: str, fault_rate: float = 0.0) -> Fault | None:
        """The next fault for a request to target: a queued one first, else maybe a random one."""
        with self._lock:
            if self._queues[target]:
                return self._queues[target].popleft()
        if target == "poll" and fault_rate > 0:
            with self._rng_lock:
                if self._rng.random() < fault_rate:
                    kind, params = self._rng.choice(RANDOM_FAULTS)
                    return Fault(kind, dict(params))
        return None

    def pending(self) -> dict[str, int]:
        """How many injected faults wait per target."""
        with self._lock:
            return {t: len(q) for t, q in self._queues.items()}

    def next_malformed_is_text(self) -> bool:
        """Alternate malformed answers: not JSON at all, then JSON without a status."""
        with self._lock:
            self._malformed += 1
            return self._malformed % 2 == 1
