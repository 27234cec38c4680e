"""The Simulator: starts and stops the HTTP server and exposes counters, recorded requests and faults."""

from __future__ import annotations

import dataclasses
import random
import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from .api import GenerationAPI
from .config import RUNTIME_SETTINGS, SimulatorConfig
from .faults import FaultQueue
from .handler import SimServer
from .recording import RecordedRequest, RequestLog


class Simulator:
    """A local stand-in for the AI/ML API's Kling video endpoints, over real HTTP."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = dataclasses.replace(config) if config else SimulatorConfig()
        self.config.check()
        rng_lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self.faults = FaultQueue(self._rng, rng_lock)
        self._rng_lock = rng_lock
        self._log = RequestLog()
        self._counts = {"create": 0, "poll": 0, "download": 0}
        self._lock = threading.Lock()
        self._server: SimServer | None = None
        self._thread: threading.Thread | None = None
        self._temp_dir: Path | None = None
        self._api: GenerationAPI | None = None

    # --- life cycle -------------------------------------------------------------------------------------

    def start(self) -> str:
        """Bind, serve on a daemon thread, and return the base URL (http://host:port/v2)."""
        if self._server is not None:
            return self.base_url
        data_dir = self.config.data_dir
        if data_dir is None:
            self._temp_dir = data_dir = Path(tempfile.mkdtemp(prefix="kling-sim-"))
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        self._api = GenerationAPI(self.config, data_dir, self._rng, self._rng_lock)
        self._server = SimServer((self.config.host, self.config.port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="kling-sim", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving; tasks stay on disk for the next Simulator on the same data_dir."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        if self._api:
            self._api.renders.shutdown(wait=self._temp_dir is not None)
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def api(self) -> GenerationAPI:
        """The provider logic (task store, render pool); exists once started."""
        if self._api is None:
            raise RuntimeError("the simulator has not been started")
        return self._api

    @property
    def port(self) -> int:
        """The bound TCP port (after start)."""
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """http://host:port/v2, the value to use as the API base URL."""
        host = self.config.host
        if host in ("0.0.0.0", "", "::"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/v2"

    # --- observation and control -------------------------------------------------------------------------

    def record(self, request: RecordedRequest) -> None:
        """Add a request to the log (called by the HTTP handler)."""
        self._log.add(request)

    def count(self, kind: str) -> None:
        """Count one create, poll or download request (called by the HTTP handler)."""
        with self._lock:
            self._counts[kind] += 1

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every API request received so far (control routes excluded)."""
        return self._log.snapshot()

    @property
    def create_count(self) -> int:
        """POST create requests received, whatever their outcome."""
        with self._lock:
            return self._counts["create"]

    @property
    def poll_count(self) -> int:
        """Poll requests received, whatever their outcome."""
        with self._lock:
            return self._counts["poll"]

    @property
    def download_count(self) -> int:
        """Video download requests received."""
        with self._lock:
            return self._counts["download"]

    @property
    def render_count(self) -> int:
        """Clips actually rendered by this instance; cache hits are not counted."""
        return self._api.renders.render_count if self._api else 0

    def inject(self, kind: str, target: str = "poll", count: int = 1, **params: Any) -> None:
        """Queue faults for the next requests to target (create, poll or download), first in first out."""
        self.faults.inject(kind, target, count, **params)

    def update_config(self, **changes: Any) -> dict[str, float]:
        """Change queue_seconds, generate_seconds, error_rate or fault_rate; returns the current values."""
        unknown = set(changes) - set(RUNTIME_SETTINGS)
        if unknown:
            raise ValueError(
                f"cannot change {', '.join(sorted(unknown))}; only {', '.join(RUNTIME_SETTINGS)}"
            )
        with self._lock:
            trial = dataclasses.replace(self.config, **{k: float(v) for k, v in changes.items()})
            trial.check()
            for name in changes:
                setattr(self.config, name, getattr(trial, name))
            return {name: getattr(self.config, name) for name in RUNTIME_SETTINGS}

    def stats(self) -> dict[str, Any]:
        """Counters for GET /_sim/stats."""
        with self._lock:
            counts = dict(self._counts)
        return {
            "create_count": counts["create"],
            "poll_count": counts["poll"],
            "download_count": counts["download"],
            "tasks": self._api.store.count() if self._api else 0,
            "render_count": self.render_count,
            "faults_pending": self.faults.pending(),
        }
