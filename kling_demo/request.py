"""Build a create request from user settings, refusing anything the API or Kling would refuse."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .catalogue import MIN_SIDE, Model, get_model
from .errors import InputError
from .images import PreparedImage, inspect_image, prepare_image

Fit = Literal["none", "crop", "pad"]
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")


@dataclass(frozen=True)
class Settings:
    """Everything a user chooses for one generation, besides the start image."""

    prompt: str = ""
    model: str = "kling-video/v1/pro/image-to-video"
    duration: int | None = None
    negative_prompt: str = ""
    cfg_scale: float | None = None
    end_image: str | None = None
    camera: str = "none"  # "none", "simple" or a preset name
    camera_config: dict[str, float] = field(default_factory=dict)
    generate_audio: bool | None = None
    fit: Fit = "none"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (for recipes and history)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class CreateRequest:
    """A validated body ready to POST, with what was done to the images."""

    model: Model
    body: dict[str, Any]
    image: PreparedImage
    end_image: PreparedImage | None
    notes: tuple[str, ...]

    @property
    def duration(self) -> int:
        """The clip length in seconds."""
        return int(self.body["duration"])


def clean_text(text: str | None) -> tuple[str, bool]:
    """Strip control and invisible characters (emoji and accents stay); report whether any went."""
    text = unicodedata.normalize("NFC", text or "")
    cleaned = _CONTROL.sub(" ", text.replace("\r\n", "\n")).strip()
    return cleaned, cleaned != text.strip()


def check_text(model: Model, prompt: str, negative: str) -> None:
    """Prompt presence and length limits for this model."""
    if model.prompt_required and not prompt:
        raise InputError(f"{model.label} needs a prompt: describe the motion you want to see.", "prompt")
    if len(prompt) > model.prompt_max:
        raise InputError(
            f"The prompt is {len(prompt)} characters; {model.label} takes at most {model.prompt_max}. "
            "Shorten it.",
            "prompt",
        )
    if negative and not model.negative_prompt:
        raise InputError(f"{model.label} has no negative prompt; leave it empty.", "negative_prompt")
    if len(negative) > model.negative_prompt_max:
        raise InputError(
            f"The negative prompt is {len(negative)} characters; the limit is {model.negative_prompt_max}.",
            "negative_prompt",
        )


def camera_body(model: Model, camera: str, config: dict[str, float]) -> dict[str, Any] | None:
    """The camera_control object, or None; refuses combinations Kling rejects."""
    if camera in ("", "none", None):
        return None
    cam = model.camera_control
    if cam is None:
        raise InputError(f"{model.label} has no camera control; set Camera to none.", "camera")
    if camera not in cam.types:
        raise InputError(
            f"Unknown camera movement {camera!r}; choose one of {', '.join(cam.types)}.", "camera"
        )
    if camera != "simple":
        return {"type": camera}
    moves = {axis: float(v) for axis, v in (config or {}).items() if v}
    unknown = set(moves) - set(cam.axes)
    if unknown:
        raise InputError(f"Unknown camera axis {sorted(unknown)[0]!r}; use {', '.join(cam.axes)}.", "camera")
    if len(moves) != 1:
        raise InputError(
            "A 'simple' camera move needs exactly one non-zero slider "
            f"({len(moves)} are set). Keep one and set the others to 0.",
            "camera",
        )
    ((axis, value),) = moves.items()
    if not cam.min <= value <= cam.max:
        raise InputError(f"Camera {axis} must be between {cam.min:g} and {cam.max:g}.", "camera")
    return {"type": "simple", "config": {a: (value if a == axis else 0) for a in cam.axes}}


def check_combination(
    model: Model, settings: Settings, duration: int, audio: bool | None, camera: Any
) -> None:
    """Kling's exclusivity rules and per-model end-frame limits."""
    if not settings.end_image:
        return
    if model.end_frame_field is None:
        raise InputError(
            f"{model.label} does not take an end frame; remove it or pick another model.", "end_image"
        )
    if camera is not None:
        raise InputError(
            "Kling cannot combine an end frame with camera control. "
            "Remove the end frame or set Camera to none.",
            "end_image",
        )
    if model.is_kling_v1 and duration != 5:
        raise InputError(
            "Kling 1.0 supports an end frame only for 5-second clips. Set Duration to 5.", "duration"
        )
    if model.end_frame_excludes_audio and audio:
        raise InputError(
            f"{model.label} cannot generate audio with an end frame. Turn audio off.", "end_image"
        )


def _checked(image: str | Path | bytes | None, settings: Settings) -> tuple[Model, dict[str, Any], bool]:
    """Every rule that needs no image decoding; returns the model, the body so far and prompt cleaning."""
    model = get_model(settings.model)
    if image is None or image == "":
        raise InputError("Add a start image: the video begins from it.", "image")
    prompt, prompt_cleaned = clean_text(settings.prompt)
    negative, _ = clean_text(settings.negative_prompt)
    check_text(model, prompt, negative)
    duration = model.default_duration if settings.duration in (None, "") else int(settings.duration)
    if duration not in model.durations:
        allowed = ", ".join(str(d) for d in model.durations)
        raise InputError(f"{model.label} makes clips of {allowed} seconds, not {duration}.", "duration")
    cfg = settings.cfg_scale
    if (
        cfg is not None
        and model.cfg_scale is not None
        and not model.cfg_scale[0] <= cfg <= model.cfg_scale[1]
    ):
        lo, hi = model.cfg_scale
        raise InputError(f"cfg_scale must be between {lo:g} and {hi:g}, not {cfg:g}.", "cfg_scale")
    audio = settings.generate_audio if settings.generate_audio is not None else model.generate_audio_default
    camera = camera_body(model, settings.camera, settings.camera_config)
    check_combination(model, settings, duration, audio if model.has_audio else None, camera)
    body: dict[str, Any] = {"model": model.id, "duration": duration}
    if prompt:
        body["prompt"] = prompt
    if negative:
        body["negative_prompt"] = negative
    if cfg is not None and model.cfg_scale is not None:
        body["cfg_scale"] = float(cfg)
    if camera is not None:
        body["camera_control"] = camera
    if model.has_audio and audio is not None:
        body["generate_audio"] = bool(audio)
    return model, body, prompt_cleaned


def precheck(image: str | Path | bytes | None, settings: Settings) -> None:
    """The cheap checks (image headers only), for a validator that must answer fast."""
    _checked(image, settings)
    for source in (image, settings.end_image):
        if source:
            info = inspect_image(source)
            if not info.fits_ratio and settings.fit == "none":
                prepare_image(source, fit="none")  # raises the full ratio message
            if min(info.width, info.height) < MIN_SIDE:
                prepare_image(source, fit=settings.fit)  # raises the full size message


def build_request(image: str | Path | bytes | None, settings: Settings) -> CreateRequest:
    """Validate settings, prepare the images and return the body to POST. Raises InputError."""
    model, body, prompt_cleaned = _checked(image, settings)
    start = prepare_image(image, fit=settings.fit)
    end = prepare_image(settings.end_image, fit=settings.fit) if settings.end_image else None
    body = {"model": model.id, "image_url": start.data_uri, **{k: v for k, v in body.items() if k != "model"}}
    if end is not None and model.end_frame_field:
        body[model.end_frame_field] = end.data_uri
    notes = list(start.notes) + [f"End frame: {n}" for n in (end.notes if end else ())]
    if prompt_cleaned:
        notes.append("Removed control characters from the prompt")
    return CreateRequest(model, body, start, end, tuple(notes))
