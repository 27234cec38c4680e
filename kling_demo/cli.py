"""Command line: generate one video, check or resume a job, run a batch, list the models."""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from .catalogue import default_model, models
from .config import AppConfig
from .errors import APIError, InputError, KlingError
from .polling import Progress, format_seconds
from .request import Settings
from .runtime import Backend, start_backend
from .service import JobEvent, JobService

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
PLAIN_EVERY = 30.0
BAR_WIDTH = 24
RESUME = "python -m kling_demo status"
BATCH_SOURCE_HELP = (
    "a folder (every jpg/jpeg/png/webp in it) or a CSV file with a header row "
    "image,prompt[,model,duration,negative_prompt]; image paths are relative to the CSV"
)
FIT_HELP = "crop or pad an image whose shape is outside Kling's 1:2.5 to 2.5:1 (default: refuse it)"


def say(text: str) -> None:
    """One line for the person (stderr), so stdout stays machine-readable."""
    print(text, file=sys.stderr, flush=True)


def with_id(message: str, gen_id: str | None) -> str:
    """Make sure an error message names the generation it is about."""
    return f"{message} (generation {gen_id})" if gen_id and gen_id not in message else message


class ProgressLine:
    """A bar redrawn in place on a terminal; on a pipe, a line per state change and every ~30 s."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.width = 0
        self.last_state = ""
        self.last_plain = 0.0

    def render(self, p: Progress) -> str:
        """Bar, state word, elapsed m:ss and the estimate left."""
        done = p.status.is_terminal
        filled = BAR_WIDTH if done else int(BAR_WIDTH * min(p.elapsed / p.expected, 0.99))
        left = f"~{format_seconds(p.remaining)} left" if p.remaining is not None else "longer than usual"
        tail = "" if done else f" · {left}" + (f" · {p.note}" if p.note else "")
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        return f"[{bar}] {p.status.label()} {format_seconds(p.elapsed)}{tail}"

    def update(self, p: Progress) -> None:
        """Show one progress event."""
        if self.tty:
            line = self.render(p)
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
        elif p.status.label() != self.last_state or p.elapsed - self.last_plain >= PLAIN_EVERY:
            self.stream.write(p.summary() + "\n")
            self.last_state, self.last_plain = p.status.label(), p.elapsed
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line so later messages start on a fresh one."""
        if self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()
            self.width = 0


@contextmanager
def backend(timeout: float | None = None) -> Iterator[Backend]:
    """Start the API client (or the offline simulator) and always shut it down."""
    config = AppConfig.from_env()
    if timeout is not None:
        config = dataclasses.replace(config, deadline_seconds=timeout)
    started = start_backend(config)
    if started.offline:
        say("Offline preview: no AIMLAPI_KEY set, so a local simulator makes the video; nothing is billed.")
    try:
        yield started
    finally:
        started.close()


def deliver(video: Path, out: str | None) -> int:
    """Copy the video to --out if asked and print its final path as the only stdout line."""
    final = video
    if out:
        final = Path(out).expanduser()
        final = final / video.name if final.is_dir() else final
        final.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(video, final)
    print(final.resolve(), flush=True)
    return 0


async def watch(
    service: JobService, gen_id: str, bar: ProgressLine | None, intro: str = ""
) -> JobEvent | None:
    """Say intro, then follow a job to its end, feeding the bar; returns the last event."""
    if intro:
        say(intro)  # said once the loop runs, so a Ctrl-C right after it gets the clean resume hint
    last = None
    async for last in service.follow(gen_id, tick=1.0 if bar else None):
        if bar and last.progress is not None:
            bar.update(last.progress)
    return last


def follow_to_end(service: JobService, gen_id: str, out: str | None, intro: str = "") -> int:
    """Wait for one job with a progress bar; deliver the video or explain the failure."""
    bar = ProgressLine(sys.stderr)
    try:
        last = asyncio.run(watch(service, gen_id, bar, intro))
    except KeyboardInterrupt:
        bar.close()
        say(f"Stopped waiting. The job may still finish (and be billed). Resume with: {RESUME} {gen_id}")
        return 130
    bar.close()
    if last is not None and last.video is not None:
        say(last.summary())
        return deliver(last.video, out)
    say("error: " + with_id(last.summary() if last else "The job ended without a result.", gen_id))
    if last is not None and not last.done:
        say(f"Check again later with: {RESUME} {gen_id} --wait")
    return 1


