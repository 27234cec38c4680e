"""Safe to share: per-visitor limits on the server's key, password protection, warnings, --help."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from gradio_client import Client, handle_file

from kling_demo.simulator import Simulator, SimulatorConfig
from tests.conftest import ROOT, start_app, stop_app

KEY = "owner-key-never-shown"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    with Simulator(
        SimulatorConfig(
            data_dir=tmp_path_factory.mktemp("sim"),
            queue_seconds=0.2,
            generate_seconds=0.5,
            valid_keys={KEY, "visitor-own-key"},
        )
    ) as simulator:
        yield simulator


def test_public_limits_stop_a_visitor_before_any_request(
    sim: Simulator, tmp_path: Path, sample_image: Path
) -> None:
    app = start_app(
        tmp_path / "app",
        {
            "AIMLAPI_KEY": KEY,
            "AIMLAPI_BASE_URL": sim.base_url,
            "KLING_LIMITS": "on",
            "KLING_JOBS_PER_HOUR": "2",
        },
    )
    try:
        client = Client(app.url, verbose=False)
        before = sim.create_count
        for _ in range(2):
            client.predict(handle_file(str(sample_image)), "x", api_name="/generate")
        with pytest.raises(Exception, match="per hour"):
            client.predict(handle_file(str(sample_image)), "x", api_name="/generate")
        assert sim.create_count == before + 2
        # a visitor with their own key is not limited by the owner's quota
        own = Client(app.url, verbose=False, headers={"x-aimlapi-key": "visitor-own-key"})
        own.predict(handle_file(str(sample_image)), "x", api_name="/generate")
        assert sim.create_count == before + 3
        assert KEY not in app.log()
    finally:
        stop_app(app)


def test_password_protection(tmp_path: Path, sample_image: Path) -> None:
    app = start_app(tmp_path / "app", {"KLING_AUTH": "friend:s3cret-pass"})
    try:
        assert "s3cret-pass" not in requests.get(app.url + "config", timeout=10).text
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do; the point is no access
            Client(app.url, verbose=False).predict("x", api_name="/status")
        client = Client(app.url, verbose=False, auth=("friend", "s3cret-pass"))
        assert client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    finally:
        stop_app(app)


def test_share_warning_only_when_it_matters() -> None:
    sys.path.insert(0, str(ROOT))
    from app import share_warning

    assert "WARNING" in share_warning(share=True, server_key=True, protected=False)
    assert share_warning(share=True, server_key=True, protected=True) == ""
    assert share_warning(share=True, server_key=False, protected=False) == ""
    assert share_warning(share=False, server_key=True, protected=False) == ""


def test_help_lists_the_options() -> None:
    out = subprocess.run(
        [sys.executable, "app.py", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"KLING_DATA_DIR": "/tmp/kling-help", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    for option in ("--host", "--port", "--share", "--auth", "--mcp"):
        assert option in out.stdout
