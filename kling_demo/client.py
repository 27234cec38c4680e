"""KlingClient: create a generation once, poll it with retries, stream status, save the video."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from .errors import (
    APIConnectionError,
    APIError,
    DownloadError,
    GenerationFailedError,
    KlingError,
    RateLimitError,
    ServerError,
    TaskTimeoutError,
    UnexpectedResponseError,
)
from .http import make_create_session, make_session, raise_for_response, response_json
from .polling import Progress, Tracker
from .status import TaskState, TaskStatus

DEFAULT_BASE_URL = "https://api.aimlapi.com/v2"
CREATE_PATH = "/video/generations"
DEFAULT_TIMEOUT = (5.0, 60.0)  # (connect, read): create bodies carry a base64 image
POLL_TIMEOUT = (5.0, 20.0)
DEFAULT_DEADLINE = 20 * 60.0
TRANSIENT = (ServerError, RateLimitError, APIConnectionError, UnexpectedResponseError)


class KlingClient:
    """A thread-safe client for the AI/ML API's video generation endpoints."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        poll_timeout: tuple[float, float] = POLL_TIMEOUT,
        max_workers: int = 64,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self.timeout = timeout
        self.poll_timeout = poll_timeout
        self._poll_session = make_session(pool_size=max_workers)
        self._create_session = make_create_session()
        self._download_session = make_session(pool_size=max_workers)
        self._executor: ThreadPoolExecutor | None = None
        self._max_workers = max_workers

    def __repr__(self) -> str:
        return f"KlingClient(base_url={self.base_url!r}, api_key=<hidden>)"

    def with_key(self, api_key: str) -> KlingClient:
        """A client for another key on the same server (the visitor's own key)."""
        return KlingClient(
            api_key, self.base_url, timeout=self.timeout, poll_timeout=self.poll_timeout, max_workers=8
        )

    def _headers(self) -> dict[str, str]:
        from .errors import AuthenticationError

        if not self._key:
            raise AuthenticationError(401, "No API key is set.")
        return {"Authorization": f"Bearer {self._key}", "Accept": "application/json"}

    @property
    def url(self) -> str:
        """The create and poll URL."""
        return self.base_url + CREATE_PATH

    def create(self, body: Mapping[str, Any]) -> TaskStatus:
        """POST one create request; it is never re-sent once it may have reached the server."""
        try:
            response = self._create_session.post(
                self.url, json=dict(body), headers=self._headers(), timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise APIConnectionError(
                f"Could not reach the API to start the job ({type(exc).__name__}). It was not retried, "
                "so nothing was billed twice; if it did reach the server, it may still run."
            ) from exc
        raise_for_response(response)
        return TaskStatus.from_json(response_json(response))

    def get(self, generation_id: str) -> TaskStatus:
        """GET the generation's status; retried with backoff on 429, 5xx and dropped connections."""
        try:
            response = self._poll_session.get(
                self.url,
                params={"generation_id": generation_id},
                headers=self._headers(),
                timeout=self.poll_timeout,
            )
        except requests.RequestException as exc:
            raise APIConnectionError(f"Could not reach the API to check generation {generation_id}.") from exc
        raise_for_response(response, generation_id)
        return TaskStatus.from_json(response_json(response), expected_id=generation_id)

    def check_key(self) -> None:
        """One cheap authenticated call; raises AuthenticationError if the key is refused."""
        from .errors import NotFoundError

        try:
            self.get("key-check")
        except NotFoundError:
            return

    def _tracker(
        self,
        first: TaskStatus | str,
        expected: float,
        timeout: float,
        clock: Callable[[], float],
        started_at: float | None,
    ) -> Tracker:
        status = first if isinstance(first, TaskStatus) else TaskStatus(first, TaskState.QUEUED, "queued")
        return Tracker(status, expected=expected, timeout=timeout, clock=clock, started_at=started_at)

    def iter_status(
        self,
        first: TaskStatus | str,
        *,
        expected: float = 210.0,
        timeout: float = DEFAULT_DEADLINE,
        tick: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        started_at: float | None = None,
    ) -> Iterator[Progress]:
        """Yield Progress after each poll (and each `tick` s between) until done; TaskTimeoutError late."""
        tracker = self._tracker(first, expected, timeout, clock, started_at)
        yield tracker.progress()
        while True:
            wait = tracker.wait_before_poll()
            if wait > 0:
                step = min(wait, tick) if tick else wait
                sleep(step)
                if tick and step < wait:
                    yield tracker.progress()
                    continue
            if tracker.expired:
                raise TaskTimeoutError(tracker.status.id, timeout)
            event = self._poll_once(tracker)
            yield event
            if event.status.is_terminal:
                return

    async def aiter_status(
        self,
        first: TaskStatus | str,
        *,
        expected: float = 210.0,
        timeout: float = DEFAULT_DEADLINE,
        tick: float | None = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        started_at: float | None = None,
    ) -> AsyncIterator[Progress]:
        """The async twin of iter_status: waits without holding a thread, polls in a shared pool."""
        tracker = self._tracker(first, expected, timeout, clock, started_at)
        yield tracker.progress()
        while True:
            wait = tracker.wait_before_poll()
            if wait > 0:
                step = min(wait, tick) if tick else wait
                await sleep(step)
                if tick and step < wait:
                    yield tracker.progress()
                    continue
            if tracker.expired:
                raise TaskTimeoutError(tracker.status.id, timeout)
            event = await self.run(self._poll_once, tracker)
            yield event
            if event.status.is_terminal:
                return

    def _poll_once(self, tracker: Tracker) -> Progress:
        try:
            return tracker.record(self.get(tracker.status.id))
        except TRANSIENT as exc:
            return tracker.record_failure(f"retrying after: {_short(exc)}")

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking call in the client's own thread pool (not the event loop's small default)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix="kling")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def wait(self, first: TaskStatus | str, **kwargs: Any) -> TaskStatus:
        """Block until the task ends; GenerationFailedError on error, TaskTimeoutError past the deadline."""
        last: Progress | None = None
        for last in self.iter_status(first, **kwargs):  # noqa: B007
            pass
        assert last is not None
        if last.status.state is TaskState.FAILED:
            raise GenerationFailedError(last.status)
        return last.status

    def download(
        self,
        url: str,
        dest: Path,
        *,
        attempts: int = 3,
        chunk: int = 1 << 16,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Path:
        """Stream the video to dest (via a temp file), retrying; DownloadError keeps the URL as a fallback."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for attempt in range(attempts):
            if attempt:
                sleep(min(4.0, 0.5 * 2**attempt))
            try:
                with self._download_session.get(url, stream=True, timeout=self.poll_timeout) as response:
                    if response.status_code >= 400:
                        last_error = f"HTTP {response.status_code}"
                        if response.status_code < 500 and response.status_code != 429:
                            break
                        continue
                    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-", suffix=".mp4")
                    try:
                        with os.fdopen(fd, "wb") as out:
                            for block in response.iter_content(chunk):
                                out.write(block)
                        if not looks_like_video(tmp, response.headers.get("Content-Type", "")):
                            last_error = "the answer was not a video"
                            continue
                        os.replace(tmp, dest)
                    finally:
                        if os.path.exists(tmp):
                            os.unlink(tmp)
                    return dest
            except (requests.RequestException, OSError) as exc:
                last_error = type(exc).__name__
        raise DownloadError(
            f"The video could not be saved ({last_error}); open the provider's link instead.", url
        )


def looks_like_video(path: str, content_type: str) -> bool:
    """True for a non-empty MP4/MOV (an ftyp box) or a file the server calls video/*."""
    with open(path, "rb") as f:
        head = f.read(12)
    if len(head) < 8:
        return False
    return head[4:8] == b"ftyp" or content_type.split(";")[0].strip().lower().startswith("video/")


def _short(exc: KlingError) -> str:
    if isinstance(exc, APIError):
        return f"HTTP {exc.status_code}"
    return type(exc).__name__
