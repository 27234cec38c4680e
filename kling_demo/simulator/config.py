"""Settings of a simulator instance."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ID_STYLES = ("nanoid", "uuid-model")
# Settings that POST /_sim/config may change while the server runs.
RUNTIME_SETTINGS = ("queue_seconds", "generate_seconds", "error_rate", "fault_rate")


@dataclass
class SimulatorConfig:
    """How the simulator behaves: timings, failure rates, id style, video size, accepted keys."""

    data_dir: Path | None = None  # None: a temporary directory, removed on stop()
    queue_seconds: float = 2.0
    generate_seconds: float = 6.0
    host: str = "127.0.0.1"
    port: int = 0
    id_style: str = "nanoid"
    error_rate: float = 0.0
    fault_rate: float = 0.0
    seed: int | None = None
    video_short_side: int = 360
    fps: int = 24
    valid_keys: frozenset[str] | set[str] | None = None  # None: any non-empty Bearer key
    no_credit_keys: frozenset[str] | set[str] = field(default_factory=frozenset)
    verbose: bool = False  # log every request to stderr
    record_full_bodies: bool = False  # keep base64 images whole in `requests` (tests that validate bodies)

    def check(self) -> None:
        """Raise ValueError for settings the simulator cannot honour."""
        if self.id_style not in ID_STYLES:
            raise ValueError(f"id_style must be one of {ID_STYLES}, not {self.id_style!r}")
        for name in ("error_rate", "fault_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        for name in ("queue_seconds", "generate_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.video_short_side < 16 or self.fps < 1:
            raise ValueError("video_short_side must be at least 16 and fps at least 1")
