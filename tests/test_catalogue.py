"""The catalogue is generated from the verbatim spec files and must not drift from them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kling_demo.catalogue import CATALOGUE_PATH, default_model, get_model, models
from kling_demo.errors import UnknownModelError

ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = ROOT.parent / "shared" / "aimlapi-spec"
needs_spec = pytest.mark.skipif(
    not SPEC_DIR.is_dir(), reason="the verbatim spec files (../shared) are not here"
)


@needs_spec
def test_catalogue_file_matches_a_fresh_build() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import build_catalogue

    assert CATALOGUE_PATH.read_text() == build_catalogue.render(SPEC_DIR), (
        "kling_demo/data/catalogue.json is stale: run python scripts/build_catalogue.py"
    )


@needs_spec
def test_every_image_to_video_spec_is_in_the_catalogue() -> None:
    ids = set()
    for path in SPEC_DIR.glob("*.json"):
        spec = json.loads(path.read_text())
        post = spec.get("paths", {}).get("/v2/video/generations", {}).get("post")
        if not post:
            continue
        schema = post["requestBody"]["content"]["application/json"]["schema"]
        model_id = schema["properties"]["model"]["enum"][0]
        if model_id.endswith("image-to-video") and "image_url" in schema["properties"]:
            ids.add(model_id)
    assert {m.id for m in models()} == ids - {"kling-video/v1.6/standard/multi-image-to-video"}


@needs_spec
def test_schemas_are_verbatim() -> None:
    for model in models():
        spec = json.loads((SPEC_DIR / model.spec_file).read_text())
        schema = spec["paths"]["/v2/video/generations"]["post"]["requestBody"]["content"]["application/json"]
        assert model.schema == schema["schema"]


def test_default_is_v1_pro_and_first() -> None:
    assert default_model().id == "kling-video/v1/pro/image-to-video"
    assert models()[0] is default_model()
    assert default_model().durations == (5, 10)
    assert default_model().end_frame_field == "tail_image_url"


def test_families_have_their_controls() -> None:
    assert get_model("klingai/video-v3-pro-image-to-video").durations == tuple(range(3, 16))
    assert get_model("klingai/video-o1-image-to-video").end_frame_field == "last_image_url"
    assert get_model("klingai/video-v3-turbo-pro-image-to-video").prompt_max == 3072
    assert get_model("klingai/video-v2-6-pro-image-to-video").has_audio
    assert get_model("kling-video/v1.6/standard/image-to-video").prompt_required
    assert get_model("klingai/video-v3-omni-720p-image-to-video").end_frame_excludes_audio
    assert len(models()) >= 19


def test_unknown_model_lists_valid_ids() -> None:
    with pytest.raises(UnknownModelError, match="kling-video/v1/pro/image-to-video"):
        get_model("kling-video/v9/ultra")
