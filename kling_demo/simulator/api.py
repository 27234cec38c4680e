"""The provider's behaviour behind the HTTP layer: auth, create, poll, and provider-shaped errors."""

from __future__ import annotations

import random
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .config import SimulatorConfig
from .render_pool import RenderPool
from .tasks import (
    CREDITS_PER_SECOND,
    ERROR_TOKEN,
    SLOW_TOKEN,
    Task,
    TaskStore,
    error_object,
    file_key,
    link_or_copy,
)
from .validate import HEADLINE, ValidationFailed, validate_create

MSG_401 = (
    "This request requires a valid API key. You can create a new API key on the Billing page: "
    "https://aimlapi.com/app/keys"
)
MSG_403 = (
    "You've run out of credits. Please top up your balance or update your payment method to continue: "
    "https://aimlapi.com/app/billing/"
)
STATUS_MESSAGES = {
    429: "Too Many Requests",
    500: "Internal server error",
    502: "Bad Gateway",
    503: "Service unavailable",
}
NANOID_ALPHABET = string.ascii_letters + string.digits + "_-"
VIDEO_ROUTE = "/v2/_sim/videos/"
URL_LIFETIME = 30 * 24 * 3600  # Kling keeps results 30 days; the fake signature says so too


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, JSON body, extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def error_reply(status: int, message: str, path: str, headers: dict[str, str] | None = None) -> Reply:
    """The gateway's JSON error shape."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = {
        "message": message,
        "path": path,
        "requestId": str(uuid.uuid4()),
        "statusCode": status,
        "timestamp": stamp,
    }
    return Reply(status, body, dict(headers or {}))


def bearer_key(authorization: str | None) -> str:
    """The key from 'Authorization: Bearer <key>', or '' when absent or malformed."""
    scheme, _, key = (authorization or "").strip().partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


class GenerationAPI:
    """Creates and reports generation tasks, rendering their videos in the background."""

    def __init__(self, config: SimulatorConfig, data_dir: Path, rng: random.Random, rng_lock: threading.Lock):
        self.config = config
        self.store = TaskStore(data_dir)
        self.renders = RenderPool(data_dir / "cache", config.video_short_side, config.fps)
        self._rng = rng
        self._rng_lock = rng_lock
        self._lock = threading.Lock()
        self._errors_made = 0

    def _auth(self, authorization: str | None, path: str, creating: bool) -> Reply | None:
        key = bearer_key(authorization)
        valid = self.config.valid_keys
        if not key or (valid is not None and key not in valid):
            return error_reply(401, MSG_401, path)
        if creating and key in self.config.no_credit_keys:
            return error_reply(403, MSG_403, path)
        return None

    def _new_id(self, model_id: str) -> str:
        if self.config.id_style == "uuid-model":
            return f"{uuid.uuid4()}:{model_id}"
        return "".join(secrets.choice(NANOID_ALPHABET) for _ in range(21))

    def _failure(self, prompt: str, forced: bool) -> dict[str, Any] | None:
        """The error this task will end with, or None if it will succeed."""
        token = ERROR_TOKEN.search(prompt)
        with self._rng_lock:
            unlucky = self._rng.random() < self.config.error_rate
        if not (forced or token or unlucky):
            return None
        with self._lock:
            index = self._errors_made
            self._errors_made += 1
        # Error tasks alternate: the documented {name, message}, then the {detail: [...]} seen in the wild.
        shape = token.group(1) if token and token.group(1) else ("message" if index % 2 == 0 else "detail")
        return error_object(shape, index // 2)

    def create(
        self,
        body: Any,
        body_error: str | None,
        authorization: str | None,
        path: str,
        force_error: bool = False,
    ) -> Reply:
        """POST create: auth, credits, validation, then a queued task."""
        denied = self._auth(authorization, path, creating=True)
        if denied:
            return denied
        if body_error:
            return error_reply(400, f"{HEADLINE}\nbody: {body_error}", path)
        try:
            request = validate_create(body)
        except ValidationFailed as exc:
            return error_reply(400, exc.message, path)
        gid = self._new_id(request.model.id)
        slow = SLOW_TOKEN.search(request.prompt)
        end = request.end_image
        key_stem = file_key(gid)
        task = Task(
            id=gid,
            model=request.model.id,
            duration=request.duration,
            prompt=request.prompt,
            created_at=time.time(),
            queue_seconds=self.config.queue_seconds,
            generate_seconds=float(slow.group(1)) if slow else self.config.generate_seconds,
            credits_used=CREDITS_PER_SECOND * request.duration,
            render_key=self.renders.key(request.image.data, end.data if end else None, request.duration),
            image_file=f"{key_stem}.image.{request.image.ext}",
            end_image_file=f"{key_stem}.end.{end.ext}" if end else None,
            error=self._failure(request.prompt, force_error),
        )
        self.store.add(task, request.image.data, end.data if end else None)
        if task.error is None:
            self._ensure_render(task)
        usage = {"usage": {"credits_used": task.credits_used}}
        return Reply(200, {"id": gid, "status": "queued", "meta": usage}, {"x-inference-id": gid})

    def _ensure_render(self, task: Task) -> None:
        self.renders.submit(
            task.render_key, self.store.image_path(task), self.store.end_image_path(task), task.duration
        )

    def _video_ready(self, task: Task) -> bool:
        """True once the task's video is servable; starts (or resumes, after a restart) its render."""
        video = self.store.video_path(task)
        if video.exists():
            return True
        if self.renders.ready(task.render_key):
            link_or_copy(self.renders.path(task.render_key), video)
            return True
        self._ensure_render(task)
        return False

    def status(self, task: Task) -> tuple[str, dict[str, Any] | None]:
        """The task's provider status now, and its error object when the status is error."""
        phase = task.phase()
        if task.error is not None:
            return ("error", task.error) if phase == "done" else (phase, None)
        ready = self._video_ready(task)
        if phase != "done":
            return phase, None
        if ready:
            return "completed", None
        reason = self.renders.failure(task.render_key)
        if reason:
            return "error", {"name": "GenerationError", "message": f"Rendering failed: {reason}"}
        return "generating", None  # the clock says done, but the video is still rendering

    def poll(self, generation_id: str | None, authorization: str | None, path: str, host: str) -> Reply:
        """GET poll: the generation object for an id."""
        denied = self._auth(authorization, path, creating=False)
        if denied:
            return denied
        if not generation_id:
            return error_reply(400, f"{HEADLINE}\ngeneration_id: Required", path)
        task = self.store.get(generation_id)
        if task is None:
            return error_reply(404, f"Generation with id '{generation_id}' not found", path)
        status, error = self.status(task)
        body: dict[str, Any] = {"id": task.id, "status": status}
        if status == "completed":
            body["video"] = {"url": self.video_url(task, host)}
            body["meta"] = {"usage": {"credits_used": task.credits_used}}
        elif status == "error":
            body["error"] = error
        return Reply(200, body, {"x-inference-id": task.id})

    def video_url(self, task: Task, host: str) -> str:
        """Absolute URL of the task's video on whatever host the client used, with a CDN-like signature."""
        expires = int(task.created_at) + URL_LIFETIME
        return f"http://{host}{VIDEO_ROUTE}{task.key}.mp4?ksTime={expires:x}&cacheKey={task.render_key[:12]}"

    def video_file(self, name: str) -> Path | None:
        """The file behind a video URL's last path segment, if it exists."""
        stem, dot, ext = name.partition(".")
        if ext != "mp4" or not dot or len(stem) != 32 or any(c not in "0123456789abcdef" for c in stem):
            return None
        path = self.store.videos_dir / name
        return path if path.is_file() else None
