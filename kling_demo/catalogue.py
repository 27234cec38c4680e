"""The Kling image-to-video model catalogue, generated from the provider's spec files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CATALOGUE_PATH = Path(__file__).with_name("data") / "catalogue.json"

# Kling's documented input-image limits (API-NOTES §8); the spec files do not carry them.
MIN_SIDE = 300
MIN_RATIO = 1 / 2.5
MAX_RATIO = 2.5
UPLOAD_FORMATS = ("JPEG", "PNG")


@dataclass(frozen=True)
class CameraControl:
    """The object form of camera_control: preset types and the six 'simple' axes."""

    types: tuple[str, ...]
    axes: tuple[str, ...]
    min: float
    max: float


@dataclass(frozen=True)
class Model:
    """One image-to-video model and the controls its schema offers."""

    id: str
    spec_file: str
    label: str
    summary: str
    typical_seconds_5s: int
    required: tuple[str, ...]
    prompt_required: bool
    prompt_max: int
    durations: tuple[int, ...]
    default_duration: int
    end_frame_field: str | None
    negative_prompt: bool
    negative_prompt_max: int
    cfg_scale: tuple[float, float] | None
    camera_control: CameraControl | None
    masks: bool
    generate_audio_default: bool | None
    end_frame_excludes_audio: bool
    image_max_mb: int
    schema: dict[str, Any]

    @property
    def has_audio(self) -> bool:
        """Whether the model offers generate_audio."""
        return self.generate_audio_default is not None

    @property
    def is_kling_v1(self) -> bool:
        """Kling v1 allows an end frame only on 5-second clips."""
        return self.id.startswith("kling-video/v1/")

    def typical_seconds(self, duration: int) -> float:
        """Documented typical run time for a clip of this length."""
        return self.typical_seconds_5s * max(duration, 1) / 5

    def describe(self) -> str:
        """One line for a picker: label, summary, usual time."""
        minutes = self.typical_seconds(self.default_duration) / 60
        return f"{self.label}: {self.summary}; usually ~{minutes:.1f} min"


def _model(raw: dict[str, Any]) -> Model:
    cam = raw["camera_control"]
    cfg = raw["cfg_scale"]
    return Model(
        id=raw["id"],
        spec_file=raw["spec_file"],
        label=raw["label"],
        summary=raw["summary"],
        typical_seconds_5s=raw["typical_seconds_5s"],
        required=tuple(raw["required"]),
        prompt_required=raw["prompt_required"],
        prompt_max=raw["prompt_max"],
        durations=tuple(raw["durations"]),
        default_duration=raw["default_duration"],
        end_frame_field=raw["end_frame_field"],
        negative_prompt=raw["negative_prompt"],
        negative_prompt_max=raw["negative_prompt_max"],
        cfg_scale=(cfg["min"], cfg["max"]) if cfg else None,
        camera_control=CameraControl(tuple(cam["types"]), tuple(cam["axes"]), cam["min"], cam["max"])
        if cam
        else None,
        masks=raw["masks"],
        generate_audio_default=raw["generate_audio_default"],
        end_frame_excludes_audio=raw["end_frame_excludes_audio"],
        image_max_mb=raw["image_max_mb"],
        schema=raw["schema"],
    )


@cache
def _load() -> tuple[str, dict[str, Model]]:
    data = json.loads(CATALOGUE_PATH.read_text())
    return data["primary"], {m["id"]: _model(m) for m in data["models"]}


def models() -> tuple[Model, ...]:
    """Every image-to-video model, the default first."""
    return tuple(_load()[1].values())


def default_model() -> Model:
    """The app's default model, kling-video/v1/pro/image-to-video."""
    primary, table = _load()
    return table[primary]


def get_model(model_id: str) -> Model:
    """Look a model up by id; UnknownModelError names the valid ids."""
    table = _load()[1]
    try:
        return table[model_id]
    except KeyError:
        from .errors import UnknownModelError

        raise UnknownModelError(model_id, tuple(table)) from None
