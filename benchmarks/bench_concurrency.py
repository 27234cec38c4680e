"""200 simultaneous `generate` calls against the app, and the docs' loop behind a default Gradio app.

Run: python benchmarks/bench_concurrency.py [--jobs 200] [--baseline-jobs 6] [--app PATH]

A standalone simulator (its own process; queue 0 s, generate 20 s) plays the provider. The app runs as
`python app.py` with AIMLAPI_KEY=bench and AIMLAPI_BASE_URL=<simulator>, so it treats the simulator
like the real API. Its ETA for the model is seeded through its own eta.json with the simulated time
+ 0.5 s (the value its embedded-simulator mode seeds): an install that has learned this model's time.

Every job is one user with its own Gradio session and prompt, one small JPEG, submitted all at once
over the public HTTP API (upload, /gradio_api/call/generate, its SSE stream, then the video file); a
job counts once its video is downloaded. Two runs of ours:

* users with the page open: each session is opened before the burst (as a page load does), then all
  press Generate at once. The goals are checked on this run.
* first-time API users: Gradio builds each session's state inside the burst (reported, not checked).

The baseline (benchmarks/baseline_app.py) gets 6 jobs of a 5-s generation on the same simulator; its
200-job time is extrapolated, not run.

Exits 1 unless all of our jobs deliver their video within 30 s of the first submit, the app's RSS
grows by at most 150 MB, and no thread per job sits in time.sleep while the jobs wait.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ROOT,
    Call,
    Proc,
    Sampler,
    cpu_seconds,
    loadavg,
    machine,
    make_image,
    run_calls,
    seed_eta,
    start_gradio,
    start_simulator_process,
    table,
    verdict,
)

MODEL = "kling-video/v1/pro/image-to-video"
PROMPT = "Slow push-in, waves rolling, beam sweeping through dusk"
GOAL_SECONDS = 30.0
GOAL_RSS_MB = 150.0


@dataclass
class Run:
    """What happened to one batch of jobs."""

    label: str
    jobs: int
    generate_seconds: float
    calls: list[Call] = field(default_factory=list)
    started: float = 0.0  # time.time() just before the first submit
    tasks: dict[str, float] = field(default_factory=dict)  # prompt -> created_at at the provider
    polls: int = 0
    cpu_app: float = 0.0  # CPU seconds used during the run
    cpu_sim: float = 0.0
    cpu_client: float = 0.0  # this process: the load generator
    rss_before_mb: float = 0.0
    rss_growth_mb: float = 0.0
    threads_before: int = 0
    threads_wait: int = 0  # most threads sampled while every job waited on the provider
    threads_peak: int = 0
    sleeping_extra: int = 0  # most threads in time.sleep while the jobs waited, above the idle count

    @property
    def finished(self) -> int:
        return sum(1 for c in self.calls if c.ok)

    @property
    def wall(self) -> float:
        done = [c.received for c in self.calls if c.ok]
        return max(done) - self.started if done else float("nan")

    def job_seconds(self) -> list[float]:
        return [c.received - self.started for c in self.calls if c.ok]

    def create_span(self) -> tuple[float, float]:
        """Seconds from the first submit to the provider's first and last create."""
        if not self.tasks:
            return float("nan"), float("nan")
        return min(self.tasks.values()) - self.started, max(self.tasks.values()) - self.started

    def completion_delays(self) -> list[float]:
        """Per job: provider completed (created + generation) → video downloaded by the client."""
        return [
            c.received - (self.tasks[c.prompt] + self.generate_seconds)
            for c in self.calls
            if c.ok and c.prompt in self.tasks
        ]

    def errors(self) -> list[str]:
        return [c.error for c in self.calls if c.error]


def provider_tasks(sim_dir: Path, since: float) -> dict[str, float]:
    """{prompt: created_at} of every task the simulator stored at or after `since` (prompts are unique)."""
    tasks = {}
    for path in (sim_dir / "tasks").glob("*.json"):
        try:
            task = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if task.get("created_at", 0) >= since:
            tasks[task["prompt"]] = float(task["created_at"])
    return tasks


