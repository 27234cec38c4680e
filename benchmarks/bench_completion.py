"""Completion delay and poll cost: from the provider's `completed` to the video in the user's client.

Run: python benchmarks/bench_completion.py [--jobs 20] [--long-jobs 4] [--long-seconds 210]

One in-process simulator plays the provider (queue 3 s, then generating). Every app reaches it as the
real API (AIMLAPI_KEY=bench, AIMLAPI_BASE_URL=<simulator>). Running together:

* ours, scaled: 20 jobs whose total times are spread evenly over one 15-s poll period around 21 s
  (13.9 … 28.1 s: "3.5 min / 10" with real-world spread), ETA seeded through the app's own eta.json
  at 21.5 s (what it learns from such runs, as its embedded-simulator mode seeds total + 0.5 s).
* ours, real length: 4 genuine 210-s jobs on a fresh install, so the ETA is the catalogue's documented
  204 s for the default model: the "typical 3.5-minute job", polls counted for real.
* baseline: benchmarks/baseline_app.py (docs loop, default Gradio queue: one job at a time) on 8 of the
  same scaled jobs, and the bare docs loop (no Gradio) on 2 genuine 210-s jobs.

For each job: when the provider first reported `completed` (task created_at + queue + generate, or
later if its video was still rendering: the simulator only says completed once the file exists), the
first status request at or after that moment (the simulator's request log), when the client got the
SSE event carrying the video, and when it had downloaded the file. Status requests are counted per
generation id from the same log.

Then a memory check of KlingClient.download: a 50 MB file from a local http.server, streamed (ours)
vs read whole (requests .content), peak RSS growth measured in a fresh interpreter.

Exits 1 unless ours has median delay ≤ 1.5 s and p95 ≤ 3 s, ≤ 30 status requests for every 210-s
job, delivery (completed poll → video downloaded by the client) p95 ≤ 1 s, and a streamed download.
"""

from __future__ import annotations

import argparse
import http.server
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (
    PY,
    ROOT,
    Call,
    clean_env,
    loadavg,
    machine,
    make_image,
    percentile,
    run_calls,
    seed_eta,
    start_gradio,
    table,
    verdict,
)

from kling_demo.simulator import Simulator, SimulatorConfig

MODEL = "kling-video/v1/pro/image-to-video"
QUEUE_SECONDS = 3.0
SCALED_CENTRE = 21.0  # 3.5 min / 10
POLL_PERIOD = 15.0  # the docs' loop
GOAL_MEDIAN, GOAL_P95, GOAL_POLLS, GOAL_DELIVERY = 1.5, 3.0, 30, 1.0
DOWNLOAD_MB = 50


@dataclass
class Job:
    """One job's provider-side and client-side timeline (time.time() seconds)."""

    group: str
    prompt: str
    total: float  # queue + generate as configured
    gen_id: str = ""
    created: float = 0.0
    completed: float = 0.0  # when the provider first said completed
    seen: float = 0.0  # first status request at or after `completed`
    video_event: float = 0.0
    received: float = 0.0
    polls: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.received > 0 and self.completed > 0 and not self.error

    @property
    def delay(self) -> float:
        return self.received - self.completed

    @property
    def lag(self) -> float:
        return self.seen - self.completed

    @property
    def delivery(self) -> float:
        return self.received - self.seen


@dataclass
class Group:
    label: str
    jobs: list[Job] = field(default_factory=list)
    wall: float = 0.0

    def ok(self) -> list[Job]:
        return [j for j in self.jobs if j.ok]


def spread_totals(n: int) -> list[float]:
    """n job lengths spread evenly over one 15-s poll period centred on 21 s."""
    return [SCALED_CENTRE - POLL_PERIOD / 2 + POLL_PERIOD * (i + 0.5) / n for i in range(n)]


def prompts_for(tag: str, totals: list[float]) -> list[str]:
    """Unique prompts (to find each task again) carrying the simulator's per-job generate time."""
    return [
        f"Waves roll under the lighthouse ({tag} #{i}) [sim:slow={t - QUEUE_SECONDS:.2f}]"
        for i, t in enumerate(totals)
    ]


