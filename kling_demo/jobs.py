"""A small on-disk record of every job this app started, so jobs survive reloads and restarts."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .storage import safe_id


@dataclass(frozen=True)
class JobRecord:
    """What the app knows about one generation; replaced, never mutated."""

    id: str
    model: str
    duration: int
    prompt: str
    created_at: float
    settings: dict[str, Any] = field(default_factory=dict)
    state: str = "queued"
    raw_status: str = "queued"
    credits_used: float | None = None
    video_url: str | None = None
    video_path: str | None = None
    error: str = ""
    finished_at: float | None = None
    thumbnail: str | None = None
    input_image: str | None = None
    key_source: str = "server"

    @property
    def is_terminal(self) -> bool:
        """True once completed or failed."""
        return self.state in ("completed", "failed")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        """Rebuild from to_dict output, ignoring unknown keys."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class JobStore:
    """One JSON file per job under a folder; safe for many threads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _path(self, generation_id: str) -> Path:
        return self.root / f"{safe_id(generation_id)}.json"

    def save(self, record: JobRecord) -> JobRecord:
        """Write a record atomically and return it."""
        path = self._path(record.id)
        with self._lock:
            tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(record.to_dict(), default=str))
            os.replace(tmp, path)
        return record

    def get(self, generation_id: str) -> JobRecord | None:
        """The record for an id, or None."""
        try:
            record = JobRecord.from_dict(json.loads(self._path(generation_id).read_text()))
        except (OSError, ValueError, TypeError):
            return None
        return record if record.id == generation_id else None
