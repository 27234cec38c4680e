"""Check a create body the way the provider does, answering in its zod-like 'Body validation error' style."""

from __future__ import annotations

import base64
import binascii
import copy
import io
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import cache
from typing import Any

from PIL import Image

from ..catalogue import MAX_RATIO, MIN_RATIO, MIN_SIDE, UPLOAD_FORMATS, Model, models

HEADLINE = "Body validation error"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
DATA_MIMES = ("image/jpeg", "image/jpg", "image/png")
FETCH_TIMEOUT = 5.0


class ValidationFailed(Exception):
    """The body breaks one or more rules; lines are the zod-like details."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The provider's message: the headline, then one line per problem."""
        return "\n".join([HEADLINE, *self.lines])


@dataclass(frozen=True)
class InputImage:
    """A decoded, checked input image."""

    data: bytes
    format: str  # "JPEG" or "PNG"
    width: int
    height: int

    @property
    def ext(self) -> str:
        """File extension for the format."""
        return "jpg" if self.format == "JPEG" else "png"


@dataclass(frozen=True)
class CreateRequest:
    """A create body that passed every check."""

    model: Model
    duration: int
    prompt: str
    image: InputImage
    end_image: InputImage | None


def _literal(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else repr(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _openapi_nullable(schema: Any) -> Any:
    """OpenAPI 3.0's nullable: true means the type also admits null; plain JSON Schema ignores it."""
    if isinstance(schema, dict):
        out = {k: _openapi_nullable(v) for k, v in schema.items()}
        if out.pop("nullable", False) is True and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(schema, list):
        return [_openapi_nullable(v) for v in schema]
    return schema


@cache
def _validator(model_id: str) -> Any:
    import jsonschema  # lazy: only needed once a create arrives

    model = next(m for m in models() if m.id == model_id)
    return jsonschema.Draft7Validator(_openapi_nullable(copy.deepcopy(model.schema)))


def _zod_line(error: Any) -> str:
    """One jsonschema error in zod's words, prefixed by the field path."""
    path = ".".join(str(p) for p in error.absolute_path)
    v, want, got = error.validator, error.validator_value, error.instance
    if v == "required":
        missing = error.message.split("'")[1] if error.message.count("'") >= 2 else str(want)
        return f"{f'{path}.' if path else ''}{missing}: Required"
    if v == "type":
        types = " | ".join(want) if isinstance(want, list) else want
        text = f"Expected {types}, received {_kind(got)}"
    elif v == "enum":
        text = (
            f"Invalid enum value. Expected {' | '.join(_literal(x) for x in want)}, received {_literal(got)}"
        )
    elif v == "minimum":
        text = f"Number must be greater than or equal to {want}"
    elif v == "maximum":
        text = f"Number must be less than or equal to {want}"
    elif v == "minLength":
        text = f"String must contain at least {want} character(s)"
    elif v == "maxLength":
        text = f"String must contain at most {want} character(s)"
    elif v == "minItems":
        text = f"Array must contain at least {want} element(s)"
    elif v == "maxItems":
        text = f"Array must contain at most {want} element(s)"
    else:
        text = error.message
    return f"{path or 'body'}: {text}"


def _schema_lines(model: Model, body: dict[str, Any]) -> list[str]:
    errors = sorted(_validator(model.id).iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    typed = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    # A wrong type also breaks the field's enum or range; zod reports only the type.
    return [_zod_line(e) for e in errors if e.validator == "type" or tuple(e.absolute_path) not in typed]


def _fetch_local(url: str, limit: int) -> bytes:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:
        return response.read(limit + 1)


def _image_bytes(field: str, value: str, limit: int) -> bytes:
    """The raw bytes behind a data URI or a local http(s) URL; ValueError with the reason otherwise."""
    if value.startswith("data:"):
        header, sep, payload = value[5:].partition(",")
        mime = header.split(";")[0].strip().lower()
        if not sep or mime not in DATA_MIMES:
            raise ValueError(
                f"{field}: unsupported data URI type '{mime or 'none'}'; use image/jpeg or image/png"
            )
        if ";base64" not in header.lower():
            raise ValueError(f"{field}: the data URI must be base64-encoded (data:{mime};base64,...)")
        try:
            return base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{field}: the data URI is not valid base64") from None
    parsed = urllib.parse.urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"{field}: must be an http(s) URL or a data URI (data:image/jpeg;base64,...)")
    if parsed.hostname not in LOCAL_HOSTS:
        raise ValueError(f"{field}: image could not be downloaded from {parsed.hostname}")
    try:
        return _fetch_local(value, limit)
    except (OSError, urllib.error.URLError, ValueError):
        raise ValueError(f"{field}: image could not be downloaded") from None


def check_image(field: str, value: str, max_mb: int) -> InputImage:
    """Decode and check one image against Kling's limits; ValueError with a zod-like line."""
    limit = max_mb * 1024 * 1024
    data = _image_bytes(field, value, limit)
    if len(data) > limit:
        raise ValueError(f"{field}: image is {len(data) / 1024 / 1024:.1f} MB; the limit is {max_mb} MB")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format, img.size
            if fmt not in UPLOAD_FORMATS:
                raise ValueError(f"{field}: image must be JPEG or PNG, not {fmt}")
            img.load()
    except ValueError:
        raise
    except (OSError, SyntaxError, Image.DecompressionBombError):
        raise ValueError(f"{field}: not a readable JPEG or PNG image") from None
    if min(width, height) < MIN_SIDE:
        raise ValueError(f"{field}: image is {width}x{height} px; each side must be at least {MIN_SIDE} px")
    if not MIN_RATIO <= width / height <= MAX_RATIO:
        raise ValueError(
            f"{field}: image is {width}x{height} px, aspect ratio {width / height:.2f}; "
            "it must be between 1:2.5 and 2.5:1"
        )
    return InputImage(data, str(fmt), width, height)


def _text_lines(model: Model, body: dict[str, Any]) -> list[str]:
    lines = []
    props = model.schema.get("properties", {})
    prompt = body.get("prompt")
    if isinstance(prompt, str) and len(prompt) > model.prompt_max:
        lines.append(f"prompt: String must contain at most {model.prompt_max} character(s)")
    negative = body.get("negative_prompt")
    if model.negative_prompt and isinstance(negative, str) and len(negative) > model.negative_prompt_max:
        lines.append(f"negative_prompt: String must contain at most {model.negative_prompt_max} character(s)")
    if model.prompt_required:
        multi = body.get("multi_prompt") if "multi_prompt" in props else None
        has_prompt = isinstance(prompt, str) and bool(prompt.strip())
        if multi and has_prompt:
            lines.append("prompt: Either prompt or multi_prompt must be provided, but not both")
        elif not multi and not has_prompt:
            lines.append("prompt: Required" if prompt is None else "prompt: must not be empty")
    return lines


def _combination_lines(model: Model, body: dict[str, Any], duration: int) -> list[str]:
    lines = []
    props = model.schema.get("properties", {})
    end_field = model.end_frame_field
    has_end = bool(end_field and body.get(end_field))
    camera = body.get("camera_control") if "camera_control" in props else None
    masks = [f for f in ("static_mask", "dynamic_masks") if f in props and body.get(f)]
    used = [name for name, on in ((end_field, has_end), ("camera_control", camera is not None)) if on] + masks
    if has_end + (camera is not None) + bool(masks) > 1:
        lines.append(
            f"{', '.join(str(u) for u in used)}: cannot be combined; Kling allows only one of the end frame, "
            "camera_control, or static_mask/dynamic_masks"
        )
    if has_end and model.is_kling_v1 and duration != 5:
        lines.append(f"{end_field}: Kling v1 supports an end frame only with duration 5 (got {duration})")
    if (
        has_end
        and model.end_frame_excludes_audio
        and body.get("generate_audio", model.generate_audio_default)
    ):
        lines.append(f"{end_field}: not supported when generate_audio is true; set generate_audio to false")
    if isinstance(camera, dict):
        kind, config = camera.get("type"), camera.get("config") or {}
        if kind is None:
            lines.append("camera_control.type: Required")
        elif kind == "simple":
            moving = [axis for axis, value in config.items() if value]
            if len(moving) != 1:
                axes = ", ".join(model.camera_control.axes) if model.camera_control else "the axes"
                lines.append(
                    f"camera_control.config: type 'simple' needs exactly one non-zero value among {axes} "
                    f"(got {len(moving)})"
                )
        elif config:
            lines.append(f"camera_control.config: must be empty for type '{kind}'")
    return lines


def validate_create(body: Any) -> CreateRequest:
    """Check a parsed create body in the provider's order; ValidationFailed lists what is wrong."""
    if not isinstance(body, dict):
        raise ValidationFailed([f"body: Expected object, received {_kind(body)}"])
    table = {m.id: m for m in models()}
    model_id = body.get("model")
    if model_id is None:
        raise ValidationFailed(["model: Required"])
    if model_id not in table:
        expected = " | ".join(_literal(m) for m in table)
        raise ValidationFailed(
            [f"model: Invalid enum value. Expected {expected}, received {_literal(model_id)}"]
        )
    model = table[model_id]
    schema_lines = _schema_lines(model, body)
    if schema_lines:
        raise ValidationFailed(schema_lines)

    lines: list[str] = []
    images: dict[str, InputImage] = {}
    for field in ("image_url", model.end_frame_field):
        if field and body.get(field):
            try:
                images[field] = check_image(field, body[field], model.image_max_mb)
            except ValueError as exc:
                lines.append(str(exc))
    duration = int(body.get("duration", model.default_duration))
    lines += _text_lines(model, body)
    lines += _combination_lines(model, body, duration)
    if lines:
        raise ValidationFailed(lines)
    end = images.get(model.end_frame_field) if model.end_frame_field else None
    return CreateRequest(model, duration, str(body.get("prompt") or ""), images["image_url"], end)
