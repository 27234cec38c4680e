"""The command line run for real as a subprocess against the offline simulator."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import av
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
MODEL = "kling-video/v1/pro/image-to-video"


@dataclass
class Run:
    """What one CLI invocation did."""

    code: int
    out: str
    err: str


def cli_env(data_dir: Path, generate_seconds: float = 1.0) -> dict[str, str]:
    """No key and no base URL (so the simulator runs), fast timings, data under data_dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMLAPI_", "KLING_"))}
    env.update(
        KLING_DATA_DIR=str(data_dir),
        KLING_SIM_QUEUE_SECONDS="0.3",
        KLING_SIM_GENERATE_SECONDS=str(generate_seconds),
        PYTHONUNBUFFERED="1",
    )
    return env


def run_cli(data_dir: Path, *args: str, timeout: float = 60) -> Run:
    """Run `python -m kling_demo ARGS` to the end."""
    done = subprocess.run(
        [sys.executable, "-m", "kling_demo", *args],
        cwd=ROOT,
        env=cli_env(data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def picture(path: Path, size: tuple[int, int] = (640, 360), hue: int = 0) -> Path:
    """A picture with shapes on it, so the video has something to move."""
    img = Image.new("RGB", size, (30 + hue, 60, 120))
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.ellipse((w * 0.6, h * 0.1, w * 0.8, h * 0.5), fill=(250, 200, 80))
    draw.rectangle((0, h * 0.7, w, h), fill=(20, 90, 60))
    img.save(path)
    return path


def assert_playable_mp4(path: Path) -> None:
    """An MP4 (ftyp box first) of real size that PyAV decodes into frames."""
    data = path.read_bytes()
    assert data[4:8] == b"ftyp", data[:16]
    assert len(data) > 5_000
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 10


def assert_no_traceback(run: Run) -> None:
    """Expected errors are one-line messages, never a Python traceback."""
    assert "Traceback" not in run.err + run.out


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Run]:
    """One `generate --out` run shared by the tests that look at its result."""
    data_dir = tmp_path_factory.mktemp("generate")
    image = picture(data_dir / "start.png")
    run = run_cli(
        data_dir, "generate", str(image), "--prompt", "the sun rises", "--out", str(data_dir / "clip.mp4")
    )
    return data_dir, run


def generation_id(run: Run) -> str:
    """The id from the `Generation id: ...` line."""
    lines = [line for line in run.err.splitlines() if line.startswith("Generation id: ")]
    assert len(lines) == 1, run.err
    return lines[0].split(": ", 1)[1].strip()


def test_generate_writes_a_playable_mp4_to_out(generated: tuple[Path, Run]) -> None:
    data_dir, run = generated
    assert run.code == 0, run.err
    assert run.out.strip().splitlines() == [str((data_dir / "clip.mp4").resolve())]
    assert_playable_mp4(data_dir / "clip.mp4")
    assert "offline preview" in run.err.lower()
    assert "Queued · 0:00 elapsed" in run.err  # plain progress lines when stderr is not a terminal
    assert generation_id(run)
    assert_no_traceback(run)


def test_status_after_generate_reports_completed(generated: tuple[Path, Run]) -> None:
    data_dir, first = generated
    gen_id = generation_id(first)
    run = run_cli(data_dir, "status", gen_id)
    assert run.code == 0, run.err
    assert f"Generation {gen_id}: completed" in run.err
    video = Path(run.out.strip())
    assert video.is_relative_to(data_dir) and video.suffix == ".mp4"
    assert_playable_mp4(video)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("tiny.png", "at least 300 px"), ("missing.png", "not found")],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path: Path, name: str, expected: str) -> None:
    if name == "tiny.png":
        picture(tmp_path / name, size=(200, 200))
    run = run_cli(tmp_path, "generate", str(tmp_path / name), "--prompt", "waves")
    assert run.code == 2
    assert expected in run.err
    assert run.out == ""
    assert "Generation id" not in run.err
    assert_no_traceback(run)
    assert not list((tmp_path / "jobs").glob("*.json"))  # nothing was sent