def settings_of(args: argparse.Namespace, row: dict[str, str] | None = None) -> Settings:
    """Settings from the command line, overridden by a CSV row's non-empty cells."""
    cell = {k: v for k, v in (row or {}).items() if v}
    duration = cell.get("duration", args.duration)
    if isinstance(duration, str) and not duration.isdigit():
        raise InputError(f"Duration must be a whole number of seconds, not {duration!r}.", "duration")
    return Settings(
        prompt=cell.get("prompt", args.prompt),
        model=cell.get("model", args.model),
        duration=None if duration is None else int(duration),
        negative_prompt=cell.get("negative_prompt", args.negative_prompt),
        cfg_scale=args.cfg_scale,
        end_image=args.end_image,
        fit=args.fit,
    )


def cmd_generate(args: argparse.Namespace) -> int:
    """Validate, send one create request, then wait for the video."""
    settings = settings_of(args)
    with backend(args.timeout) as b:
        request = b.service.prepare(args.image, settings)
        for note in request.notes:
            say(f"Note: {note}")
        record = b.service.submit(request, settings)
        return follow_to_end(b.service, record.id, args.out, intro=f"Generation id: {record.id}")


def cmd_status(args: argparse.Namespace) -> int:
    """One check of a job (or, with --wait, follow it to the end)."""
    with backend(args.timeout) as b:
        if args.wait:
            return follow_to_end(b.service, args.id, args.out)
        event = b.service.check(args.id)
        say(f"Generation {args.id}: {event.record.state}")
        if event.video is not None:
            return deliver(event.video, args.out)
        if event.record.is_terminal:
            say(with_id(event.summary(), args.id))
            return 1
        return 0


