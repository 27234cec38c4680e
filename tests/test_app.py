"""The launched app, end to end through gradio_client: offline, against another server, restarts, MCP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from gradio_client import Client, handle_file

from kling_demo.simulator import Simulator, SimulatorConfig
from tests.conftest import RunningApp, make_image, start_app, stop_app
from tests.spec_check import assert_valid_body

SECRET = "sk-test-SECRET-key-0123456789"


def statuses(outputs: list) -> list[str]:
    return [o[0] for o in outputs if isinstance(o, (list, tuple)) and o and isinstance(o[0], str)]


def test_offline_generate_streams_status_and_ends_with_video(
    offline_app: RunningApp, sample_image: Path
) -> None:
    client = Client(offline_app.url, verbose=False)
    job = client.submit(handle_file(str(sample_image)), "waves rolling in", api_name="/generate")
    final = job.result(timeout=60)
    outputs = job.outputs()
    texts = statuses(outputs)
    assert len(set(texts)) >= 3, texts
    status, video, gen_id = final
    assert "Done" in status and gen_id in status
    data = Path(video).read_bytes()
    assert data[4:8] == b"ftyp" and len(data) > 5000
    saved = list((offline_app.data_dir / "videos").glob(f"*{gen_id[-12:]}.mp4"))
    assert saved and saved[0].with_suffix(".json").exists(), "video and recipe are kept in the data folder"
    recipe = json.loads(saved[0].with_suffix(".json").read_text())
    assert recipe["generation_id"] == gen_id and recipe["model"] == "kling-video/v1/pro/image-to-video"


def test_offline_page_says_so_and_has_three_endpoints(offline_app: RunningApp) -> None:
    config = requests.get(offline_app.url + "config", timeout=10).text
    assert "Offline preview" in config
    assert '"Generate"' in config
    api = Client(offline_app.url, verbose=False).view_api(print_info=False, return_format="dict")
    assert {"/generate", "/submit", "/status"} <= set(api["named_endpoints"])
    params = [p["parameter_name"] for p in api["named_endpoints"]["/generate"]["parameters"]]
    assert params[:2] == ["image", "prompt"]
    assert all(p["parameter_has_default"] for p in api["named_endpoints"]["/generate"]["parameters"][2:])


def test_submit_returns_at_once_and_status_reaches_the_video(
    offline_app: RunningApp, sample_image: Path
) -> None:
    client = Client(offline_app.url, verbose=False)
    gen_id, state = client.predict(handle_file(str(sample_image)), "a slow pan", api_name="/submit")
    assert gen_id and state == "queued"
    job = client.submit(gen_id, api_name="/status")
    text, video = job.result(timeout=30)
    for _ in range(60):
        text, video = client.predict(gen_id, api_name="/status")
        if video:
            break
        import time

        time.sleep(0.5)
    assert text.startswith("completed") and Path(video).read_bytes()[4:8] == b"ftyp"


def test_bad_input_is_refused_without_a_job(offline_app: RunningApp, tmp_path: Path) -> None:
    tiny = make_image(tmp_path / "tiny.jpg", (200, 150))
    client = Client(offline_app.url, verbose=False)
    jobs_before = set((offline_app.data_dir / "jobs").glob("*.json"))
    with pytest.raises(Exception, match="300 px"):
        client.predict(handle_file(str(tiny)), "x", api_name="/generate")
    with pytest.raises(Exception, match="cfg_scale"):
        client.predict(handle_file(str(tiny)), "x", cfg_scale=3, api_name="/generate")
    assert set((offline_app.data_dir / "jobs").glob("*.json")) == jobs_before


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulator, RunningApp]]:
    """Another spec-following server that needs a key, and the app pointed at it."""
    sim = Simulator(
        SimulatorConfig(
            data_dir=tmp_path_factory.mktemp("remote-sim"),
            queue_seconds=1,
            generate_seconds=5,
            valid_keys={SECRET},
            record_full_bodies=True,
        )
    )
    sim.start()
    app = start_app(
        tmp_path_factory.mktemp("remote-app"), {"AIMLAPI_KEY": SECRET, "AIMLAPI_BASE_URL": sim.base_url}
    )
    yield sim, app
    stop_app(app)
    sim.stop()


def test_other_server_with_key_ten_second_job(
    remote: tuple[Simulator, RunningApp], sample_image: Path
) -> None:
    sim, app = remote
    client = Client(app.url, verbose=False)
    job = client.submit(handle_file(str(sample_image)), "clouds drift", duration=10, api_name="/generate")
    _, video, gen_id = job.result(timeout=120)
    texts = statuses(job.outputs())
    assert len(set(texts)) >= 3, texts
    assert Path(video).read_bytes()[4:8] == b"ftyp"
    creates = [r for r in sim.requests if r.method == "POST"]
    assert len(creates) == 1, "exactly one create request per job"
    for create in creates:
        assert create.headers["authorization"] == f"Bearer {SECRET}"
        assert_valid_body(create.json)
        assert create.json["duration"] == 10
    polls = [r for r in sim.requests if r.method == "GET" and r.query.get("generation_id") == gen_id]
    assert 1 <= len(polls) <= 30


def test_server_key_never_leaks(remote: tuple[Simulator, RunningApp]) -> None:
    _, app = remote
    for path in ("", "config", "gradio_api/info", "gradio_api/openapi.json"):
        response = requests.get(app.url + path, timeout=10)
        assert SECRET not in response.text, path
    assert SECRET not in app.log()


def test_visitor_key_in_header_is_used(remote: tuple[Simulator, RunningApp], sample_image: Path) -> None:
    sim, app = remote
    client = Client(app.url, verbose=False, headers={"x-aimlapi-key": "visitor-key-not-valid"})
    before = sim.create_count
    with pytest.raises(Exception, match="API key"):
        client.predict(handle_file(str(sample_image)), "x", api_name="/submit")
    assert sim.create_count == before + 1
    assert [r for r in sim.requests if r.method == "POST"][-1].headers["authorization"] == (
        "Bearer visitor-key-not-valid"
    )


def test_job_survives_an_app_restart(tmp_path: Path, sample_image: Path) -> None:
    env = {"KLING_SIM_GENERATE_SECONDS": "6"}
    app = start_app(tmp_path / "data", env)
    try:
        gen_id, _ = Client(app.url, verbose=False).predict(
            handle_file(str(sample_image)), "x", api_name="/submit"
        )
    finally:
        stop_app(app)
    app = start_app(tmp_path / "data", env)
    try:
        client = Client(app.url, verbose=False)
        import time

        deadline = time.monotonic() + 60
        video = None
        while time.monotonic() < deadline and not video:
            text, video = client.predict(gen_id, api_name="/status")
            time.sleep(0.5)
        assert video and Path(video).read_bytes()[4:8] == b"ftyp", text
    finally:
        stop_app(app)


def test_mcp_lists_the_tools(tmp_path: Path) -> None:
    app = start_app(tmp_path / "mcp", args=("--mcp",))
    try:
        schema = requests.get(app.url + "gradio_api/mcp/schema", timeout=10).json()
    finally:
        stop_app(app)
    names = {tool["name"] for tool in schema}
    assert {"generate", "submit", "status"} <= names, names
    described = {tool["name"]: tool.get("description", "") for tool in schema}
    assert "video" in described["generate"].lower()
