"""Shared fixtures: sample images, and the real app started as a subprocess on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_image(path: Path, size: tuple[int, int] = (640, 360), fmt: str = "JPEG") -> Path:
    """A small picture with shapes, so videos have something to move."""
    img = Image.new("RGB", size, (30, 60, 120))
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.ellipse((w * 0.6, h * 0.1, w * 0.8, h * 0.1 + w * 0.2), fill=(250, 200, 80))
    draw.rectangle((0, h * 0.7, w, h), fill=(20, 90, 60))
    draw.polygon([(w * 0.1, h * 0.7), (w * 0.3, h * 0.3), (w * 0.5, h * 0.7)], fill=(200, 200, 210))
    img.save(path, fmt)
    return path


@pytest.fixture
def sample_image(tmp_path: Path) -> Path:
    """A valid 640x360 JPEG."""
    return make_image(tmp_path / "sample.jpg")


@dataclass
class RunningApp:
    """A launched `python app.py` and where it lives."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        """Everything the app printed so far."""
        return self.log_path.read_text(errors="replace")


def start_app(
    data_dir: Path,
    env_extra: dict[str, str] | None = None,
    *,
    port: int | None = None,
    args: tuple[str, ...] = (),
) -> RunningApp:
    """Start the app for real and wait until it answers HTTP."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMLAPI_", "KLING_", "GRADIO_"))}
    env.update(
        {
            "KLING_DATA_DIR": str(data_dir),
            "GRADIO_SERVER_NAME": "127.0.0.1",
            "GRADIO_SERVER_PORT": str(port),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "KLING_SIM_QUEUE_SECONDS": "0.5",
            "KLING_SIM_GENERATE_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(env_extra or {})
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"app-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app exited early:\n{log_path.read_text()}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return RunningApp(url, data_dir, process, log_path)
        except requests.RequestException:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"app did not answer within 60 s:\n{log_path.read_text()}")


def stop_app(app: RunningApp) -> None:
    """Stop the app (SIGTERM, then SIGKILL)."""
    app.process.terminate()
    try:
        app.process.wait(10)
    except subprocess.TimeoutExpired:
        app.process.kill()
        app.process.wait(5)


@pytest.fixture(scope="module")
def offline_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app with no key: the embedded simulator serves."""
    app = start_app(tmp_path_factory.mktemp("offline-app"))
    yield app
    stop_app(app)
