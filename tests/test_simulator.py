"""The local AI/ML API simulator, exercised over real HTTP with requests."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from PIL import Image

from kling_demo.simulator import Simulator, SimulatorConfig
from kling_demo.simulator.render import probe

ROOT = Path(__file__).resolve().parent.parent
MODEL = "kling-video/v1/pro/image-to-video"
KEY = {"Authorization": "Bearer test-key"}
FPS = 12
SHORT_SIDE = 96
TIMEOUT = 5


def image_bytes(width: int = 640, height: int = 480, fmt: str = "JPEG", color: str = "teal") -> bytes:
    """A test image with some structure, so the camera move shows."""
    img = Image.new("RGB", (width, height), color)
    for x in range(0, width, 40):
        img.paste("orange", (x, 0, x + 8, height))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    """Wrap bytes in a base64 data URI."""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


IMAGE = data_uri(image_bytes())


def make_config(data_dir: Path, **overrides: Any) -> SimulatorConfig:
    """Short timings and tiny videos, so a whole life cycle takes about a second."""
    settings: dict[str, Any] = dict(
        data_dir=data_dir,
        queue_seconds=0.2,
        generate_seconds=0.5,
        seed=7,
        video_short_side=SHORT_SIDE,
        fps=FPS,
    )
    settings.update(overrides)
    return SimulatorConfig(**settings)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    """A running simulator on a free port with its own data dir."""
    with Simulator(make_config(tmp_path / "sim")) as running:
        yield running


def create(
    sim: Simulator, path: str = "/video/generations", headers: dict[str, str] | None = None, **fields: Any
) -> requests.Response:
    """POST a create request; fields override a valid v1-pro body (None removes a field)."""
    body: dict[str, Any] = {"model": MODEL, "image_url": IMAGE, "prompt": "a slow pan", "duration": 5}
    body.update(fields)
    body = {k: v for k, v in body.items() if v is not None}
    return requests.post(
        sim.base_url + path, json=body, headers=KEY if headers is None else headers, timeout=TIMEOUT
    )


def poll(sim: Simulator, gid: str, path: str = "/video/generations") -> requests.Response:
    """GET the generation object."""
    return requests.get(sim.base_url + path, params={"generation_id": gid}, headers=KEY, timeout=TIMEOUT)


def wait_done(
    sim: Simulator, gid: str, path: str = "/video/generations", limit: float = 15
) -> tuple[dict[str, Any], list[str]]:
    """Poll until completed or error; returns the last body and every status seen."""
    seen: list[str] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        response = poll(sim, gid, path)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.append(body["status"])
        if body["status"] in ("completed", "error"):
            return body, seen
        time.sleep(0.1)
    raise AssertionError(f"{gid} did not finish; saw {seen[-5:]}")


def assert_provider_error(response: requests.Response, status: int) -> dict[str, Any]:
    """The gateway's error shape: message, path, requestId, statusCode, timestamp."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"message", "path", "requestId", "statusCode", "timestamp"}
    assert body["statusCode"] == status
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["timestamp"])
    return body


# --- life cycle -----------------------------------------------------------------------------------


def test_lifecycle_ends_with_a_playable_h264_of_the_requested_length(sim: Simulator, tmp_path: Path) -> None:
    created = create(sim)
    assert created.status_code == 200
    body = created.json()
    assert body["status"] == "queued"
    assert body["meta"]["usage"]["credits_used"] == 5000
    assert created.headers["x-inference-id"] == body["id"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{21}", body["id"])

    final, seen = wait_done(sim, body["id"])
    order = ["queued", "generating", "completed"]
    assert "generating" in seen and final["status"] == "completed"
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen)  # never goes back
    assert final["meta"]["usage"]["credits_used"] == 5000
    url = final["video"]["url"]
    assert url.startswith(sim.base_url + "/_sim/videos/")

    video = requests.get(url, timeout=TIMEOUT)
    assert video.status_code == 200
    assert video.headers["Content-Type"] == "video/mp4"
    assert int(video.headers["Content-Length"]) == len(video.content)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(video.content)
    info = probe(clip)
    assert info.codec == "h264" and info.pix_fmt == "yuv420p"
    assert info.duration == pytest.approx(5.0, abs=0.05)
    assert info.frames == 5 * FPS
    assert (info.width, info.height) == (128, 96)  # 4:3 input, short side 96, even sides
    assert sim.create_count == 1 and sim.poll_count == len(seen)


