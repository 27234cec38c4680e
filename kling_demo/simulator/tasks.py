"""Generation tasks: their wall-clock life cycle and their files on disk."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CREDITS_PER_SECOND = 1000
SLOW_TOKEN = re.compile(r"\[sim:slow=(\d+(?:\.\d+)?)\]")
ERROR_TOKEN = re.compile(r"\[sim:error(?:=(message|detail))?\]")
ERROR_MESSAGES = (
    "Generation failed: the model could not animate this image (simulated)",
    "Failure to pass the risk control system (simulated)",
)


def file_key(generation_id: str) -> str:
    """A file-name-safe, fixed-length name for a generation id (ids may hold ':' and '/')."""
    return hashlib.sha256(generation_id.encode()).hexdigest()[:32]


def error_object(shape: str, index: int) -> dict[str, Any]:
    """The task-level error in one of the two shapes the provider is known to send."""
    if shape == "detail":
        return {
            "detail": [
                {
                    "loc": ["body", "image_url"],
                    "msg": "Could not detect face in the image",
                    "type": "face_detection_error",
                }
            ]
        }
    return {"name": "GenerationError", "message": ERROR_MESSAGES[index % len(ERROR_MESSAGES)]}


@dataclass(frozen=True)
class Task:
    """One generation as stored: everything its status can be computed from."""

    id: str
    model: str
    duration: int
    prompt: str
    created_at: float  # time.time() at create; state is derived from it, so it survives restarts
    queue_seconds: float
    generate_seconds: float
    credits_used: int
    render_key: str
    image_file: str
    end_image_file: str | None = None
    error: dict[str, Any] | None = None  # set when the task is to end in error

    @property
    def key(self) -> str:
        """File name stem of this task's files."""
        return file_key(self.id)

    def phase(self, now: float | None = None) -> str:
        """queued, generating, or done (finished on the clock; the video may still be rendering)."""
        elapsed = (time.time() if now is None else now) - self.created_at
        if elapsed < self.queue_seconds:
            return "queued"
        if elapsed < self.queue_seconds + self.generate_seconds:
            return "generating"
        return "done"


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def link_or_copy(src: Path, dst: Path) -> None:
    """Make dst the same file as src: a hard link where possible, else an atomic copy."""
    if dst.exists():
        return
    try:
        os.link(src, dst)
    except FileExistsError:
        pass
    except OSError:
        fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.")
        os.close(fd)
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


class TaskStore:
    """Tasks in memory, backed by one JSON file per task (and its input images) under data_dir."""

    def __init__(self, data_dir: Path) -> None:
        self.tasks_dir = data_dir / "tasks"
        self.videos_dir = data_dir / "videos"
        for folder in (self.tasks_dir, self.videos_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._tasks: dict[str, Task] = {}
        self._lock = threading.Lock()

    def add(self, task: Task, image: bytes, end_image: bytes | None) -> None:
        """Persist a new task: images first, then its JSON (the JSON's presence means complete)."""
        _write_atomic(self.tasks_dir / task.image_file, image)
        if task.end_image_file and end_image is not None:
            _write_atomic(self.tasks_dir / task.end_image_file, end_image)
        _write_atomic(self.tasks_dir / f"{task.key}.json", json.dumps(asdict(task)).encode())
        with self._lock:
            self._tasks[task.id] = task

    def get(self, generation_id: str) -> Task | None:
        """The task with this id, loading it from disk if another run created it."""
        with self._lock:
            task = self._tasks.get(generation_id)
        if task is not None:
            return task
        path = self.tasks_dir / f"{file_key(generation_id)}.json"
        try:
            task = Task(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if task.id != generation_id:
            return None
        with self._lock:
            self._tasks.setdefault(task.id, task)
        return task

    def count(self) -> int:
        """Number of tasks on disk, from this run and earlier ones."""
        return sum(1 for _ in self.tasks_dir.glob("*.json"))

    def image_path(self, task: Task) -> Path:
        """The stored first-frame image."""
        return self.tasks_dir / task.image_file

    def end_image_path(self, task: Task) -> Path | None:
        """The stored end-frame image, if one was sent."""
        return self.tasks_dir / task.end_image_file if task.end_image_file else None

    def video_path(self, task: Task) -> Path:
        """Where the finished video of this task is served from."""
        return self.videos_dir / f"{task.key}.mp4"