def run_app_group(url: str, image: Path, group: Group, out: Path, timeout: float) -> None:
    """All of a group's jobs at once through the app's public API; copy client timings onto the jobs."""
    start = time.time()
    calls: list[Call] = run_calls(
        url, image, [j.prompt for j in group.jobs], out, timeout, warm_sessions=False
    )
    group.wall = time.time() - start
    for job, call in zip(group.jobs, calls, strict=True):
        job.video_event, job.received, job.error = call.video_event, call.received, call.error
        job.gen_id = job.gen_id or call.gen_id


def run_docs_loop_group(image: Path, group: Group, sim_url: str, timeout: float) -> None:
    """The baseline's docs loop without Gradio, one thread per job (the genuine 210-s jobs)."""
    import baseline_app

    baseline_app.BASE_URL, baseline_app.API_KEY = sim_url, "bench"
    start = time.time()

    def one(job: Job) -> None:
        try:
            path = baseline_app.generate(str(image), job.prompt)
            job.received = job.video_event = time.time()
            Path(path).unlink(missing_ok=True)
        except Exception as exc:
            job.error = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=one, args=(j,), daemon=True) for j in group.jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1.0, timeout - (time.time() - start)))
    for job in group.jobs:
        if not job.received and not job.error:
            job.error = f"not finished within {timeout:.0f} s"
    group.wall = time.time() - start


def fill_provider_side(sim: Simulator, groups: list[Group]) -> None:
    """Completion time and status requests of every job, from the simulator's task files and request log."""
    by_prompt = {}
    for path in (sim.api.store.tasks_dir).glob("*.json"):
        task = json.loads(path.read_text())
        by_prompt[task["prompt"]] = task
    polls: dict[str, list[float]] = {}
    for req in sim.requests:
        gid = req.query.get("generation_id")
        if req.method == "GET" and gid and req.path.endswith("/video/generations"):
            polls.setdefault(gid, []).append(req.time)
    cache = sim.api.renders
    for group in groups:
        for job in group.jobs:
            task = by_prompt.get(job.prompt)
            if task is None:
                job.error = job.error or "the provider never got this job"
                continue
            job.gen_id = task["id"]
            job.created = task["created_at"]
            done = task["created_at"] + task["queue_seconds"] + task["generate_seconds"]
            video = cache.path(task["render_key"])
            ready = video.stat().st_mtime if video.exists() else float("inf")
            job.completed = max(done, ready)
            times = sorted(polls.get(job.gen_id, []))
            job.polls = len(times)
            after = [t for t in times if t >= job.completed]
            job.seen = after[0] if after else 0.0
            if not after:
                job.error = job.error or "no status request after completion"


def fmt(values: list[float], q: float | None = None) -> str:
    if not values:
        return "-"
    return f"{(statistics.median(values) if q is None else percentile(values, q)):.2f}"


# ---- the streamed-download memory check ------------------------------------------------------------------

CHILD = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])
import requests
from kling_demo.client import KlingClient

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
which, url, dest = sys.argv[1:4]
client = KlingClient("bench", url.rsplit("/", 1)[0])
session = requests.Session(); session.trust_env = False
client._download_session.trust_env = False
before = status("VmRSS")
start = time.perf_counter()
if which == "ours":
    client.download(url, Path(dest))
else:
    Path(dest).write_bytes(session.get(url, timeout=60).content)