def test_unknown_model_is_an_input_error(tmp_path: Path) -> None:
    image = picture(tmp_path / "start.png")
    run = run_cli(tmp_path, "generate", str(image), "--prompt", "waves", "--model", "kling/nope")
    assert run.code == 2
    assert "Unknown model 'kling/nope'" in run.err
    assert_no_traceback(run)


def test_failed_task_exits_1_naming_the_generation(tmp_path: Path) -> None:
    image = picture(tmp_path / "start.png")
    run = run_cli(tmp_path, "generate", str(image), "--prompt", "waves [sim:error]")
    assert run.code == 1
    gen_id = generation_id(run)
    assert "failed" in run.err and gen_id in run.err.splitlines()[-1]
    assert run.out == ""
    assert_no_traceback(run)


def test_batch_over_a_folder_makes_every_video(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for i, ext in enumerate(("jpg", "png", "webp")):
        picture(folder / f"shot{i}.{ext}", hue=40 * i)
    (folder / "notes.txt").write_text("not an image")
    out_dir = tmp_path / "videos-out"
    run = run_cli(
        tmp_path, "batch", str(folder), "--prompt", "waves", "--concurrency", "3", "--out-dir", str(out_dir)
    )
    assert run.code == 0, run.err + run.out
    lines = run.out.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("ok ") for line in lines), run.out
    assert sorted(p.name for p in out_dir.iterdir()) == ["shot0.mp4", "shot1.mp4", "shot2.mp4"]
    for video in out_dir.iterdir():
        assert_playable_mp4(video)
    assert "3 of 3 videos made, 0 failed." in run.err


def test_batch_csv_keeps_going_past_a_bad_row(tmp_path: Path) -> None:
    picture(tmp_path / "good.png")
    picture(tmp_path / "small.png", size=(120, 120))
    table = tmp_path / "jobs.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "prompt", "model", "duration"])
        writer.writerow(["good.png", "a slow zoom", MODEL, "5"])
        writer.writerow(["small.png", "waves", "", ""])
    run = run_cli(tmp_path, "batch", str(table))
    assert run.code == 1
    lines = sorted(run.out.strip().splitlines())
    assert len(lines) == 2, run.out
    assert lines[0].startswith("failed ") and "small.png" in lines[0] and "300 px" in lines[0]
    assert lines[1].startswith("ok ") and "good.png" in lines[1]
    assert_playable_mp4(Path(lines[1].split(" -> ", 1)[1]))
    assert "1 of 2 videos made, 1 failed." in run.err
    assert_no_traceback(run)


def test_models_lists_the_catalogue(tmp_path: Path) -> None:
    run = run_cli(tmp_path, "models")
    assert run.code == 0
    assert MODEL in run.out
    assert "Kling 1.0 Pro" in run.out


def test_help_describes_the_commands(tmp_path: Path) -> None:
    run = run_cli(tmp_path, "--help")
    assert run.code == 0
    for command in ("generate", "status", "batch", "models"):
        assert command in run.out


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX-only")
def test_ctrl_c_prints_the_resume_hint_and_exits_130(tmp_path: Path) -> None:
    image = picture(tmp_path / "start.png")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kling_demo", "generate", str(image), "--prompt", "waves"],
        cwd=ROOT,
        env=cli_env(tmp_path, generate_seconds=30),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background jobs start with SIGINT ignored; give Python its KeyboardInterrupt back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    watchdog = threading.Timer(30, proc.kill)
    watchdog.start()
    try:
        seen = []
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("Generation id: "):
                break
        assert seen and seen[-1].startswith("Generation id: "), "".join(seen)
        gen_id = seen[-1].split(": ", 1)[1].strip()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        watchdog.cancel()
    assert proc.returncode == 130, err
    assert "Stopped waiting. The job may still finish (and be billed)." in err
    assert f"Resume with: python -m kling_demo status {gen_id}" in err
    assert out == ""
    assert "Traceback" not in err
