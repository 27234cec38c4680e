"""kling-demo's client library: Kling image-to-video through the AI/ML API (no gradio here)."""

from .catalogue import Model, default_model, get_model, models
from .client import KlingClient
from .errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    DownloadError,
    GenerationFailedError,
    ImageError,
    InputError,
    InsufficientCreditsError,
    KlingError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TaskTimeoutError,
    UnexpectedResponseError,
    UnknownModelError,
)
from .polling import Progress
from .status import TaskState, TaskStatus

__all__ = [
    "APIConnectionError",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "DownloadError",
    "GenerationFailedError",
    "ImageError",
    "InputError",
    "InsufficientCreditsError",
    "KlingClient",
    "KlingError",
    "Model",
    "NotFoundError",
    "Progress",
    "RateLimitError",
    "ServerError",
    "TaskState",
    "TaskStatus",
    "TaskTimeoutError",
    "UnexpectedResponseError",
    "UnknownModelError",
    "default_model",
    "get_model",
    "models",
]