def test_video_supports_range_requests(sim: Simulator) -> None:
    final, _ = wait_done(sim, create(sim).json()["id"])
    url = final["video"]["url"]
    whole = requests.get(url, timeout=TIMEOUT).content
    part = requests.get(url, headers={"Range": "bytes=10-99"}, timeout=TIMEOUT)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 10-99/{len(whole)}"
    assert part.content == whole[10:100]
    tail = requests.get(url, headers={"Range": "bytes=-16"}, timeout=TIMEOUT)
    assert tail.status_code == 206 and tail.content == whole[-16:]
    beyond = requests.get(url, headers={"Range": f"bytes={len(whole)}-"}, timeout=TIMEOUT)
    assert beyond.status_code == 416


def test_end_frame_renders_a_cross_fade(sim: Simulator, tmp_path: Path) -> None:
    end = data_uri(image_bytes(480, 640, "PNG", "purple"), "image/png")
    final, _ = wait_done(sim, create(sim, tail_image_url=end).json()["id"])
    clip = tmp_path / "fade.mp4"
    clip.write_bytes(requests.get(final["video"]["url"], timeout=TIMEOUT).content)
    assert probe(clip).duration == pytest.approx(5.0, abs=0.05)


def test_legacy_paths_create_and_poll(sim: Simulator) -> None:
    legacy = "/generate/video/kling/generation"
    created = create(sim, path=legacy)
    assert created.status_code == 200
    final, _ = wait_done(sim, created.json()["id"], path=legacy)
    assert final["status"] == "completed"
    assert [r.path for r in sim.requests][:2] == ["/v2" + legacy] * 2


def test_uuid_model_ids_arrive_url_encoded(tmp_path: Path) -> None:
    with Simulator(make_config(tmp_path, id_style="uuid-model")) as sim:
        gid = create(sim).json()["id"]
        assert gid.endswith(":" + MODEL) and "/" in gid
        raw = requests.get(
            f"{sim.base_url}/video/generations?generation_id={quote(gid, safe='')}",
            headers=KEY,
            timeout=TIMEOUT,
        )
        assert raw.status_code == 200 and raw.json()["id"] == gid
        assert raw.headers["x-inference-id"] == gid
        assert sim.requests[-1].query == {"generation_id": gid}
        final, _ = wait_done(sim, gid)
        assert final["status"] == "completed"


def test_unknown_generation_id_is_404(sim: Simulator) -> None:
    body = assert_provider_error(poll(sim, "no-such-id"), 404)
    assert "no-such-id" in body["message"]
    assert body["path"] == "/v2/video/generations"


def test_slow_token_stretches_generating(sim: Simulator) -> None:
    gid = create(sim, prompt="wait for it [sim:slow=30]").json()["id"]
    time.sleep(1.0)
    assert poll(sim, gid).json()["status"] == "generating"


# --- auth -----------------------------------------------------------------------------------------


def test_missing_or_wrong_key_is_401(tmp_path: Path) -> None:
    with Simulator(make_config(tmp_path, valid_keys={"good"})) as sim:
        for headers in ({}, {"Authorization": "Bearer bad"}, {"Authorization": "Basic good"}):
            body = assert_provider_error(create(sim, headers=headers), 401)
            assert "requires a valid API key" in body["message"]
        ok = create(sim, headers={"Authorization": "Bearer good"})
        assert ok.status_code == 200
        unauth = requests.get(
            sim.base_url + "/video/generations", params={"generation_id": ok.json()["id"]}, timeout=TIMEOUT
        )
        assert_provider_error(unauth, 401)
        assert sim.create_count == 4


def test_no_credit_key_is_403_on_create(tmp_path: Path) -> None:
    with Simulator(make_config(tmp_path, no_credit_keys=frozenset({"broke"}))) as sim:
        body = assert_provider_error(create(sim, headers={"Authorization": "Bearer broke"}), 403)
        assert "run out of credits" in body["message"]
        assert sim.stats()["tasks"] == 0


# --- validation -----------------------------------------------------------------------------------

