"""Background rendering with a content-addressed cache: identical jobs render once."""

from __future__ import annotations

import hashlib
import sys
import threading
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .render import render_clip

RENDER_VERSION = "1"  # bump when the look of rendered clips changes, to invalidate old caches
MAX_WORKERS = 2


class RenderPool:
    """Renders clips on at most two threads into cache_dir/<key>.mp4."""

    def __init__(self, cache_dir: Path, short_side: int, fps: int) -> None:
        self.cache_dir = cache_dir
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.short_side = short_side
        self.fps = fps
        self.render_count = 0  # clips actually rendered (cache hits do not count)
        self._pool = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="sim-render")
        self._jobs: dict[str, Future[None]] = {}
        self._failures: dict[str, str] = {}
        self._lock = threading.Lock()

    def key(self, image: bytes, end_image: bytes | None, duration: float) -> str:
        """Cache key of a clip: the inputs and every setting that changes the output."""
        h = hashlib.sha256()
        for part in (RENDER_VERSION, str(duration), str(self.short_side), str(self.fps)):
            h.update(part.encode() + b"\0")
        h.update(hashlib.sha256(image).digest())
        h.update(hashlib.sha256(end_image).digest() if end_image else b"-")
        return h.hexdigest()[:40]

    def path(self, key: str) -> Path:
        """Where the clip with this key is (or will be) cached."""
        return self.cache_dir / f"{key}.mp4"

    def ready(self, key: str) -> bool:
        """True once the clip is on disk."""
        return self.path(key).exists()

    def failure(self, key: str) -> str | None:
        """Why rendering this clip failed, if it did."""
        with self._lock:
            return self._failures.get(key)

    def submit(
        self, key: str, image_path: Path, end_path: Path | None, duration: float
    ) -> Future[None] | None:
        """Start rendering unless the clip is cached, already rendering, or has failed."""
        with self._lock:
            if key in self._jobs:
                return self._jobs[key]
            if key in self._failures or self.ready(key):
                return None
            try:
                job = self._pool.submit(self._render, key, image_path, end_path, duration)
            except RuntimeError:  # pool shut down: the simulator is stopping
                return None
            self._jobs[key] = job
            return job

    def _render(self, key: str, image_path: Path, end_path: Path | None, duration: float) -> None:
        try:
            if self.ready(key):
                return
            end = end_path.read_bytes() if end_path else None
            render_clip(image_path.read_bytes(), end, duration, self.short_side, self.fps, self.path(key))
            with self._lock:
                self.render_count += 1
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            with self._lock:
                self._failures[key] = f"{type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                self._jobs.pop(key, None)

    def shutdown(self, wait: bool = False) -> None:
        """Stop taking jobs; queued ones are cancelled, a running one finishes in the background."""
        self._pool.shutdown(wait=wait, cancel_futures=True)
