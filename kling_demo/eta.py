"""Expected run times per model and duration, learned from this app's own finished runs."""

from __future__ import annotations

import json
import os
import statistics
import threading
from collections.abc import Callable
from pathlib import Path

from .catalogue import get_model

WINDOW = 9


def documented_seconds(model_id: str, duration: int) -> float:
    """The provider's documented typical time, scaled to the clip length."""
    return get_model(model_id).typical_seconds(duration)


class EtaBook:
    """A rolling median of observed total times per (model, duration), seeded from the docs."""

    def __init__(
        self, path: Path | None = None, seed: Callable[[str, int], float] = documented_seconds
    ) -> None:
        self.path = path
        self.seed = seed
        self._lock = threading.Lock()
        self._runs: dict[str, list[float]] = {}
        if path and path.exists():
            try:
                self._runs = {
                    k: [float(x) for x in v][-WINDOW:] for k, v in json.loads(path.read_text()).items()
                }
            except (ValueError, OSError, AttributeError):
                self._runs = {}

    @staticmethod
    def _key(model_id: str, duration: int) -> str:
        return f"{model_id}|{int(duration)}"

    def expected(self, model_id: str, duration: int) -> float:
        """Seconds a job usually takes from submit to completed."""
        runs = self._runs.get(self._key(model_id, duration))
        return statistics.median(runs) if runs else self.seed(model_id, duration)

    def samples(self, model_id: str, duration: int) -> int:
        """How many finished runs the estimate rests on."""
        return len(self._runs.get(self._key(model_id, duration), ()))

    def record(self, model_id: str, duration: int, seconds: float) -> None:
        """Learn from one finished run."""
        if seconds <= 0:
            return
        with self._lock:
            runs = self._runs.setdefault(self._key(model_id, duration), [])
            runs.append(round(seconds, 2))
            del runs[:-WINDOW]
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(self._runs))
                os.replace(tmp, self.path)
