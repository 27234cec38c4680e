"""HTTP status codes map to typed errors in one place; callers never need requests."""

from __future__ import annotations

import json

import pytest
import requests

from kling_demo import errors
from kling_demo.http import raise_for_response, retry_after_seconds


def response(code: int, body: object = None, headers: dict[str, str] | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code = code
    r._content = (
        (json.dumps(body) if not isinstance(body, (str, bytes)) else body).encode()
        if body is not None
        else b""
    )
    r.headers.update(headers or {})
    return r


PROVIDER = {
    "message": "Body validation error\nInvalid enum value",
    "path": "/v2/video/generations",
    "requestId": "r",
    "statusCode": "400",
    "timestamp": "2025-03-11T07:13:27.813Z",
}


@pytest.mark.parametrize(
    ("code", "cls", "needle"),
    [
        (400, errors.BadRequestError, "Invalid enum value"),
        (401, errors.AuthenticationError, "valid API key"),
        (403, errors.InsufficientCreditsError, "run out of credits"),
        (404, errors.NotFoundError, "Not found"),
        (429, errors.RateLimitError, "Too Many"),
        (500, errors.ServerError, "Internal"),
        (502, errors.ServerError, "Bad Gateway"),
        (503, errors.ServerError, "unavailable"),
        (504, errors.ServerError, "timeout"),
        (418, errors.APIError, "418"),
    ],
)
def test_status_code_table(code: int, cls: type[errors.APIError], needle: str) -> None:
    bodies = {
        400: PROVIDER,
        401: {"message": "This request requires a valid API key."},
        403: {"message": "You've run out of credits."},
        404: None,
        429: {"message": "Too Many Requests"},
        500: {"message": "Internal server error"},
        502: "Bad Gateway",
        503: {"message": "Service unavailable"},
        504: {"message": "Generation timeout"},
        418: None,
    }
    with pytest.raises(cls) as info:
        raise_for_response(response(code, bodies[code]))
    assert type(info.value) is cls
    assert info.value.status_code == code
    assert needle.lower() in str(info.value).lower()
    assert isinstance(info.value, errors.KlingError)


def test_2xx_passes() -> None:
    for code in (200, 201, 202):
        raise_for_response(response(code, {"id": "a", "status": "queued"}))


def test_429_carries_retry_after() -> None:
    with pytest.raises(errors.RateLimitError) as info:
        raise_for_response(response(429, {"message": "slow down"}, {"Retry-After": "7"}))
    assert info.value.retry_after == 7


def test_404_names_the_generation() -> None:
    with pytest.raises(errors.NotFoundError, match="abc"):
        raise_for_response(response(404, {"message": "Generation not found"}), generation_id="abc")


@pytest.mark.parametrize(("value", "seconds"), [("3", 3.0), ("0", 0.0), (None, None), ("", None)])
def test_retry_after_parsing(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value) == seconds


def test_user_message_adds_a_hint() -> None:
    exc = errors.AuthenticationError(401, "The API key was refused")
    assert "aimlapi.com/app/keys" in exc.user_message()
