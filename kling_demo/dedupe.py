"""One paid job per intent: identical submissions from one visitor while the first runs share a job."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class DuplicateGuard(Generic[T]):
    """Collapses a double click (or a client's hasty retry) into the first submission's result."""

    def __init__(self, window: float = 15.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._recent: dict[Hashable, tuple[float, asyncio.Future[T]]] = {}

    async def once(self, key: Hashable, start: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """Run start() unless an identical key ran within the window; return (result, ran_here)."""
        now = self.clock()
        self._recent = {k: v for k, v in self._recent.items() if now - v[0] < self.window}
        if key in self._recent:
            return await asyncio.shield(self._recent[key][1]), False
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._recent[key] = (now, future)
        try:
            result = await start()
        except BaseException as exc:
            self._recent.pop(key, None)  # a refused or failed start may be retried at once
            future.set_exception(exc)
            future.exception()  # mark retrieved: no "never retrieved" warning when nobody else waits
            raise
        future.set_result(result)
        return result, True

    def forget(self, key: Hashable) -> None:
        """The first submission has finished: an identical one from now on is a deliberate re-run."""
        self._recent.pop(key, None)
