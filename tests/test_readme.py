"""The README's front matter is a valid Space config, and its examples run as written on the simulator."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, RunningApp

README = (ROOT / "README.md").read_text()


def code_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def test_space_front_matter() -> None:
    front = yaml.safe_load(README.split("---\n")[1])
    pinned = re.search(r"^gradio(?:\[[a-z]+\])?==([\d.]+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned and front["sdk"] == "gradio" and str(front["sdk_version"]) == pinned.group(1)
    assert (ROOT / front["app_file"]).is_file()
    assert str(front["python_version"]).startswith("3.")
    assert len(front["short_description"]) <= 60
    for key in ("title", "emoji", "colorFrom", "colorTo", "license"):
        assert front[key]


def test_readme_names_two_setup_commands() -> None:
    setup = README.split("## Set-up")[1].split("\n## ")[0]
    assert re.findall(r"```bash\n(.*?)\n```", setup) == ["bash run.sh", "bash test.sh"]


def test_python_example_runs(offline_app: RunningApp) -> None:
    (example,) = [b for b in code_blocks("python") if "gradio_client" in b]
    code = example.replace("http://127.0.0.1:7860/", offline_app.url)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count(".mp4") == 2 and "completed" in result.stdout


@pytest.mark.slow
def test_cli_examples_run(tmp_path: Path) -> None:
    (block,) = [b for b in code_blocks("bash") if "kling_demo generate" in b]
    lines = [line for line in block.strip().splitlines() if "<GENERATION_ID>" not in line]
    (tmp_path / "assets").symlink_to(ROOT / "assets")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMLAPI_", "KLING_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "KLING_DATA_DIR": str(tmp_path / "data"),
            "KLING_SIM_QUEUE_SECONDS": "0.3",
            "KLING_SIM_GENERATE_SECONDS": "1",
        }
    )
    for line in lines:
        argv = shlex.split(line)
        argv[0] = sys.executable
        result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{line}\n{result.stderr[-2000:]}"
    assert (tmp_path / "lighthouse.mp4").read_bytes()[4:8] == b"ftyp"
    assert len(list((tmp_path / "videos").glob("*.mp4"))) == 3
