"""The job service: records, recipes, clean-up, and the per-visitor limits and key policy."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kling_demo.client import KlingClient
from kling_demo.limits import LimitError, VisitorLimits
from kling_demo.request import Settings
from kling_demo.service import JobService
from kling_demo.simulator import Simulator, SimulatorConfig
from kling_demo.storage import VideoStore, model_tag, slug
from tests.conftest import make_image


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    with Simulator(
        SimulatorConfig(
            data_dir=tmp_path_factory.mktemp("sim"),
            queue_seconds=0.1,
            generate_seconds=0.4,
            id_style="uuid-model",
        )
    ) as simulator:
        yield simulator


def follow_all(service: JobService, gen_id: str) -> list:
    async def run() -> list:
        return [e async for e in service.follow(gen_id, tick=0.2)]

    return asyncio.run(run())


def test_submit_follow_saves_video_recipe_and_learns_eta(sim: Simulator, tmp_path: Path) -> None:
    service = JobService(KlingClient("k", sim.base_url), tmp_path)
    settings = Settings(prompt="Waves, rolling in!", duration=5)
    record = service.submit(service.prepare(make_image(tmp_path / "in.jpg"), settings), settings)
    assert service.jobs.get(record.id) == record and Path(record.thumbnail).exists()
    assert Path(record.input_image).read_bytes()[:3] == b"\xff\xd8\xff"
    before = service.eta.samples(record.model, 5)
    events = follow_all(service, record.id)
    final = events[-1]
    assert final.done and final.video and final.video.exists()
    assert final.video.name.startswith("kling-v1-pro_waves-rolling-in_5s_")
    recipe = json.loads(final.video.with_suffix(".json").read_text())
    assert recipe["generation_id"] == record.id and recipe["credits_used"] and recipe["seconds"] > 0
    assert recipe["settings"]["prompt"] == "Waves, rolling in!"
    assert service.eta.samples(record.model, 5) == before + 1
    assert service.jobs.get(record.id).state == "completed"
    # a finished job is served again without another download
    downloads = sim.download_count
    assert service.check(record.id).video == final.video and sim.download_count == downloads


def test_failed_job_says_why_with_the_id(sim: Simulator, tmp_path: Path) -> None:
    service = JobService(KlingClient("k", sim.base_url), tmp_path)
    settings = Settings(prompt="x [sim:error=message]")
    record = service.submit(service.prepare(make_image(tmp_path / "in.jpg"), settings), settings)
    final = follow_all(service, record.id)[-1]
    assert final.record.state == "failed" and record.id in final.message and final.record.error


def test_deadline_ends_with_the_id(sim: Simulator, tmp_path: Path) -> None:
    service = JobService(KlingClient("k", sim.base_url), tmp_path, deadline=1.0)
    settings = Settings(prompt="x [sim:slow=60]")
    record = service.submit(service.prepare(make_image(tmp_path / "in.jpg"), settings), settings)
    final = follow_all(service, record.id)[-1]
    assert not final.done and record.id in final.message and "check" in final.message


def test_cleanup_policy(tmp_path: Path) -> None:
    store = VideoStore(tmp_path / "videos", keep_videos=2, keep_days=1)
    now = time.time()
    for i, age_days in enumerate([0, 0.1, 0.2, 3]):
        video = tmp_path / "videos" / f"v{i}.mp4"
        video.write_bytes(b"x")
        store.write_recipe(video, {"i": i})
        os.utime(video, (now - age_days * 86400,) * 2)
    removed = store.cleanup(now)
    assert sorted(p.name for p in removed) == ["v2.mp4", "v3.mp4"]
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == [
        "v0.json",
        "v0.mp4",
        "v1.json",
        "v1.mp4",
    ]


def test_names_are_readable_and_safe() -> None:
    assert slug("Hello, World! ✨ waves") == "hello-world-waves"
    assert model_tag("klingai/video-v3-pro-image-to-video") == "kling-v3-pro"
    path = VideoStore(Path("/tmp/kd-names")).video_path(
        "abc:kling-video/v1/pro", "kling-video/v1/pro/image-to-video", "../../etc/passwd", 10
    )
    assert path.parent == Path("/tmp/kd-names") and "/" not in path.name.replace(".mp4", "")


def test_visitor_limits() -> None:
    now = [0.0]
    limits = VisitorLimits(per_hour=3, at_once=2, clock=lambda: now[0])
    limits.acquire("a")
    limits.acquire("a")
    with pytest.raises(LimitError, match="at once"):
        limits.acquire("a")
    limits.acquire("b")  # another visitor is unaffected
    limits.release("a")
    limits.acquire("a")
    limits.release("a")
    assert limits.quota("a").left_this_hour == 0
    with pytest.raises(LimitError, match="per hour"):
        limits.acquire("a")
    now[0] += 3601
    assert limits.quota("a").left_this_hour == 3
    limits.acquire("a")
    limits.refund("a")
    assert limits.quota("a").left_this_hour == 3


def test_duplicate_guard_collapses_concurrent_twins_only() -> None:
    from kling_demo.dedupe import DuplicateGuard

    calls: list[int] = []

    async def start() -> int:
        calls.append(1)
        await asyncio.sleep(0.05)
        return len(calls)

    async def main() -> None:
        guard: DuplicateGuard[int] = DuplicateGuard()
        (a, first_a), (b, first_b) = await asyncio.gather(guard.once("k", start), guard.once("k", start))
        assert a == b == 1 and first_a != first_b
        assert (await guard.once("other", start))[0] == 2
        guard.forget("k")
        assert await guard.once("k", start) == (3, True)

        async def broken() -> int:
            raise ValueError("refused")

        with pytest.raises(ValueError):
            await guard.once("x", broken)
        assert await guard.once("x", start) == (4, True)  # a refused start can be retried at once

    asyncio.run(main())
