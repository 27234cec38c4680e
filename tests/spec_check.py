"""Validate request bodies against the provider's verbatim OpenAPI files in ../shared/aimlapi-spec."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

SPEC_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "aimlapi-spec"
_URI = re.compile(r"^(data:image/(jpeg|png);base64,[A-Za-z0-9+/=]+|https?://\S+)$")


def _uri(value: object) -> bool:
    return not isinstance(value, str) or bool(_URI.match(value))


FORMATS = jsonschema.FormatChecker()
FORMATS.checks("uri")(_uri)


@cache
def spec_schemas() -> dict[str, dict[str, Any]]:
    """model id -> verbatim request schema, read from the spec files themselves."""
    if not SPEC_DIR.is_dir():
        pytest.skip("the verbatim spec files (../shared/aimlapi-spec) are not beside this checkout")
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(SPEC_DIR.glob("*.json")):
        post = json.loads(path.read_text()).get("paths", {}).get("/v2/video/generations", {}).get("post")
        if post:
            schema = post["requestBody"]["content"]["application/json"]["schema"]
            out.setdefault(schema["properties"]["model"]["enum"][0], schema)
    return out


def assert_valid_body(body: dict[str, Any]) -> None:
    """The body validates against its model's verbatim schema, URIs included."""
    schema = spec_schemas()[body["model"]]
    jsonschema.Draft7Validator(schema, format_checker=FORMATS).validate(body)
    assert isinstance(body.get("duration", 5), int), "duration must be sent as an integer"
