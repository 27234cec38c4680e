"""Build kling_demo/data/catalogue.json from the provider's verbatim OpenAPI files.

Run: python scripts/build_catalogue.py [SPEC_DIR]   (default ../shared/aimlapi-spec)
The catalogue keeps each image-to-video model's request schema verbatim, plus the facts the app
needs derived from it. Only what the spec files cannot say (typical run times, output
resolution, a one-line summary) comes from NOTES below, sourced from API-NOTES.md.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC_DIR = ROOT.parent / "shared" / "aimlapi-spec"
OUT = ROOT / "kling_demo" / "data" / "catalogue.json"
PRIMARY = "kling-video/v1/pro/image-to-video"
SPEC_PATH = "/v2/video/generations"
KLING_PROMPT_MAX = 2500  # Kling's documented limit where the aimlapi schema sets none
KLING_IMAGE_MAX_MB = 10

# Facts the spec files do not carry. typical: documented seconds for a 5 s clip (API-NOTES §3.2,
# §6); undocumented models are seeded from their family's figure. Longer clips scale linearly.
NOTES: dict[str, tuple[str, str, int]] = {
    "kling-video/v1/standard/image-to-video": ("Kling 1.0 Standard", "720p, silent; the cheapest", 249),
    "kling-video/v1/pro/image-to-video": ("Kling 1.0 Pro", "720p, silent; end frame at 5 s", 204),
    "kling-video/v1.5/standard/image-to-video": ("Kling 1.5 Standard", "720p, silent", 240),
    "kling-video/v1.5/pro/image-to-video": ("Kling 1.5 Pro", "1080p, silent", 220),
    "kling-video/v1.6/standard/image-to-video": ("Kling 1.6 Standard", "720p, silent; prompt required", 200),
    "kling-video/v1.6/pro/image-to-video": ("Kling 1.6 Pro", "1080p, silent; end frame", 186),
    "klingai/v2-master-image-to-video": ("Kling 2.0 Master", "720p, silent; slow, high quality", 330),
    "klingai/v2.1-master-image-to-video": ("Kling 2.1 Master", "1080p, silent; slow, high quality", 330),
    "kling-video/v2.1/standard/image-to-video": ("Kling 2.1 Standard", "720p, silent", 210),
    "kling-video/v2.1/pro/image-to-video": ("Kling 2.1 Pro", "1080p, silent", 210),
    "klingai/v2.5-turbo/pro/image-to-video": ("Kling 2.5 Turbo Pro", "1080p, silent; fast", 120),
    "klingai/video-v2-6-pro-image-to-video": ("Kling 2.6 Pro", "1080p with generated audio", 180),
    "klingai/video-o1-image-to-video": ("Kling O1", "1080p; start and last frame", 180),
    "klingai/video-v3-standard-image-to-video": ("Kling 3.0 Standard", "720p, 3-15 s, optional audio", 180),
    "klingai/video-v3-pro-image-to-video": ("Kling 3.0 Pro", "1080p, 3-15 s, optional audio", 200),
    "klingai/video-v3-omni-720p-image-to-video": ("Kling 3.0 Omni 720p", "720p, 3-15 s, audio", 180),
    "klingai/video-v3-omni-1080p-image-to-video": ("Kling 3.0 Omni 1080p", "1080p, 3-15 s, audio", 200),
    "klingai/video-v3-standard-turbo-image-to-video": ("Kling 3.0 Turbo Standard", "720p, 3-15 s; fast", 90),
    "klingai/video-v3-turbo-pro-image-to-video": ("Kling 3.0 Turbo Pro", "1080p, 3-15 s; fast", 100),
}


def request_schema(spec: dict[str, Any]) -> dict[str, Any] | None:
    """Return the POST request schema of a spec file, or None."""
    post = spec.get("paths", {}).get(SPEC_PATH, {}).get("post")
    if not post:
        return None
    return post["requestBody"]["content"]["application/json"]["schema"]


def image_limit_mb(schema: dict[str, Any]) -> int:
    """Read 'max NNMB' from the image_url description; Kling's 10 MB otherwise."""
    text = schema["properties"]["image_url"].get("description", "")
    found = re.search(r"max\s*(\d+)\s*MB", text, re.IGNORECASE)
    return int(found.group(1)) if found else KLING_IMAGE_MAX_MB


