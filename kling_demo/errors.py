"""Exceptions raised by kling_demo; callers catch these without importing requests."""

from __future__ import annotations

from typing import Any


class KlingError(Exception):
    """Base of every error this package raises."""

    hint: str = ""

    def user_message(self) -> str:
        """A short message for a person: what happened and what to do."""
        text = str(self)
        return f"{text} {self.hint}".strip() if self.hint else text


class InputError(KlingError, ValueError):
    """Input the API would refuse; raised before any request is sent."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class ImageError(InputError):
    """An image that cannot be read or cannot be made to fit Kling's limits."""

    def __init__(self, message: str, field: str = "image") -> None:
        super().__init__(message, field)


class UnknownModelError(InputError):
    """A model id that is not in the catalogue."""

    def __init__(self, model_id: str, known: tuple[str, ...]) -> None:
        super().__init__(f"Unknown model {model_id!r}. Choose one of: {', '.join(known)}.", "model")
        self.model_id = model_id


class APIError(KlingError):
    """The API answered with an HTTP error status."""

    def __init__(
        self, status_code: int, message: str, body: Any = None, generation_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.generation_id = generation_id


class BadRequestError(APIError):
    """400: the provider refused the request body."""

    hint = "Change the input named above and try again; nothing was charged."


class AuthenticationError(APIError):
    """401: the key is missing, expired or wrong."""

    hint = "Check the API key (create one at https://aimlapi.com/app/keys)."


class InsufficientCreditsError(APIError):
    """403: the account is out of credits or over its plan."""

    hint = "Top up at https://aimlapi.com/app/billing/ or use another key."


class NotFoundError(APIError):
    """404: unknown path, model or generation id."""


class RateLimitError(APIError):
    """429: too many requests or too many jobs at once."""

    hint = "The provider is busy or your account is at its limit; wait a little and try again."

    def __init__(
        self,
        status_code: int,
        message: str,
        body: Any = None,
        generation_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status_code, message, body, generation_id)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx from the provider."""

    hint = "The provider had a problem; try again in a minute."


class APIConnectionError(KlingError):
    """The server could not be reached, or did not answer in time."""

    hint = "Check the network connection and the API base URL."


class UnexpectedResponseError(KlingError):
    """A 2xx answer whose body is not what the spec promises."""


class GenerationFailedError(KlingError):
    """The task ended with status error; carries the last snapshot."""

    def __init__(self, status: Any) -> None:
        super().__init__(f"Generation {status.id} failed: {status.error or 'no reason given'}")
        self.status = status


class TaskTimeoutError(KlingError, TimeoutError):
    """The overall deadline passed while the task was still running."""

    def __init__(self, generation_id: str, timeout: float) -> None:
        super().__init__(
            f"Still not finished after {_duration(timeout)}. The job may still complete: "
            f"check generation {generation_id} later."
        )
        self.generation_id = generation_id
        self.timeout = timeout


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


class DownloadError(KlingError):
    """The finished video could not be saved locally."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url