CAMERA = {"type": "simple", "config": {"zoom": 5}}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {"model": "kling/v9"},
            "Invalid enum value. Expected 'kling-video/v1/pro/image-to-video'",
            id="unknown-model",
        ),
        pytest.param({"cfg_scale": 2}, "cfg_scale: Number must be less than or equal to 1", id="cfg-scale"),
        pytest.param(
            {"duration": 7}, "duration: Invalid enum value. Expected 5 | 10, received 7", id="duration"
        ),
        pytest.param({"duration": "5"}, "duration: Expected integer, received string", id="duration-string"),
        pytest.param({"image_url": None}, "image_url: Required", id="no-image"),
        pytest.param(
            {"image_url": data_uri(image_bytes(250, 400))},
            "image_url: image is 250x400 px; each side must be at least 300 px",
            id="too-small",
        ),
        pytest.param(
            {"image_url": data_uri(image_bytes(800, 300))},
            "it must be between 1:2.5 and 2.5:1",
            id="too-wide",
        ),
        pytest.param(
            {"image_url": "data:text/plain;base64,aGVsbG8="},
            "image_url: unsupported data URI type",
            id="text-data-uri",
        ),
        pytest.param(
            {"image_url": "data:image/png;base64,aGVsbG8="}, "not a readable JPEG or PNG", id="not-image"
        ),
        pytest.param(
            {"image_url": data_uri(image_bytes(fmt="WEBP"), "image/png")},
            "must be JPEG or PNG, not WEBP",
            id="webp",
        ),
        pytest.param(
            {"image_url": "https://example.com/cat.jpg"},
            "image_url: image could not be downloaded",
            id="remote-url",
        ),
        pytest.param(
            {"prompt": "x" * 2501}, "prompt: String must contain at most 2500 character(s)", id="prompt-long"
        ),
        pytest.param(
            {"tail_image_url": IMAGE, "camera_control": CAMERA}, "cannot be combined", id="end+camera"
        ),
        pytest.param(
            {"tail_image_url": IMAGE, "duration": 10}, "end frame only with duration 5", id="v1-end-10s"
        ),
        pytest.param(
            {"camera_control": {"type": "simple", "config": {"zoom": 5, "pan": 1}}},
            "needs exactly one non-zero value",
            id="simple-two-axes",
        ),
        pytest.param(
            {"camera_control": {"type": "down_back", "config": {"zoom": 5}}},
            "must be empty for type 'down_back'",
            id="preset-with-config",
        ),
        pytest.param(
            {"model": "kling-video/v1.6/standard/image-to-video", "prompt": "   "},
            "prompt: must not be empty",
            id="prompt-required",
        ),
        pytest.param(
            {"model": "klingai/video-v3-omni-720p-image-to-video", "tail_image_url": IMAGE},
            "not supported when generate_audio is true",
            id="omni-end-audio",
        ),
    ],
)
def test_invalid_create_is_400(sim: Simulator, fields: dict[str, Any], expected: str) -> None:
    body = assert_provider_error(create(sim, **fields), 400)
    assert body["message"].startswith("Body validation error\n")
    assert expected in body["message"]
    assert sim.create_count == 1 and sim.stats()["tasks"] == 0


def test_unknown_model_message_lists_every_model(sim: Simulator) -> None:
    message = create(sim, model="nope").json()["message"]
    assert "klingai/video-v3-turbo-pro-image-to-video" in message and "received 'nope'" in message


def test_valid_combinations_are_accepted(sim: Simulator) -> None:
    omni = "klingai/video-v3-omni-720p-image-to-video"
    for fields in (
        {"camera_control": CAMERA, "cfg_scale": 0.5, "negative_prompt": "blur"},
        {"camera_control": {"type": "forward_up"}},
        {"tail_image_url": data_uri(image_bytes(fmt="PNG"), "image/png")},
        {"model": omni, "tail_image_url": IMAGE, "generate_audio": False, "duration": 3},
    ):
        assert create(sim, **fields).status_code == 200, fields


def test_body_that_is_not_a_json_object_is_400(sim: Simulator) -> None:
    for data in (b"not json", b"[1, 2]"):
        response = requests.post(
            sim.base_url + "/video/generations",
            data=data,
            headers={**KEY, "Content-Type": "application/json"},
            timeout=TIMEOUT,
        )
        assert "Body validation error" in assert_provider_error(response, 400)["message"]


