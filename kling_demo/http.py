"""HTTP plumbing: one session factory with retries, and the one HTTP-to-error mapping."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    NotFoundError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
)

RETRY_STATUSES = (429, 500, 502, 503, 504)
USER_AGENT = "kling-demo/0.1 (+gradio)"


def poll_retry(total: int = 4, backoff: float = 0.5, retry_after_max: float = 30.0) -> Retry:
    """Retries for idempotent GETs: 429, 5xx and broken connections, with backoff and Retry-After."""
    return Retry(
        total=total,
        connect=total,
        read=total,
        status=total,
        other=0,
        backoff_factor=backoff,
        backoff_max=8.0,
        backoff_jitter=0.25,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        retry_after_max=retry_after_max,
        raise_on_status=False,
    )


def create_retry() -> Retry:
    """For POST: only retry connection failures that never reached the server (no double billing)."""
    # connect errors mean the request was never sent; read/status retries could start a second paid job.
    return Retry(
        total=2,
        connect=2,
        read=0,
        status=0,
        other=0,
        backoff_factor=0.5,
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
    )


def make_session(pool_size: int = 64, retry: Retry | None = None) -> requests.Session:
    """A session whose GETs retry and whose POSTs never re-send a request body."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=retry or poll_retry())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def make_create_session(pool_size: int = 16) -> requests.Session:
    """A session for create requests: connection retries only."""
    return make_session(pool_size, create_retry())


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def response_json(response: requests.Response) -> Any:
    """The body as JSON; UnexpectedResponseError when it is not."""
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        snippet = response.text[:200].strip() or "an empty body"
        raise UnexpectedResponseError(
            f"The API answered HTTP {response.status_code} with something that is not JSON: {snippet!r}"
        ) from None


def _provider_message(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or body.get("detail")
        if isinstance(message, str) and message.strip():
            return message.strip()
        if message:
            from .status import error_text

            return error_text(message) or fallback
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return fallback


_ERRORS: dict[int, tuple[type[APIError], str]] = {
    400: (BadRequestError, "The API refused the request"),
    401: (AuthenticationError, "The API key was refused"),
    403: (InsufficientCreditsError, "The account has no credits left"),
    404: (NotFoundError, "Not found"),
    429: (RateLimitError, "Too many requests"),
}


def raise_for_response(response: requests.Response, generation_id: str | None = None) -> None:
    """Raise the typed error for a non-2xx response; return quietly on 2xx."""
    code = response.status_code
    if 200 <= code < 300:
        return
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if code in _ERRORS:
        cls, fallback = _ERRORS[code]
    elif code >= 500:
        cls, fallback = ServerError, f"The API had an internal error (HTTP {code})"
    else:
        cls, fallback = APIError, f"Unexpected HTTP {code} from the API"
    message = _provider_message(body, fallback)
    if code == 400:
        message = f"The API refused the request: {message}"
    elif code == 404 and generation_id:
        message = f"Generation {generation_id} was not found ({message})."
    if cls is RateLimitError:
        raise RateLimitError(
            code,
            message,
            body,
            generation_id,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    raise cls(code, message, body, generation_id)
