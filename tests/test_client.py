"""KlingClient against the simulator over real HTTP: the spec's create and poll, retries, deadlines."""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from kling_demo.client import KlingClient
from kling_demo.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    GenerationFailedError,
    InsufficientCreditsError,
    NotFoundError,
    ServerError,
    TaskTimeoutError,
)
from kling_demo.request import Settings, build_request
from kling_demo.simulator import Simulator, SimulatorConfig
from kling_demo.status import TaskState
from tests.conftest import make_image
from tests.spec_check import assert_valid_body

KEY = "test-key"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    config = SimulatorConfig(
        data_dir=tmp_path_factory.mktemp("sim"),
        queue_seconds=0.2,
        generate_seconds=0.6,
        id_style="uuid-model",
        valid_keys={KEY, "broke"},
        no_credit_keys=frozenset({"broke"}),
    )
    with Simulator(config) as simulator:
        yield simulator


@pytest.fixture
def client(sim: Simulator) -> KlingClient:
    return KlingClient(KEY, sim.base_url)


@pytest.fixture(scope="module")
def body(tmp_path_factory: pytest.TempPathFactory) -> dict:
    image = make_image(tmp_path_factory.mktemp("img") / "in.jpg")
    return build_request(image, Settings(prompt="waves roll in", duration=5)).body


def fast_wait(client: KlingClient, first: object, **kwargs: object) -> object:
    return client.wait(first, expected=1.0, timeout=30, **kwargs)


def test_normal_run_sends_a_spec_valid_request(
    sim: Simulator, client: KlingClient, body: dict, tmp_path: Path
):
    before = sim.create_count
    first = client.create(body)
    assert first.state is TaskState.QUEUED and ":" in first.id  # uuid:model ids need URL-encoding
    done = fast_wait(client, first)
    assert done.state is TaskState.COMPLETED and done.video_url
    assert sim.create_count == before + 1
    create = [r for r in sim.requests if r.method == "POST"][-1]
    assert create.headers["authorization"] == f"Bearer {KEY}"
    assert create.json["duration"] == 5 and isinstance(create.json["duration"], int)
    polls = [r for r in sim.requests if r.method == "GET" and r.query.get("generation_id") == first.id]
    assert polls, "the id must arrive intact after URL-encoding"
    video = client.download(done.video_url, tmp_path / "out.mp4")
    assert video.read_bytes()[4:8] == b"ftyp"


def test_request_body_is_valid_against_verbatim_spec(body: dict) -> None:
    assert_valid_body(body)
    assert body["image_url"].startswith("data:image/jpeg;base64,")
    base64.b64decode(body["image_url"].split(",", 1)[1], validate=True)


def test_task_error_raises_with_provider_reason(client: KlingClient, body: dict) -> None:
    first = client.create({**body, "prompt": "boom [sim:error=detail]"})
    with pytest.raises(GenerationFailedError, match="Could not detect face"):
        fast_wait(client, first)


def test_bad_key_is_401(sim: Simulator, body: dict) -> None:
    with pytest.raises(AuthenticationError) as info:
        KlingClient("wrong", sim.base_url).create(body)
    assert "api key" in info.value.user_message().lower()


def test_no_key_never_sends(sim: Simulator, body: dict) -> None:
    before = sim.create_count
    with pytest.raises(AuthenticationError):
        KlingClient("", sim.base_url).create(body)
    assert sim.create_count == before


def test_out_of_credits_is_403(sim: Simulator, body: dict) -> None:
    with pytest.raises(InsufficientCreditsError):
        KlingClient("broke", sim.base_url).create(body)


def test_validation_error_is_400_with_provider_message(client: KlingClient, body: dict) -> None:
    with pytest.raises(BadRequestError, match="cfg_scale"):
        client.create({**body, "cfg_scale": 3})


def test_unknown_id_is_404(client: KlingClient) -> None:
    with pytest.raises(NotFoundError):
        client.get("no-such-generation")


def test_poll_429_then_success(sim: Simulator, client: KlingClient, body: dict) -> None:
    first = client.create(body)
    polls_before = sim.poll_count
    sim.inject("429", target="poll", count=2, retry_after=0)
    status = client.get(first.id)
    assert status.id == first.id
    assert sim.poll_count - polls_before == 3  # two 429s retried by urllib3, then the answer


@pytest.mark.parametrize("kind", ["500", "502", "503", "drop"])
def test_failed_create_is_sent_exactly_once(
    sim: Simulator, client: KlingClient, body: dict, kind: str
) -> None:
    before = sim.create_count
    sim.inject(kind, target="create")
    with pytest.raises((ServerError, APIConnectionError)):
        client.create(body)
    assert sim.create_count == before + 1


@pytest.mark.parametrize("kind", ["500", "503", "drop", "malformed"])
def test_poll_faults_do_not_end_the_wait(sim: Simulator, client: KlingClient, body: dict, kind: str) -> None:
    first = client.create(body)
    sim.inject(kind, target="poll", count=3)
    assert fast_wait(client, first).state is TaskState.COMPLETED


def test_deadline_with_fake_clock(client: KlingClient, body: dict) -> None:
    first = client.create({**body, "prompt": "slow [sim:slow=600]"})
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(TaskTimeoutError) as info:
        for _ in client.iter_status(first, expected=60, timeout=300, clock=lambda: now[0], sleep=sleep):
            pass
    assert info.value.generation_id == first.id
    assert first.id in str(info.value)
    assert now[0] == pytest.approx(300, abs=1)
    assert len(sleeps) <= 50  # backs off to 15 s once the job runs late


def test_async_status_stream_ticks_and_finishes(client: KlingClient, body: dict) -> None:
    first = client.create(body)

    async def collect() -> list:
        return [p async for p in client.aiter_status(first, expected=1.0, timeout=30, tick=0.2)]

    events = asyncio.run(collect())
    assert events[-1].status.state is TaskState.COMPLETED
    assert len(events) >= 3
    assert all(a.elapsed <= b.elapsed for a, b in itertools.pairwise(events))


def test_key_never_in_repr(sim: Simulator) -> None:
    assert "secret-xyz" not in repr(KlingClient("secret-xyz", sim.base_url))


def test_check_key(sim: Simulator) -> None:
    KlingClient(KEY, sim.base_url).check_key()
    with pytest.raises(AuthenticationError):
        KlingClient("wrong", sim.base_url).check_key()
