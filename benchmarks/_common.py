"""Shared pieces of the benchmarks: processes on loopback, /proc sampling, small statistics, tables.

Nothing here talks to anything but 127.0.0.1, and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import requests
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---- processes -------------------------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without AIMLAPI_/KLING_/GRADIO_ settings, plus `extra`; analytics off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMLAPI_", "KLING_", "GRADIO_"))}
    env.update(
        {
            "GRADIO_ANALYTICS_ENABLED": "False",
            "GRADIO_SERVER_NAME": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    env.update(extra)
    return env


@dataclass
class Proc:
    """A child process we started, its log, and (for servers) its URL."""

    process: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM this one process, then SIGKILL it if it lingers (by pid only)."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def spawn(args: Sequence[str], env: dict[str, str], log_path: Path, cwd: Path = ROOT) -> Proc:
    """Start a child with stdout+stderr to log_path; PYTHONPATH lets it import the project from any cwd."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))}
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(list(args), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Proc(process, log_path, started=started)


def wait_http_200(proc: Proc, url: str, timeout: float = 90.0, interval: float = 0.05) -> float:
    """Poll url until it answers 200; returns seconds since the process was started. Bounded by timeout."""
    deadline = time.monotonic() + timeout
    session = requests.Session()
    session.trust_env = False
    try:
        while time.monotonic() < deadline:
            if proc.process.poll() is not None:
                raise RuntimeError(f"{proc.log_path.name}: exited early\n{proc.log()[-3000:]}")
            try:
                if session.get(url, timeout=2).status_code == 200:
                    proc.url = url
                    return time.monotonic() - proc.started
            except requests.RequestException:
                pass
            time.sleep(interval)
    finally:
        session.close()
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s\n{proc.log()[-3000:]}")


def start_gradio(
    script: Path, data_dir: Path, env_extra: dict[str, str] | None = None, *, name: str = "app"
) -> Proc:
    """`python script` on a free loopback port, run in data_dir; waits for HTTP 200 on /."""
    port = free_port()
    env = clean_env(
        GRADIO_SERVER_PORT=str(port),
        KLING_DATA_DIR=str(data_dir),
        GRADIO_TEMP_DIR=str(data_dir / "gradio-tmp"),
        **(env_extra or {}),
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = spawn([PY, str(script)], env, data_dir / f"{name}-{port}.log", cwd=data_dir)
    try:
        wait_http_200(proc, f"http://127.0.0.1:{port}/")
    except BaseException:
        proc.stop()
        raise
    return proc


def start_simulator_process(
    data_dir: Path, queue_seconds: float, generate_seconds: float, timeout: float = 30.0
) -> Proc:
    """`python -m kling_demo.simulator --port 0` in its own process; proc.url is its base URL."""
    args = [
        PY,
        "-m",
        "kling_demo.simulator",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        "--queue-seconds",
        str(queue_seconds),
        "--generate-seconds",
        str(generate_seconds),
    ]
    proc = spawn(args, clean_env(), data_dir.parent / "simulator.log")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(r"serving at (http://\S+)", proc.log())
        if match:
            proc.url = match.group(1)
            return proc
        if proc.process.poll() is not None:
            break
        time.sleep(0.1)
    proc.stop()
    raise RuntimeError(f"simulator did not start:\n{proc.log()}")


def seed_eta(data_dir: Path, seconds: float, model: str, duration: int = 5) -> None:
    """Write the app's own eta.json as an install that has already learned `seconds` for model/duration."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "eta.json").write_text(json.dumps({f"{model}|{duration}": [round(seconds, 2)]}))


# ---- a light Gradio API client ---------------------------------------------------------------------------
#
# gradio_client 2.7.2 opens a new httpx client (and SSL context) for every upload and queue join; with
# 200 jobs submitted at once the benchmark process itself saturated a core for ~20 s before the app saw
# the last job. This client speaks the same public HTTP API (/gradio_api/upload, /gradio_api/call/<name>
# and its SSE stream, then the file URL) over one pooled asyncio connection pool.


@dataclass
class Call:
    """One API call's timeline (time.time() stamps) and outcome."""

    index: int
    prompt: str
    submitted: float = 0.0  # before the image upload
    uploaded: float = 0.0  # upload answered
    joined: float = 0.0  # event id received
    video_event: float = 0.0  # first SSE event carrying the video
    received: float = 0.0  # the video file fully downloaded by this client
    gen_id: str = ""
    video_bytes: int = 0
    events: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.received > 0 and self.video_bytes > 0 and not self.error


def _video_of(outputs: list[object]) -> dict | None:
    for item in outputs:
        if isinstance(item, dict) and isinstance(item.get("video"), dict):
            item = item["video"]
        if isinstance(item, dict) and item.get("url") and str(item.get("path", "")).endswith(".mp4"):
            return item
    return None


async def _one_call(
    client, base: str, api: str, params: list[dict], image: Path, call: Call, out: Path, session: str | None
) -> None:
    call.submitted = time.time()
    with image.open("rb") as fh:
        up = await client.post(f"{base}gradio_api/upload", files=[("files", (image.name, fh, "image/jpeg"))])
    up.raise_for_status()
    call.uploaded = time.time()
    file_data = {"path": up.json()[0], "orig_name": image.name, "meta": {"_type": "gradio.FileData"}}
    data = []
    for p in params:
        name = p.get("parameter_name")
        if name == "image":
            data.append(file_data)
        elif name == "prompt":
            data.append(call.prompt)
        else:
            data.append(p.get("parameter_default"))
    body: dict[str, object] = {"data": data}
    if session:
        body["session_hash"] = session
    joined = await client.post(f"{base}gradio_api/call/{api}", json=body)
    joined.raise_for_status()
    event_id = joined.json()["event_id"]
    call.joined = time.time()
    video = None
    event = ""
    async with client.stream("GET", f"{base}gradio_api/call/{api}/{event_id}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
                continue
            if not line.startswith("data:"):
                continue
            payload = json.loads(line[5:].strip() or "null")
            if event == "error":
                call.error = f"app error: {str(payload)[:200]}"
                return
            if event in ("generating", "complete") and isinstance(payload, list):
                call.events += 1
                if len(payload) >= 3 and isinstance(payload[2], str) and payload[2]:
                    call.gen_id = payload[2]
                found = _video_of(payload)
                if found and video is None:
                    video = found
                    call.video_event = time.time()
                    break
            if event == "complete":
                break
    if video is None:
        call.error = call.error or "finished without a video"
        return
    dest = out / f"{call.index}.mp4"
    async with client.stream("GET", video["url"]) as response:
        response.raise_for_status()
        with dest.open("wb") as fh:
            async for block in response.aiter_bytes(1 << 16):
                fh.write(block)
    call.received = time.time()
    call.video_bytes = dest.stat().st_size
    dest.unlink(missing_ok=True)


async def _open_session(client: httpx.AsyncClient, base: str, session: str) -> None:
    """One cheap call in a new session so that Gradio builds its state now, as a page load would."""
    joined = await client.post(f"{base}gradio_api/call/status", json={"data": [""], "session_hash": session})
    joined.raise_for_status()
    async with client.stream("GET", f"{base}gradio_api/call/status/{joined.json()['event_id']}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:") and line[6:].strip() in ("complete", "error"):
                break


def run_calls(
    base: str,
    image: Path,
    prompts: Sequence[str],
    out_dir: Path,
    timeout: float,
    api: str = "generate",
    on_start: object = None,
    warm_sessions: bool = True,
) -> list[Call]:
    """Submit one call per prompt at once and wait (at most `timeout` s) for every video; never raises.

    Each call is its own user: its own Gradio session. With warm_sessions (the default) every session
    is opened before the burst by one cheap call (`status` with no id, which Gradio answers with an
    error before our code does any work), as a browser opens its session when the page loads, before
    its user presses Generate. Without it, Gradio builds each session's state inside the burst: 200
    first-time API users. (Sharing one session, as one gradio_client.Client does, is not possible over
    /gradio_api/call: concurrent streams of one session take each other's messages.)
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    calls = [Call(i, p) for i, p in enumerate(prompts)]
    sessions = [uuid.uuid4().hex[:12] for _ in calls]

    async def main() -> None:
        # uvicorn closes idle keep-alive connections after 5 s; reusing one as it closes is a ReadError,
        # so connections idle for more than 1 s are not reused.
        limits = httpx.Limits(
            max_connections=len(calls) * 2 + 8,
            max_keepalive_connections=len(calls) + 8,
            keepalive_expiry=1.0,
        )
        timeouts = httpx.Timeout(60.0, connect=10.0)
        async with httpx.AsyncClient(trust_env=False, limits=limits, timeout=timeouts) as client:
            info = (await client.get(f"{base}gradio_api/info")).json()
            params = info["named_endpoints"][f"/{api}"]["parameters"]

            async def guarded(call: Call) -> None:
                try:
                    await _one_call(client, base, api, params, image, call, out_dir, sessions[call.index])
                except Exception as exc:
                    stage = (
                        "upload/join"
                        if not call.joined
                        else "event stream"
                        if not call.video_event
                        else "video download"
                    )
                    call.error = f"{type(exc).__name__} during {stage}: {str(exc)[:200]}"

            if warm_sessions:
                await asyncio.wait_for(
                    asyncio.gather(*(_open_session(client, base, h) for h in sessions)), timeout=120
                )
            if callable(on_start):
                on_start()
            tasks = [asyncio.create_task(guarded(c)) for c in calls]
            _done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for call in calls:
                if not call.received and not call.error:
                    call.error = f"not finished within {timeout:.0f} s"

    asyncio.run(main())
    return calls


# ---- /proc sampling --------------------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS (kB), VmHWM (kB) and Threads of a process, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (/proc/<pid>/stat), 0.0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sleeping_threads(pid: int) -> int:
    """Threads of a process blocked in a timed sleep (time.sleep): kernel wait channel *nanosleep."""
    count = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0
    for task in tasks:
        try:
            if "nanosleep" in (task / "wchan").read_text():
                count += 1
        except OSError:
            continue
    return count


@dataclass
class Sample:
    at: float  # time.time()
    rss_kb: int
    threads: int
    sleeping: int  # threads inside time.sleep()


class Sampler:
    """Samples a process's VmRSS, thread count and sleeping threads every `interval` s on a daemon thread."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval
        first = proc_status(pid)
        self.rss_before_kb = first.get("VmRSS", 0)
        self.threads_before = first.get("Threads", 0)
        self.sleeping_before = sleeping_threads(pid)
        self.samples: list[Sample] = []
        self.cpu_before = cpu_seconds(pid)
        self.cpu_used = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            status = proc_status(self.pid)
            if status:
                self.samples.append(
                    Sample(time.time(), status["VmRSS"], status["Threads"], sleeping_threads(self.pid))
                )
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu_used = cpu_seconds(self.pid) - self.cpu_before
        self._stop.set()
        self._thread.join(5)

    @property
    def rss_peak_kb(self) -> int:
        return max([s.rss_kb for s in self.samples] + [self.rss_before_kb])

    @property
    def threads_peak(self) -> int:
        return max([s.threads for s in self.samples] + [self.threads_before])

    def between(self, start: float, end: float) -> list[Sample]:
        """The samples taken in [start, end] (time.time() seconds)."""
        return [s for s in self.samples if start <= s.at <= end]

    @property
    def growth_mb(self) -> float:
        return (self.rss_peak_kb - self.rss_before_kb) / 1024


# ---- numbers and tables ----------------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    data = sorted(values)
    if not data:
        return float("nan")
    k = (len(data) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str = "") -> str:
    """A markdown table; align is one char per column ('l' or 'r'), default: first left, rest right."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """One line: cores, memory, CPU model, Python, Gradio, date, load average."""
    import gradio
    import gradio_client

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_gb = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gb:.1f} GB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, gradio {gradio.__version__}, "
        f"gradio_client {gradio_client.__version__}, "
        f"{datetime.datetime.now().astimezone().isoformat(timespec='seconds')}, load {loadavg()}"
    )


def loadavg() -> str:
    """The 1-minute load average (other work on the machine skews timings)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def make_image(path: Path, size: tuple[int, int] = (640, 360)) -> Path:
    """A small JPEG with shapes (the same picture the tests use)."""
    img = Image.new("RGB", size, (30, 60, 120))
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.ellipse((w * 0.6, h * 0.1, w * 0.8, h * 0.1 + w * 0.2), fill=(250, 200, 80))
    draw.rectangle((0, h * 0.7, w, h), fill=(20, 90, 60))
    draw.polygon([(w * 0.1, h * 0.7), (w * 0.3, h * 0.3), (w * 0.5, h * 0.7)], fill=(200, 200, 210))
    img.save(path, "JPEG", quality=90)
    return path


def verdict(failures: list[str], ok: str) -> int:
    """Print the final line and return the exit code."""
    print("\n" + ("FAIL: " + "; ".join(failures) if failures else f"OK: {ok}"), flush=True)
    return 1 if failures else 0
