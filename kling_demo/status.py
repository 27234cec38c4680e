"""The one place that reads the provider's status strings and generation objects."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .errors import UnexpectedResponseError


class TaskState(str, Enum):
    """What a generation is doing, in the app's own terms."""

    QUEUED = "queued"
    GENERATING = "generating"
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """True once the task cannot change any more."""
        return self in (TaskState.COMPLETED, TaskState.FAILED)


_STATES: dict[str, TaskState] = {
    "queued": TaskState.QUEUED,
    "waiting": TaskState.QUEUED,
    "active": TaskState.QUEUED,
    "pending": TaskState.QUEUED,
    "generating": TaskState.GENERATING,
    "processing": TaskState.GENERATING,
    "in_progress": TaskState.GENERATING,
    "completed": TaskState.COMPLETED,
    "succeeded": TaskState.COMPLETED,
    "success": TaskState.COMPLETED,
    "error": TaskState.FAILED,
    "failed": TaskState.FAILED,
}


_LABELS = {
    TaskState.QUEUED: "Queued",
    TaskState.GENERATING: "Generating",
    TaskState.COMPLETED: "Done",
    TaskState.FAILED: "Failed",
}


def parse_state(raw: str) -> TaskState:
    """Map a provider status string; unknown strings are UNKNOWN, never an exception."""
    return _STATES.get(str(raw).strip().lower(), TaskState.UNKNOWN)


def error_text(error: Any) -> str:
    """Turn the error field, whatever its shape, into readable text."""
    if error is None or error == "" or error == {}:
        return ""
    if isinstance(error, str):
        return error.strip()
    if isinstance(error, Mapping):
        message = error.get("message") or error.get("msg")
        if isinstance(message, str) and message.strip():
            name = error.get("name")
            return (
                f"{name}: {message.strip()}"
                if isinstance(name, str) and name and name not in message
                else message.strip()
            )
        detail = error.get("detail")
        if detail is not None:
            return error_text(detail)
    if isinstance(error, list):
        parts = [error_text(item) for item in error]
        return "; ".join(p for p in parts if p)
    return json.dumps(error, ensure_ascii=False, default=str)[:500]


def _credits(meta: Any) -> float | None:
    usage = meta.get("usage") if isinstance(meta, Mapping) else None
    if not isinstance(usage, Mapping):
        return None
    for key in ("credits_used", "tokens_used"):
        value = usage.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


@dataclass(frozen=True)
class TaskStatus:
    """An immutable snapshot of one generation as the API last described it."""

    id: str
    state: TaskState
    raw_status: str
    video_url: str | None = None
    error: str = ""
    credits_used: float | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        """True when the task has completed or failed."""
        return self.state.is_terminal

    @classmethod
    def from_json(cls, body: Any, *, expected_id: str | None = None) -> TaskStatus:
        """Parse a generation object; UnexpectedResponseError if it is not one."""
        if not isinstance(body, Mapping):
            raise UnexpectedResponseError(f"Expected a JSON object from the API, got {type(body).__name__}.")
        raw_status = body.get("status")
        gen_id = body.get("id") or body.get("generation_id") or expected_id
        if not isinstance(raw_status, str) or not raw_status or not isinstance(gen_id, str) or not gen_id:
            raise UnexpectedResponseError(
                f"The API's answer has no id or status: {json.dumps(body, default=str)[:200]}"
            )
        state = parse_state(raw_status)
        video = body.get("video")
        url = video.get("url") if isinstance(video, Mapping) else video if isinstance(video, str) else None
        if state is TaskState.COMPLETED and not url:
            raise UnexpectedResponseError(
                f"Generation {gen_id} is completed but the answer has no video URL."
            )
        error = error_text(body.get("error"))
        if state is TaskState.FAILED and not error:
            error = "The provider gave no reason."
        return cls(gen_id, state, raw_status, url or None, error, _credits(body.get("meta")), dict(body))

    def label(self) -> str:
        """A short human word for the state; unknown statuses are shown as the API spelt them."""
        if self.state is TaskState.UNKNOWN:
            return f"status '{self.raw_status}'"
        return _LABELS[self.state]