def describe(model_id: str, file: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Derive the app's view of one model from its request schema."""
    props = schema["properties"]
    required = list(schema.get("required", []))
    label, summary, typical = NOTES[model_id]
    durations = sorted(props["duration"]["enum"])
    end_field = next((f for f in ("tail_image_url", "last_image_url") if f in props), None)
    camera = props.get("camera_control")
    cam: dict[str, Any] | None = None
    if camera and camera.get("type") == "object":
        cfg = camera["properties"]["config"]["properties"]
        first = next(iter(cfg.values()))
        cam = {
            "types": camera["properties"]["type"]["enum"],
            "axes": list(cfg),
            "min": first["minimum"],
            "max": first["maximum"],
        }
    cfg_scale = props.get("cfg_scale")
    prompt = props.get("prompt", {})
    audio = props.get("generate_audio")
    return {
        "id": model_id,
        "spec_file": file,
        "label": label,
        "summary": summary,
        "typical_seconds_5s": typical,
        "required": required,
        # v3 says "Either prompt or multi_prompt must be provided"; this app sends prompt.
        "prompt_required": "prompt" in required or "must be provided" in prompt.get("description", ""),
        "prompt_max": prompt.get("maxLength", KLING_PROMPT_MAX),
        "durations": durations,
        "default_duration": 5 if 5 in durations else durations[0],
        "end_frame_field": end_field,
        "negative_prompt": "negative_prompt" in props,
        "negative_prompt_max": props.get("negative_prompt", {}).get(
            "maxLength", prompt.get("maxLength", KLING_PROMPT_MAX)
        ),
        "cfg_scale": {"min": cfg_scale["minimum"], "max": cfg_scale["maximum"]} if cfg_scale else None,
        "camera_control": cam,
        "masks": "static_mask" in props or "dynamic_masks" in props,
        "generate_audio_default": audio.get("default") if audio else None,
        "end_frame_excludes_audio": bool(
            end_field and "generate_audio" in props[end_field].get("description", "")
        ),
        "image_max_mb": image_limit_mb(schema),
        "schema": schema,
    }


def build(spec_dir: Path) -> dict[str, Any]:
    """Collect every image-to-video model with an image_url field, primary first."""
    models: dict[str, dict[str, Any]] = {}
    for path in sorted(spec_dir.glob("*.json")):
        if path.name == "manifest.json":
            continue
        schema = request_schema(json.loads(path.read_text()))
        if not schema or "image_url" not in schema.get("properties", {}):
            continue
        model_id = schema["properties"]["model"]["enum"][0]
        if not model_id.endswith("image-to-video") or "multi-image" in model_id:
            continue
        if model_id in models:  # v1.5-standard-text-to-video.json repeats the i2v schema
            continue
        if model_id not in NOTES:
            raise SystemExit(f"{path.name}: model {model_id} has no entry in NOTES")
        models[model_id] = describe(model_id, path.name, schema)
    order = [PRIMARY] + [m for m in NOTES if m != PRIMARY and m in models]
    missing = set(NOTES) - set(models)
    if missing:
        raise SystemExit(f"NOTES names models the spec files lack: {sorted(missing)}")
    fetch = json.loads((spec_dir / "universal-video-fetch.json").read_text())
    get = fetch["paths"][SPEC_PATH]["get"]
    status_schema = get["responses"]["200"]["content"]["application/json"]["schema"]
    return {
        "source": "shared/aimlapi-spec (aimlapi/api-docs @ f14fa72)",
        "primary": PRIMARY,
        "statuses": status_schema["properties"]["status"]["enum"],
        "models": [models[m] for m in order],
    }


def render(spec_dir: Path = DEFAULT_SPEC_DIR) -> str:
    """Return the catalogue file's exact text."""
    return json.dumps(build(spec_dir), indent=1, sort_keys=False) + "\n"


if __name__ == "__main__":
    spec = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SPEC_DIR
    OUT.write_text(render(spec))
    print(f"wrote {OUT.relative_to(ROOT)}")
