"""Where finished videos and their JSON recipes live, how they are named, and how disk use is bounded."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

_SAFE_ID = re.compile(r"[^A-Za-z0-9_-]+")


def slug(text: str, limit: int = 32) -> str:
    """A short file-name-safe summary of a prompt."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:limit].rstrip("-") or "video"


def safe_id(generation_id: str) -> str:
    """A generation id made safe for a file name (ids may hold ':' and '/')."""
    return _SAFE_ID.sub("_", generation_id)[-48:] or "job"


def model_tag(model_id: str) -> str:
    """kling-video/v1/pro/image-to-video -> kling-v1-pro."""
    name = model_id.split("/", 1)[1] if "/" in model_id else model_id
    name = re.sub(r"(^|[/-])(video-|kling-)", r"\1", name.replace("image-to-video", ""))
    return "kling-" + re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-")


def finished_files(folder: Path, pattern: str = "*") -> list[tuple[Path, float]]:
    """Files with their mtimes, leaving out dot-named temp files that other threads are still writing."""
    found = []
    for path in folder.glob(pattern):
        if path.name.startswith("."):
            continue
        try:
            found.append((path, path.stat().st_mtime))
        except FileNotFoundError:  # renamed or deleted by another thread meanwhile
            continue
    return found


class VideoStore:
    """Saves videos and recipes under one folder, named for people, bounded in count and age."""

    def __init__(self, root: Path, keep_videos: int = 200, keep_days: float = 14) -> None:
        self.root = root
        self.keep_videos = keep_videos
        self.keep_days = keep_days
        root.mkdir(parents=True, exist_ok=True)

    def video_path(self, generation_id: str, model_id: str, prompt: str, duration: int) -> Path:
        """kling-v1-pro_<prompt-slug>_5s_<id>.mp4 under the store."""
        return self.root / f"{model_tag(model_id)}_{slug(prompt)}_{duration}s_{safe_id(generation_id)}.mp4"

    def find(self, generation_id: str) -> Path | None:
        """The saved video for an id, if any."""
        matches = sorted(self.root.glob(f"*_{safe_id(generation_id)}.mp4"))
        return matches[0] if matches else None

    def write_recipe(self, video: Path, recipe: dict[str, Any]) -> Path:
        """Write the JSON recipe beside the video."""
        path = video.with_suffix(".json")
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(recipe, indent=1, default=str))
        os.replace(tmp, path)
        return path

    def cleanup(self, now: float | None = None) -> list[Path]:
        """Delete the oldest videos past the count limit and any past the age limit; return what went."""
        now = time.time() if now is None else now
        videos = sorted(finished_files(self.root, "*.mp4"), key=lambda item: item[1], reverse=True)
        doomed = [
            path
            for i, (path, mtime) in enumerate(videos)
            if i >= self.keep_videos or now - mtime > self.keep_days * 86400
        ]
        for video in doomed:
            for path in (video, video.with_suffix(".json")):
                path.unlink(missing_ok=True)
        return doomed
