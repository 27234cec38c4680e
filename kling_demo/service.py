"""The job loop shared by the web UI, the API endpoints and the CLI: submit once, follow, save."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import DEFAULT_DEADLINE, KlingClient
from .errors import DownloadError, KlingError, NotFoundError, TaskTimeoutError
from .eta import EtaBook
from .jobs import JobRecord, JobStore
from .polling import Progress
from .request import CreateRequest, Settings, build_request
from .status import TaskState, TaskStatus, parse_state
from .storage import VideoStore, finished_files, safe_id

# Clean-up scans every stored file; after each of a burst of completions that would cost O(N^2).
CLEANUP_EVERY = 60.0


@dataclass(frozen=True)
class JobEvent:
    """One update about a job, for whoever is watching it."""

    record: JobRecord
    progress: Progress | None = None
    video: Path | None = None
    message: str = ""

    @property
    def done(self) -> bool:
        """True when nothing more will happen to this job."""
        return self.record.is_terminal

    def summary(self) -> str:
        """One line for a status area."""
        if self.message:
            return self.message
        if self.progress is not None:
            return self.progress.summary()
        return self.record.state.capitalize()


class JobService:
    """Owns the client, the job records, the video store and the ETA book."""

    def __init__(
        self,
        client: KlingClient,
        data_dir: Path,
        *,
        deadline: float = DEFAULT_DEADLINE,
        eta: EtaBook | None = None,
        keep_videos: int = 200,
        keep_days: float = 14,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.data_dir = data_dir
        self.videos = VideoStore(data_dir / "videos", keep_videos, keep_days)
        self.jobs = JobStore(data_dir / "jobs")
        self.thumbs = data_dir / "thumbs"
        self.inputs = data_dir / "inputs"
        for folder in (self.thumbs, self.inputs):
            folder.mkdir(parents=True, exist_ok=True)
        self.eta = eta or EtaBook(data_dir / "eta.json")
        self.deadline = deadline
        self.clock = clock
        self._last_cleanup = float("-inf")

    def prepare(self, image: str | Path | bytes | None, settings: Settings) -> CreateRequest:
        """Validate and build the request; InputError before anything is sent."""
        return build_request(image, settings)

    def expected_seconds(self, model_id: str, duration: int) -> float:
        """The ETA for a new job."""
        return self.eta.expected(model_id, duration)

    def submit(
        self,
        request: CreateRequest,
        settings: Settings,
        client: KlingClient | None = None,
        key_source: str = "server",
    ) -> JobRecord:
        """Send the one create request and record the job at once."""
        status = (client or self.client).create(request.body)
        now = self.clock()
        record = JobRecord(
            id=status.id,
            model=request.model.id,
            duration=request.duration,
            prompt=request.body.get("prompt", ""),
            created_at=now,
            settings={**settings.to_dict(), "end_image": bool(settings.end_image)},
            state=status.state.value,
            raw_status=status.raw_status,
            credits_used=status.credits_used,
            key_source=key_source,
        )
        self.jobs.save(record)
        return self.jobs.save(self._keep_input(record, request.image.data_uri))

    def _keep_input(self, record: JobRecord, data_uri: str) -> JobRecord:
        """Keep the sent image (for re-runs) and a thumbnail (for the history)."""
        from PIL import Image

        name = safe_id(record.id)
        original = self.inputs / f"{name}.jpg"
        thumb = self.thumbs / f"{name}.jpg"
        try:
            original.write_bytes(base64.b64decode(data_uri.split(",", 1)[1]))
            with Image.open(original) as img:
                img.thumbnail((320, 320))
                img.convert("RGB").save(thumb, "JPEG", quality=80)
        except (OSError, ValueError, IndexError):
            return record
        return dataclasses.replace(record, thumbnail=str(thumb), input_image=str(original))

    def record_for(self, generation_id: str) -> JobRecord:
        """The stored record, or a bare one for a job started elsewhere (a ?gen= link, the CLI)."""
        return self.jobs.get(generation_id) or JobRecord(
            id=generation_id, model="", duration=5, prompt="", created_at=self.clock()
        )

    def _apply(self, record: JobRecord, status: TaskStatus) -> JobRecord:
        changes: dict[str, Any] = {
            "state": status.state.value if status.state is not TaskState.UNKNOWN else record.state,
            "raw_status": status.raw_status,
        }
        if status.credits_used is not None:
            changes["credits_used"] = status.credits_used
        if status.video_url:
            changes["video_url"] = status.video_url
        if status.error:
            changes["error"] = status.error
        if status.is_terminal and record.finished_at is None:
            changes["finished_at"] = self.clock()
        updated = dataclasses.replace(record, **changes)
        return self.jobs.save(updated) if updated != record else record

    def _save_video(self, record: JobRecord, client: KlingClient) -> JobEvent:
        existing = Path(record.video_path) if record.video_path else self.videos.find(record.id)
        if existing and existing.exists():
            if record.video_path != str(existing):
                record = self.jobs.save(dataclasses.replace(record, video_path=str(existing)))
            return JobEvent(record, video=existing, message=self.done_message(record))
        assert record.video_url
        dest = self.videos.video_path(record.id, record.model or "kling", record.prompt, record.duration)
        try:
            client.download(record.video_url, dest)
        except DownloadError as exc:
            return JobEvent(record, message=f"{exc} Link: {record.video_url}")
        record = self.jobs.save(dataclasses.replace(record, video_path=str(dest)))
        self.videos.write_recipe(dest, self.recipe(record))
        if record.model and record.finished_at:
            self.eta.record(record.model, record.duration, record.finished_at - record.created_at)
        if self.clock() - self._last_cleanup > CLEANUP_EVERY:
            self.cleanup()
        return JobEvent(record, video=dest, message=self.done_message(record))

    def cleanup(self, now: float | None = None) -> int:
        """Apply the clean-up policy: videos by count and age; inputs, thumbnails and records by age."""
        now = self.clock() if now is None else now
        self._last_cleanup = now
        removed = len(self.videos.cleanup(now))
        horizon = now - self.videos.keep_days * 86400
        for folder in (self.inputs, self.thumbs, self.jobs.root):
            for path, mtime in finished_files(folder):
                if mtime < horizon:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    def recipe(self, record: JobRecord) -> dict[str, Any]:
        """The JSON written beside a video: inputs, id, model, timings, credits."""
        return {
            "generation_id": record.id,
            "model": record.model,
            "prompt": record.prompt,
            "duration": record.duration,
            "settings": record.settings,
            "credits_used": record.credits_used,
            "created_at": record.created_at,
            "finished_at": record.finished_at,
            "seconds": round(record.finished_at - record.created_at, 2) if record.finished_at else None,
            "provider_url": record.video_url,
        }

    @staticmethod
    def done_message(record: JobRecord) -> str:
        """What to say when a job has finished."""
        if record.state == "failed":
            return f"Generation {record.id} failed: {record.error or 'no reason given'}"
        took = f" in {record.finished_at - record.created_at:.0f} s" if record.finished_at else ""
        credits = f" · {record.credits_used:g} credits" if record.credits_used is not None else ""
        return f"Done{took}{credits} · generation {record.id}"

    def check(self, generation_id: str, client: KlingClient | None = None) -> JobEvent:
        """Poll once; if the job has finished, make sure its video is saved."""
        client = client or self.client
        record = self.record_for(generation_id)
        if record.state == "completed" and record.video_path and Path(record.video_path).exists():
            return JobEvent(record, video=Path(record.video_path), message=self.done_message(record))
        record = self._apply(record, client.get(generation_id))
        if record.state == "completed":
            return self._save_video(record, client)
        if record.state == "failed":
            return JobEvent(record, message=self.done_message(record))
        return JobEvent(record)

    async def follow(
        self,
        generation_id: str,
        client: KlingClient | None = None,
        *,
        tick: float | None = 1.0,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> AsyncIterator[JobEvent]:
        """Poll until the job ends, yielding events; saves the video; ends on timeout with the id."""
        client = client or self.client
        record = self.record_for(generation_id)
        if record.is_terminal:
            yield await client.run(self.check, generation_id, client)
            return
        first = TaskStatus(record.id, parse_state(record.state), record.raw_status)
        expected = self.expected_seconds(record.model, record.duration) if record.model else 210.0
        try:
            async for progress in client.aiter_status(
                first,
                expected=expected,
                timeout=self.deadline,
                tick=tick,
                clock=self.clock,
                sleep=sleep,
                started_at=record.created_at,
            ):
                if progress.polls and progress.note == "":
                    record = await client.run(self._apply, record, progress.status)
                if progress.status.state is TaskState.COMPLETED:
                    yield JobEvent(record, progress, message="Done · saving the video…")
                    yield await client.run(self._save_video, record, client)
                    return
                if progress.status.state is TaskState.FAILED:
                    yield JobEvent(record, progress, message=self.done_message(record))
                    return
                yield JobEvent(record, progress)
        except TaskTimeoutError as exc:
            yield JobEvent(record, message=str(exc))
        except NotFoundError:
            yield JobEvent(record, message=f"Generation {generation_id} is unknown to the API.")
        except KlingError as exc:
            yield JobEvent(record, message=f"{exc.user_message()} Generation id: {generation_id}.")
