"""A thread-safe log of the requests the simulator received, for tests to assert on."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

MAX_STRING = 4096  # longer strings (base64 images) are shortened in the log to keep memory flat
KEEP_CHARS = 256


class Headers(dict[str, str]):
    """A dict of headers whose lookups ignore case (keys are stored lower-case)."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__((str(k).lower(), v) for k, v in dict(items).items())

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        """Case-insensitive get."""
        return super().get(key.lower(), default)


def shorten(value: Any) -> Any:
    """A copy of a JSON value with very long strings cut to a prefix plus their length."""
    if isinstance(value, str) and len(value) > MAX_STRING:
        return f"{value[:KEEP_CHARS]}...[{len(value)} chars]"
    if isinstance(value, dict):
        return {k: shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shorten(v) for v in value]
    return value


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received. json is the parsed body (long strings shortened) or None."""

    method: str
    path: str
    query: dict[str, str]
    headers: Headers
    json: Any
    time: float


class RequestLog:
    """Append-only, lock-protected list of RecordedRequest."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def add(self, item: RecordedRequest) -> None:
        """Record one request."""
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[RecordedRequest]:
        """A copy of everything recorded so far, oldest first."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        """Forget every recorded request."""
        with self._lock:
            self._items.clear()