def sim_request(sim_url: str, method: str, name: str, **body: float) -> dict:
    root = sim_url.rsplit("/v2", 1)[0]
    response = requests.request(method, f"{root}/_sim/{name}", json=body or None, timeout=5)
    response.raise_for_status()
    return response.json()


def bench_app(
    script: Path,
    label: str,
    tmp: Path,
    sim: Proc,
    image: Path,
    jobs: int,
    gen: float,
    timeout: float,
    warm_sessions: bool,
) -> Run:
    """Start one app against the simulator, run `jobs` at once while sampling it, stop it."""
    data_dir = tmp / label.split()[0]
    if script.name != "baseline_app.py":
        seed_eta(data_dir, gen + 0.5, MODEL)
    env = {"AIMLAPI_KEY": "bench", "AIMLAPI_BASE_URL": sim.url}
    proc = start_gradio(script, data_dir, env, name=label.split()[0])
    run = Run(label, jobs, gen)
    prompts = [f"{PROMPT} (job {i})" for i in range(jobs)]  # one user each: no two identical submissions
    try:
        polls_before = sim_request(sim.url, "GET", "stats")["poll_count"]

        def mark() -> None:
            run.started = time.time()

        sim_cpu, own_cpu = cpu_seconds(sim.pid), time.process_time()
        with Sampler(proc.pid) as sampler:
            run.calls = run_calls(
                proc.url,
                image,
                prompts,
                tmp / f"{label.split()[0]}-out",
                timeout,
                on_start=mark,
                warm_sessions=warm_sessions,
            )
        run.cpu_sim, run.cpu_client = cpu_seconds(sim.pid) - sim_cpu, time.process_time() - own_cpu
        run.polls = sim_request(sim.url, "GET", "stats")["poll_count"] - polls_before
    finally:
        proc.stop()
    run.tasks = provider_tasks(tmp / "sim", run.started)
    run.cpu_app = sampler.cpu_used
    run.rss_before_mb = sampler.rss_before_kb / 1024
    run.rss_growth_mb = sampler.growth_mb
    run.threads_before = sampler.threads_before
    run.threads_peak = sampler.threads_peak
    # The wait: from 1 s after the last create until just before the first job can complete.
    created = sorted(run.tasks.values()) or [run.started]
    start = created[-1] + 1.0
    waiting = sampler.between(start, max(start + 2.0, created[0] + gen - 0.5))
    run.threads_wait = max((s.threads for s in waiting), default=0)
    run.sleeping_extra = max((s.sleeping for s in waiting), default=0) - sampler.sleeping_before
    errors = run.errors()
    if errors:
        print(f"  {label}: {len(errors)} job(s) without a video, e.g. {errors[0]}", file=sys.stderr)
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--generate-seconds", type=float, default=20.0)
    parser.add_argument("--baseline-jobs", type=int, default=6)
    parser.add_argument("--baseline-generate-seconds", type=float, default=5.0)
    parser.add_argument("--skip-cold", action="store_true", help="skip the first-time-users run of ours")
    parser.add_argument("--app", type=Path, default=ROOT / "app.py", help="the app to measure (for A/B runs)")
    args = parser.parse_args()

    print(f"Machine: {machine()}\n", flush=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-concurrency-") as tmp_name:
        tmp = Path(tmp_name)
        image = make_image(tmp / "start.jpg")
        sim = start_simulator_process(tmp / "sim", 0.0, args.generate_seconds)
        try:
            variants = [("ours (users with the page open)", True)]
            if not args.skip_cold:
                variants.append(("ours-cold (first-time API users)", False))
            for label, warm in variants:
                print(
                    f"{label}: {args.jobs} jobs at once, generation {args.generate_seconds:g} s ...",
                    flush=True,
                )
                runs.append(
                    bench_app(
                        args.app.resolve(),
                        label,
                        tmp,
                        sim,
                        image,
                        args.jobs,
                        args.generate_seconds,
                        args.generate_seconds + 90,
                        warm,
                    )
                )
            sim_request(sim.url, "POST", "config", generate_seconds=args.baseline_generate_seconds)
            print(
                f"baseline: {args.baseline_jobs} jobs at once, "
                f"generation {args.baseline_generate_seconds:g} s ...",
                flush=True,
            )
            base = bench_app(
                ROOT / "benchmarks" / "baseline_app.py",
                "baseline (docs loop, default Gradio)",
                tmp,
                sim,
                image,
                args.baseline_jobs,
                args.baseline_generate_seconds,
                args.baseline_jobs * 17 + 60,
                False,
            )
            runs.append(base)
        finally:
            sim.stop()

    ours = runs[0]
    # The baseline runs one job at a time (concurrency_limit 1): N jobs take N x its per-job time.
    per_job = base.wall / max(1, base.finished)
    extrapolated = per_job * args.jobs
    rows = []
    for run in runs:
        times = run.job_seconds()
        delays = run.completion_delays()
        first_create, last_create = run.create_span()
        rows.append(
            [
                run.label,
                f"{run.jobs} × {run.generate_seconds:g} s",
                f"{run.finished}/{run.jobs}",
                f"{first_create:.1f} / {last_create:.1f}",
                f"**{run.wall:.1f}**",
                f"{statistics.median(times):.1f}" if times else "-",
                f"{statistics.median(delays):.1f} / {max(delays):.1f}" if delays else "-",
                f"{run.polls / max(1, run.jobs):.1f}",
                f"{run.cpu_app * 1000 / max(1, run.jobs):.0f}",
                f"{run.rss_before_mb:.0f} / {run.rss_growth_mb:+.0f}",
                f"{run.threads_before} / {run.threads_wait} / {run.threads_peak}",
                f"{run.sleeping_extra}",
            ]
        )
    print()
    print(
        table(
            [
                "app",
                "jobs × generation",
                "videos delivered",
                "first / last create at provider (s)",
                "first submit → last video (s)",
                "median job (s)",
                "completed → video in client, median / max (s)",
                "status requests / job",
                "app CPU / job (ms)",
                "RSS idle / growth (MB)",
                "threads idle / waiting / peak",
                "threads in time.sleep while waiting",
            ],
            rows,
        )
    )
    print(
        f"\nBaseline extrapolated to {args.jobs} jobs: {per_job:.1f} s per job, one at a time → "
        f"{extrapolated:.0f} s ({extrapolated / 60:.0f} min) until the last video; "
        f"ours: {ours.wall:.1f} s for {ours.finished} of {args.jobs}."
    )
    for run in runs[:-1]:
        print(
            f"CPU during '{run.label}': app {run.cpu_app:.1f} s, simulator {run.cpu_sim:.1f} s, "
            f"load generator {run.cpu_client:.1f} s, all on the same {os.cpu_count()} cores."
        )
    print(
        "Times are seconds from the first submit; a job counts when its video file is downloaded. "
        f"Load average after the runs: {loadavg()}."
    )

    failures = []
    if ours.finished < ours.jobs:
        failures.append(f"only {ours.finished}/{ours.jobs} jobs delivered a video")
    if not ours.wall <= GOAL_SECONDS:
        failures.append(
            f"the last video came {ours.wall:.1f} s after the first submit (goal ≤ {GOAL_SECONDS:g})"
        )
    if ours.rss_growth_mb > GOAL_RSS_MB:
        failures.append(f"RSS grew {ours.rss_growth_mb:.0f} MB (goal ≤ {GOAL_RSS_MB:g})")
    if ours.sleeping_extra >= ours.jobs / 10:
        failures.append(f"{ours.sleeping_extra} threads sat in time.sleep while {ours.jobs} jobs waited")
    return verdict(
        failures,
        f"{ours.jobs} jobs in {ours.wall:.1f} s, RSS +{ours.rss_growth_mb:.0f} MB, "
        f"no thread held per job ({ours.sleeping_extra} sleeping)",
    )


if __name__ == "__main__":
    sys.exit(main())