def batch_rows(source: Path) -> list[tuple[Path, dict[str, str]]]:
    """(image, CSV cells) for every job: each image in a folder, or each row of a CSV file."""
    if source.is_dir():
        return [(p, {}) for p in sorted(source.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    try:
        with source.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if "image" not in (reader.fieldnames or []):
                raise InputError(f"{source} needs a header row with an 'image' column (and 'prompt').")
            rows = [{k: (v or "").strip() for k, v in row.items() if isinstance(k, str)} for row in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{source} is not a readable CSV file ({exc}).") from None
    return [(source.parent / row["image"], row) for row in rows if row["image"]]


def out_names(images: list[Path]) -> list[str]:
    """<image stem>.mp4 per job, with the row number added where stems repeat."""
    counts = Counter(image.stem for image in images)
    return [f"{p.stem}-{i + 1}.mp4" if counts[p.stem] > 1 else f"{p.stem}.mp4" for i, p in enumerate(images)]


class Batch:
    """Runs batch jobs under a semaphore and remembers which are still running (for Ctrl-C)."""

    def __init__(self, service: JobService, args: argparse.Namespace) -> None:
        self.service, self.args = service, args
        self.out_dir = Path(args.out_dir).expanduser() if args.out_dir else None
        self.pending: dict[str, Path] = {}

    async def job(self, image: Path, row: dict[str, str], name: str, gate: asyncio.Semaphore) -> str:
        """Validate, submit and follow one job; returns its `ok ...` or `failed ...` line."""
        service = self.service
        try:
            async with gate:
                settings = settings_of(self.args, row)
                request = await service.client.run(service.prepare, image, settings)
                record = await service.client.run(service.submit, request, settings)
                self.pending[record.id] = image
                say(f"started {image}: generation {record.id}")
                last = await watch(service, record.id, None)
                del self.pending[record.id]
            if last is None or last.video is None:
                return f"failed {image}: " + with_id(last.summary() if last else "no result", record.id)
            video = shutil.copyfile(last.video, self.out_dir / name) if self.out_dir else last.video
            return f"ok {image} -> {Path(video).resolve()}"
        except KlingError as exc:
            return f"failed {image}: {exc.user_message()}"
        except OSError as exc:
            return f"failed {image}: {exc}"

    async def run(self, rows: list[tuple[Path, dict[str, str]]]) -> int:
        """Run every job, printing a line as each ends; returns how many failed."""
        if self.out_dir:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        gate = asyncio.Semaphore(max(1, self.args.concurrency))
        names = out_names([image for image, _ in rows])
        # Tasks made in list order, so jobs start in the order given (as_completed alone shuffles them).
        jobs = [
            asyncio.ensure_future(self.job(image, row, name, gate))
            for (image, row), name in zip(rows, names, strict=True)
        ]
        failed = 0
        for finished in asyncio.as_completed(jobs):
            line = await finished
            print(line, flush=True)
            failed += line.startswith("failed")
        return failed


def cmd_batch(args: argparse.Namespace) -> int:
    """Many jobs at once from a folder of images or a CSV file."""
    source = Path(args.source).expanduser()
    if not source.exists():
        raise InputError(f"{source} does not exist; give a folder of images or a CSV file.")
    rows = batch_rows(source)
    if not rows:
        raise InputError(f"No images found in {source} (looked for {', '.join(IMAGE_SUFFIXES)}).")
    with backend() as b:
        batch = Batch(b.service, args)
        try:
            failed = asyncio.run(batch.run(rows))
        except KeyboardInterrupt:
            say("Stopped waiting. Unfinished jobs may still finish (and be billed). Resume with:")
            for gen_id, image in batch.pending.items():
                say(f"  {RESUME} {gen_id}   # {image}")
            return 130
    say(f"{len(rows) - failed} of {len(rows)} videos made, {failed} failed.")
    return 1 if failed else 0


def cmd_models(args: argparse.Namespace) -> int:
    """Print the catalogue: id, label, durations and a one-line summary."""
    for m in models():
        low, high = m.durations[0], m.durations[-1]
        contiguous = len(m.durations) > 2 and high - low == len(m.durations) - 1
        durations = f"{low}-{high}" if contiguous else "/".join(str(d) for d in m.durations)
        default = " (default)" if m.id == default_model().id else ""
        print(f"{m.id}{default}\n    {m.label} · {durations} s · {m.summary}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m kling_demo",
        description="Turn an image and a prompt into a short Kling video through the AI/ML API. "
        "Without AIMLAPI_KEY (and AIMLAPI_BASE_URL) a local simulator runs instead; nothing is billed.",
        epilog="Progress goes to stderr; stdout gets only the video path, so scripts can capture it. "
        "KLING_DATA_DIR sets where jobs and videos are kept.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    gen = sub.add_parser("generate", help="make one video from an image and a prompt")
    gen.add_argument("image", help="start image (JPEG, PNG or WebP, both sides at least 300 px)")
    gen.add_argument("--prompt", default="", metavar="TEXT", help="the motion you want to see")
    add_model_args(gen)
    gen.add_argument("--negative-prompt", default="", metavar="TEXT", help="what to avoid (some models)")
    gen.add_argument("--cfg-scale", type=float, metavar="F", help="how closely to follow the prompt, 0-1")
    gen.add_argument("--end-image", metavar="PATH", help="image the video should end on (some models)")
    gen.add_argument("--fit", choices=("none", "crop", "pad"), default="none", help=FIT_HELP)
    add_wait_args(gen)
    gen.set_defaults(func=cmd_generate)
    st = sub.add_parser("status", help="check a job by its generation id (and save its video)")
    st.add_argument("id", help="the generation id printed by generate")
    st.add_argument("--wait", action="store_true", help="follow the job to the end with a progress bar")
    add_wait_args(st)
    st.set_defaults(func=cmd_status)
    batch = sub.add_parser("batch", help="many videos from a folder of images or a CSV file")
    batch.add_argument("source", metavar="FOLDER|FILE.csv", help=BATCH_SOURCE_HELP)
    batch.add_argument("--prompt", default="", metavar="TEXT", help="prompt for every image (CSV overrides)")
    batch.add_argument("--concurrency", type=int, default=4, metavar="N", help="jobs at once (default 4)")
    batch.add_argument("--out-dir", metavar="DIR", help="copy each video here as <image name>.mp4")
    add_model_args(batch)
    batch.set_defaults(func=cmd_batch, negative_prompt="", cfg_scale=None, end_image=None, fit="none")
    sub.add_parser("models", help="list the image-to-video models").set_defaults(func=cmd_models)
    return parser


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """--model and --duration."""
    parser.add_argument("--model", default=default_model().id, metavar="ID", help="see the models command")
    parser.add_argument("--duration", type=int, metavar="N", help="seconds (default: the model's default)")


def add_wait_args(parser: argparse.ArgumentParser) -> None:
    """--out and --timeout."""
    parser.add_argument("--out", metavar="FILE", help="copy the video here (default: print the saved path)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="stop waiting after this long")


def main(argv: list[str] | None = None) -> int:
    """Run one command; expected errors become a one-line message and an exit code, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        say(f"error: {exc.user_message()}")
        return 2
    except KlingError as exc:
        say("error: " + with_id(exc.user_message(), exc.generation_id if isinstance(exc, APIError) else None))
        return 1
    except OSError as exc:
        say(f"error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}")
        return 1
    except KeyboardInterrupt:
        say("Interrupted.")
        return 130
