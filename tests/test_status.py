"""Status parsing and error-text tables: the one place that reads the provider's strings."""

from __future__ import annotations

import pytest

from kling_demo.errors import UnexpectedResponseError
from kling_demo.status import TaskState, TaskStatus, error_text, parse_state


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("queued", TaskState.QUEUED),
        ("waiting", TaskState.QUEUED),
        ("active", TaskState.QUEUED),
        ("generating", TaskState.GENERATING),
        ("processing", TaskState.GENERATING),
        ("completed", TaskState.COMPLETED),
        ("succeeded", TaskState.COMPLETED),
        ("error", TaskState.FAILED),
        ("failed", TaskState.FAILED),
        ("Completed ", TaskState.COMPLETED),
        ("rendering-on-mars", TaskState.UNKNOWN),
        ("", TaskState.UNKNOWN),
    ],
)
def test_parse_state(raw: str, state: TaskState) -> None:
    assert parse_state(raw) is state


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (
            {"name": "GenerationError", "message": "NSFW content detected"},
            "GenerationError: NSFW content detected",
        ),
        ({"message": "Bad image"}, "Bad image"),
        (
            {"detail": [{"loc": ["body", "image_url"], "msg": "Could not detect face in the image"}]},
            "Could not detect face in the image",
        ),
        ({"detail": [{"msg": "one"}, {"msg": "two"}]}, "one; two"),
        ("plain string", "plain string"),
        (None, ""),
        ({}, ""),
        ({"code": 1301}, '{"code": 1301}'),
        (["a", {"message": "b"}], "a; b"),
    ],
)
def test_error_text(error: object, text: str) -> None:
    assert error_text(error) == text


def test_completed_snapshot_reads_url_and_credits() -> None:
    body = {
        "id": "gg6",
        "status": "completed",
        "video": {"url": "https://cdn/x.mp4", "file_size": 3},
        "meta": {"usage": {"credits_used": 120000}},
    }
    status = TaskStatus.from_json(body)
    assert status.state is TaskState.COMPLETED and status.is_terminal
    assert status.video_url == "https://cdn/x.mp4"
    assert status.credits_used == 120000
    with pytest.raises(AttributeError):
        status.state = TaskState.QUEUED  # type: ignore[misc]


def test_legacy_tokens_used_and_missing_meta() -> None:
    assert (
        TaskStatus.from_json(
            {"id": "a", "status": "queued", "meta": {"usage": {"tokens_used": 5}}}
        ).credits_used
        == 5
    )
    assert TaskStatus.from_json({"id": "a", "status": "queued"}).credits_used is None


def test_unknown_status_is_kept_and_not_terminal() -> None:
    status = TaskStatus.from_json({"id": "a", "status": "rendering"})
    assert status.state is TaskState.UNKNOWN and not status.is_terminal
    assert status.label() == "status 'rendering'"


def test_failed_without_reason_still_says_something() -> None:
    assert TaskStatus.from_json({"id": "a", "status": "error", "error": None}).error


@pytest.mark.parametrize(
    "body", [[], "text", {"status": "queued"}, {"id": "a"}, {"id": "a", "status": "completed"}]
)
def test_malformed_bodies_raise_typed_error(body: object) -> None:
    with pytest.raises(UnexpectedResponseError):
        TaskStatus.from_json(body)


def test_expected_id_fills_a_missing_id() -> None:
    assert TaskStatus.from_json({"status": "queued"}, expected_id="x").id == "x"