took = time.perf_counter() - start
size = Path(dest).stat().st_size
print(json.dumps({"growth_mb": status("VmHWM") - before, "seconds": took, "bytes": size}))
"""


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    """A static file server that does not log every request."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def download_check(tmp: Path) -> list[dict]:
    """Serve a 50 MB file on loopback; download it with KlingClient.download and with .content."""
    folder = tmp / "served"
    folder.mkdir()
    with (folder / "big.mp4").open("wb") as fh:
        block = bytes(range(256)) * 4096  # 1 MiB, not all zeros
        for _ in range(DOWNLOAD_MB):
            fh.write(block)
    handler = partial(QuietFiles, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/big.mp4"
    results = []
    try:
        for which in ("ours", "naive"):
            out = subprocess.run(
                [PY, "-c", CHILD, which, url, str(tmp / f"{which}.mp4"), str(ROOT)],
                capture_output=True,
                text=True,
                timeout=120,
                env=clean_env(),
                check=True,
            )
            results.append({"which": which, **json.loads(out.stdout.strip().splitlines()[-1])})
    finally:
        server.shutdown()
        server.server_close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--baseline-jobs", type=int, default=8)
    parser.add_argument("--long-jobs", type=int, default=4)
    parser.add_argument("--baseline-long-jobs", type=int, default=2)
    parser.add_argument("--long-seconds", type=float, default=210.0)
    parser.add_argument("--app", type=Path, default=ROOT / "app.py", help="the app to measure (for A/B runs)")
    args = parser.parse_args()
    print(f"Machine: {machine()}\n", flush=True)

    totals = spread_totals(args.jobs)
    base_idx = sorted(
        {round(i * (args.jobs - 1) / max(1, args.baseline_jobs - 1)) for i in range(args.baseline_jobs)}
    )
    scaled = Group("ours: scaled jobs, ETA learned (21.5 s)")
    scaled.jobs = [Job("ours-scaled", p, t) for p, t in zip(prompts_for("ours", totals), totals, strict=True)]
    base_totals = [totals[i] for i in base_idx]
    baseline = Group("baseline app (docs loop, default queue): scaled jobs")
    baseline.jobs = [
        Job("baseline-scaled", p, t)
        for p, t in zip(prompts_for("base", base_totals), base_totals, strict=True)
    ]
    long_totals = [args.long_seconds] * args.long_jobs
    longs = Group(f"ours: {args.long_seconds:g}-s jobs, fresh install (documented ETA)")
    longs.jobs = [
        Job("ours-long", p, t) for p, t in zip(prompts_for("long", long_totals), long_totals, strict=True)
    ]
    docs_totals = [args.long_seconds] * args.baseline_long_jobs
    docs_longs = Group(f"docs loop alone: {args.long_seconds:g}-s jobs")
    docs_longs.jobs = [
        Job("docs-long", p, t) for p, t in zip(prompts_for("docs", docs_totals), docs_totals, strict=True)
    ]
    groups = [scaled, longs, baseline, docs_longs]

    with tempfile.TemporaryDirectory(prefix="bench-completion-") as tmp_name:
        tmp = Path(tmp_name)
        image = make_image(tmp / "start.jpg")
        sim = Simulator(
            SimulatorConfig(data_dir=tmp / "sim", queue_seconds=QUEUE_SECONDS, generate_seconds=18.0)
        )
        sim.start()
        procs = []
        try:
            env = {"AIMLAPI_KEY": "bench", "AIMLAPI_BASE_URL": sim.base_url}
            seed_eta(tmp / "scaled", SCALED_CENTRE + 0.5, MODEL)
            print("Starting three apps ...", flush=True)
            app_s = start_gradio(args.app.resolve(), tmp / "scaled", env, name="scaled")
            procs.append(app_s)
            app_l = start_gradio(args.app.resolve(), tmp / "long", env, name="long")
            procs.append(app_l)
            app_b = start_gradio(ROOT / "benchmarks" / "baseline_app.py", tmp / "baseline", env, name="base")
            procs.append(app_b)
            long_timeout = args.long_seconds + 60
            runners = [
                threading.Thread(
                    target=run_app_group, args=(app_s.url, image, scaled, tmp / "out-s", 90), daemon=True
                ),
                threading.Thread(
                    target=run_app_group,
                    args=(app_l.url, image, longs, tmp / "out-l", long_timeout),
                    daemon=True,
                ),
                threading.Thread(
                    target=run_app_group,
                    args=(app_b.url, image, baseline, tmp / "out-b", 31 * len(baseline.jobs) + 30),
                    daemon=True,
                ),
                threading.Thread(
                    target=run_docs_loop_group,
                    args=(image, docs_longs, sim.base_url, long_timeout),
                    daemon=True,
                ),
            ]
            print(
                f"Running {len(scaled.jobs)} + {len(longs.jobs)} jobs on ours, {len(baseline.jobs)} on the "
                f"baseline app, {len(docs_longs.jobs)} through the bare docs loop (≈ "
                f"{max(args.long_seconds + 20, 30 * len(baseline.jobs)) / 60:.0f} min) ...",
                flush=True,
            )
            for t in runners:
                t.start()
            for t in runners:
                t.join(max(long_timeout, 31 * len(baseline.jobs) + 30) + 30)
            fill_provider_side(sim, groups)
        finally:
            for proc in procs:
                proc.stop()
            sim.stop()
        print("Download memory check ...", flush=True)
        downloads = download_check(tmp)

    rows = []
    for group in groups:
        good = group.ok()
        polls = [j.polls for j in good]
        rows.append(
            [
                group.label,
                f"{len(good)}/{len(group.jobs)}",
                f"{statistics.mean(j.delay for j in good):.2f}" if good else "-",
                fmt([j.delay for j in good]),
                fmt([j.delay for j in good], 95),
                f"{max(j.delay for j in good):.2f}" if good else "-",
                fmt([j.lag for j in good]),
                fmt([j.delivery for j in good]),
                fmt([j.delivery for j in good], 95),
                f"{statistics.median(polls):g} / {max(polls)}" if polls else "-",
            ]
        )
    print()
    print(
        table(
            [
                "jobs",
                "delivered",
                "delay mean (s)",
                "delay median (s)",
                "delay p95 (s)",
                "delay max (s)",
                "poll lag median (s)",
                "delivery median (s)",
                "delivery p95 (s)",
                "status requests / job (median / max)",
            ],
            rows,
        )
    )
    print(
        "\ndelay = provider first says completed → the client has the video file; poll lag = completed → "
        "the first status request after it; delivery = that request → video file downloaded by the client."
    )
    print(
        f"Scaled job lengths: {min(totals):.1f} … {max(totals):.1f} s "
        f"(queue {QUEUE_SECONDS:g} s + generating); "
        f"baseline app wall time for its {len(baseline.jobs)} jobs (one at a time): {baseline.wall:.0f} s."
    )
    for group in groups:
        bad = [j.error for j in group.jobs if not j.ok]
        if bad:
            print(f"  {group.label}: {len(bad)} failed, e.g. {bad[0]}", file=sys.stderr)
        counts = Counter(round(j.polls) for j in group.ok())
        if group in (longs, docs_longs) and counts:
            print(f"  {group.label}: status requests per job {dict(sorted(counts.items()))}")

    print()
    print(
        table(
            ["50 MB download on loopback", "peak RSS growth (MB)", "seconds"],
            [
                [
                    "KlingClient.download (iter_content → temp file)"
                    if d["which"] == "ours"
                    else "requests .content (whole body in memory)",
                    f"{d['growth_mb']:.1f}",
                    f"{d['seconds']:.2f}",
                ]
                for d in downloads
            ],
        )
    )
    print(f"\nLoad average after the run: {loadavg()}")

    ours = scaled.ok() + longs.ok()
    delays = [j.delay for j in ours]
    deliveries = [j.delivery for j in ours]
    failures = []
    if len(ours) < len(scaled.jobs) + len(longs.jobs):
        failures.append(
            f"only {len(ours)}/{len(scaled.jobs) + len(longs.jobs)} of our jobs delivered a video"
        )
    if delays and statistics.median(delays) > GOAL_MEDIAN:
        failures.append(f"median delay {statistics.median(delays):.2f} s (goal ≤ {GOAL_MEDIAN:g})")
    if delays and percentile(delays, 95) > GOAL_P95:
        failures.append(f"p95 delay {percentile(delays, 95):.2f} s (goal ≤ {GOAL_P95:g})")
    long_polls = [j.polls for j in longs.ok()]
    if not long_polls or max(long_polls) > GOAL_POLLS:
        failures.append(
            f"status requests for a {args.long_seconds:g}-s job: {long_polls} (goal ≤ {GOAL_POLLS})"
        )
    if deliveries and percentile(deliveries, 95) > GOAL_DELIVERY:
        failures.append(f"delivery p95 {percentile(deliveries, 95):.2f} s (goal ≤ {GOAL_DELIVERY:g})")
    streamed = next((d for d in downloads if d["which"] == "ours"), None)
    if streamed is None or streamed["growth_mb"] > DOWNLOAD_MB / 5:
        failures.append("KlingClient.download's peak RSS grew like a whole-body read")
    return verdict(
        failures,
        f"median delay {statistics.median(delays):.2f} s, p95 {percentile(delays, 95):.2f} s, "
        f"≤ {max(long_polls)} status requests per {args.long_seconds:g}-s job",
    )


if __name__ == "__main__":
    sys.exit(main())
