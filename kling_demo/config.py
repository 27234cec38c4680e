"""Settings read from the environment, once, at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .client import DEFAULT_BASE_URL

PROJECT_DIR = Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """KLING_DATA_DIR, else Hugging Face's persistent /data when writable, else ./data in the project."""
    env = os.environ.get("KLING_DATA_DIR")
    if env:
        return Path(env).expanduser()
    spaces_data = Path("/data")
    if os.environ.get("SPACE_ID") and spaces_data.is_dir() and os.access(spaces_data, os.W_OK):
        return spaces_data / "kling-demo"
    return PROJECT_DIR / "data"


def _float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    try:
        return float(value) if value.strip() else default
    except ValueError:
        raise SystemExit(f"{name} must be a number, not {value!r}") from None


@dataclass(frozen=True)
class AppConfig:
    """Where to send requests, with which key, and where to keep results."""

    api_key: str
    base_url: str
    use_simulator: bool
    data_dir: Path
    deadline_seconds: float
    keep_videos: int
    keep_days: float
    sim_queue_seconds: float
    sim_generate_seconds: float

    @classmethod
    def from_env(cls) -> AppConfig:
        """Read AIMLAPI_KEY, AIMLAPI_BASE_URL and the KLING_* settings."""
        key = os.environ.get("AIMLAPI_KEY", "").strip()
        base = os.environ.get("AIMLAPI_BASE_URL", "").strip()
        return cls(
            api_key=key,
            base_url=base or DEFAULT_BASE_URL,
            use_simulator=not key and not base,
            data_dir=default_data_dir(),
            deadline_seconds=_float("KLING_DEADLINE_SECONDS", 20 * 60),
            keep_videos=int(_float("KLING_KEEP_VIDEOS", 200)),
            keep_days=_float("KLING_KEEP_DAYS", 14),
            sim_queue_seconds=_float("KLING_SIM_QUEUE_SECONDS", 3),
            sim_generate_seconds=_float("KLING_SIM_GENERATE_SECONDS", 12),
        )

    def __repr__(self) -> str:
        return (
            f"AppConfig(base_url={self.base_url!r}, simulator={self.use_simulator}, data_dir={self.data_dir})"
        )