def test_image_url_on_localhost_is_fetched(sim: Simulator) -> None:
    png = image_bytes(fmt="PNG")

    class Serve(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/frame.png"
        assert create(sim, image_url=url).status_code == 200
    finally:
        server.shutdown()
        server.server_close()


# --- task errors ----------------------------------------------------------------------------------


def test_error_token_fails_the_task_in_alternating_shapes(sim: Simulator) -> None:
    first = create(sim, prompt="boom [sim:error]").json()["id"]
    second = create(sim, prompt="boom again [sim:error]").json()["id"]
    one, _ = wait_done(sim, first)
    two, _ = wait_done(sim, second)
    assert one["status"] == two["status"] == "error"
    assert one["error"]["name"] == "GenerationError" and one["error"]["message"]
    assert two["error"]["detail"][0]["msg"] == "Could not detect face in the image"
    assert "video" not in one and sim.render_count == 0


def test_error_rate_one_fails_every_task(tmp_path: Path) -> None:
    with Simulator(make_config(tmp_path, error_rate=1.0)) as sim:
        final, _ = wait_done(sim, create(sim).json()["id"])
        assert final["status"] == "error"


# --- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_status_faults_on_poll(sim: Simulator, kind: str) -> None:
    gid = create(sim).json()["id"]
    sim.inject(kind, count=2)
    for _ in range(2):
        assert_provider_error(poll(sim, gid), int(kind))
    assert poll(sim, gid).status_code == 200


def test_429_carries_retry_after(sim: Simulator) -> None:
    sim.inject("429", target="create", retry_after=3)
    sim.inject("429")
    limited = create(sim)
    assert_provider_error(limited, 429)
    assert limited.headers["Retry-After"] == "3"
    assert sim.stats()["tasks"] == 0
    gid = create(sim).json()["id"]
    polled = poll(sim, gid)
    assert polled.status_code == 429 and polled.headers["Retry-After"] == "1"
    assert sim.create_count == 2


def test_drop_closes_without_an_answer(sim: Simulator) -> None:
    gid = create(sim).json()["id"]
    sim.inject("drop")
    with pytest.raises(requests.ConnectionError):
        poll(sim, gid)
    assert poll(sim, gid).status_code == 200


def test_slow_fault_delays_then_answers(sim: Simulator) -> None:
    gid = create(sim).json()["id"]
    sim.inject("slow", seconds=0.5)
    started = time.monotonic()
    assert poll(sim, gid).status_code == 200
    assert time.monotonic() - started >= 0.5


def test_malformed_alternates_non_json_and_missing_status(sim: Simulator) -> None:
    gid = create(sim).json()["id"]
    sim.inject("malformed", count=2)
    first = poll(sim, gid)
    assert first.status_code == 200
    with pytest.raises(ValueError):
        first.json()
    second = poll(sim, gid)
    assert second.status_code == 200 and "status" not in second.json()


def test_task_error_fault_fails_the_next_created_task(sim: Simulator) -> None:
    sim.inject("task_error", target="create")
    final, _ = wait_done(sim, create(sim).json()["id"])
    assert final["status"] == "error"
    final, _ = wait_done(sim, create(sim).json()["id"])
    assert final["status"] == "completed"


def test_faults_are_fifo_per_target(sim: Simulator) -> None:
    sim.inject("503", target="create")
    sim.inject("500", target="create")
    gid_response = create(sim)
    assert gid_response.status_code == 503
    assert create(sim).status_code == 500
    gid = create(sim).json()["id"]
    assert poll(sim, gid).status_code == 200  # create faults never touch polls


def test_download_faults(sim: Simulator) -> None:
    final, _ = wait_done(sim, create(sim).json()["id"])
    sim.inject("503", target="download")
    sim.inject("malformed", target="download")
    assert requests.get(final["video"]["url"], timeout=TIMEOUT).status_code == 503
    garbage = requests.get(final["video"]["url"], timeout=TIMEOUT)
    assert garbage.status_code == 200 and not garbage.headers["Content-Type"].startswith("video/")
    assert requests.get(final["video"]["url"], timeout=TIMEOUT).headers["Content-Type"] == "video/mp4"


def test_bad_fault_requests_are_refused(sim: Simulator) -> None:
    for kind, target in (("teapot", "poll"), ("500", "nowhere"), ("task_error", "poll")):
        with pytest.raises(ValueError):
            sim.inject(kind, target=target)


def test_control_routes_inject_faults_and_change_config(sim: Simulator) -> None:
    root = sim.base_url.removesuffix("/v2")
    stats = requests.get(root + "/_sim/stats", timeout=TIMEOUT).json()
    assert stats["create_count"] == 0 and stats["poll_count"] == 0 and stats["tasks"] == 0
    injected = requests.post(
        root + "/_sim/faults", json={"kind": "502", "target": "create", "count": 1}, timeout=TIMEOUT
    )
    assert injected.status_code == 200 and injected.json()["pending"]["create"] == 1
    assert requests.post(root + "/_sim/faults", json={"kind": "nope"}, timeout=TIMEOUT).status_code == 400
    assert create(sim).status_code == 502

    changed = requests.post(root + "/_sim/config", json={"queue_seconds": 30}, timeout=TIMEOUT)
    assert changed.json()["config"]["queue_seconds"] == 30
    assert requests.post(root + "/_sim/config", json={"port": 1}, timeout=TIMEOUT).status_code == 400
    gid = create(sim).json()["id"]
    time.sleep(0.8)
    assert poll(sim, gid).json()["status"] == "queued"
    stats = requests.get(sim.base_url + "/_sim/stats", timeout=TIMEOUT).json()
    assert stats == {**stats, "create_count": 2, "poll_count": 1, "tasks": 1}
    assert all(not r.path.startswith(("/_sim", "/v2/_sim/stats")) for r in sim.requests)


def test_fault_rate_hits_polls_only(tmp_path: Path) -> None:
    with Simulator(make_config(tmp_path, fault_rate=1.0)) as sim:
        gid = create(sim).json()["id"]
        outcomes = []
        for _ in range(12):
            try:
                response = poll(sim, gid)
                outcomes.append(
                    response.status_code if "json" in response.headers["Content-Type"] else "text"
                )
            except requests.ConnectionError:
                outcomes.append("drop")
        assert sum(o != 200 for o in outcomes) >= 6, outcomes
        assert create(sim).status_code == 200


# --- persistence and caching ----------------------------------------------------------------------


def test_tasks_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "shared"
    first = Simulator(make_config(data, generate_seconds=1.0))
    first.start()
    gid = create(first).json()["id"]
    assert poll(first, gid).json()["status"] in ("queued", "generating")
    first.stop()
    with Simulator(make_config(data, queue_seconds=99)) as second:
        final, _ = wait_done(second, gid)
        assert final["status"] == "completed"
        assert final["video"]["url"].startswith(second.base_url)
        video = requests.get(final["video"]["url"], timeout=TIMEOUT)
        assert video.status_code == 200 and len(video.content) > 1000
    assert len(list((data / "tasks").glob("*.json"))) == 1


def test_identical_jobs_render_once(sim: Simulator) -> None:
    ids = [create(sim).json()["id"] for _ in range(3)]
    finals = [wait_done(sim, gid)[0] for gid in ids]
    videos = {requests.get(f["video"]["url"], timeout=TIMEOUT).content for f in finals}
    assert len({f["video"]["url"] for f in finals}) == 3 and len(videos) == 1
    assert sim.render_count == 1
    wait_done(sim, create(sim, duration=10).json()["id"])
    assert sim.render_count == 2


# --- process level --------------------------------------------------------------------------------


def test_cli_prints_its_url_and_serves(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "kling_demo.simulator",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path),
        "--queue-seconds",
        "0.1",
        "--id-style",
        "uuid-model",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        match = re.fullmatch(r"Simulator serving at (http://127\.0\.0\.1:\d+/v2)", line)
        assert match, line
        stats = requests.get(match.group(1) + "/_sim/stats", timeout=TIMEOUT).json()
        assert stats["create_count"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_import_stays_light() -> None:
    code = (
        "import sys, kling_demo.simulator; "
        "print(json.dumps(sorted(m for m in ('av', 'numpy', 'gradio', 'jsonschema') if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []
