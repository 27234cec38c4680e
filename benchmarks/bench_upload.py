"""Time prepare_image on a 24 MP, ~12 MB phone JPEG against a naive Pillow path.

Run: python benchmarks/bench_upload.py [--runs 7]
Exits 1 if prepare_image's median is over 250 ms, its output over 2 MB, or the output breaks Kling's limits.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kling_demo.catalogue import MAX_RATIO, MIN_RATIO, MIN_SIDE
from kling_demo.images import prepare_image

BUDGET_MS = 250
BUDGET_BYTES = 2_000_000
SIZE = (6000, 4000)  # stored landscape; EXIF orientation 6 makes it a 4000x6000 portrait


def make_photo(path: Path) -> None:
    """A 6000x4000 JPEG (q95, 4:2:0) with gradients, shapes and sensor-like noise, tagged orientation 6."""
    w, h = SIZE
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    sky = np.stack([70 + 120 * y + 0 * x, 110 + 90 * y + 20 * np.sin(9 * x), 200 - 60 * y + 0 * x], axis=-1)
    hills = (y > 0.55 + 0.08 * np.sin(7 * x) + 0.03 * np.sin(31 * x))[..., None]
    ground = np.stack([40 + 60 * x + 0 * y, 90 + 50 * y + 0 * x, 40 + 20 * x + 0 * y], axis=-1)
    base = np.where(hills, ground, sky)
    rng = np.random.default_rng(24)
    noise = rng.integers(-16, 17, size=(h, w, 3), dtype=np.int16)
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    exif[0x010F], exif[0x0110] = "BenchPhone", "Model 24"
    Image.fromarray(pixels).save(path, "JPEG", quality=95, exif=exif.tobytes())


def naive(path: Path, size: tuple[int, int]) -> bytes:
    """What one would write first: full decode, exif_transpose, LANCZOS resize, JPEG q95, base64."""
    with Image.open(path) as im:
        im.load()
        upright = ImageOps.exif_transpose(im)
    out = upright.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=95)
    data = buf.getvalue()
    base64.b64encode(data)
    return data


def ours(path: Path) -> bytes:
    """prepare_image, decoded back from its data URI."""
    return base64.b64decode(prepare_image(path).data_uri.partition(",")[2])


def check(data: bytes) -> tuple[tuple[int, int], bool]:
    """Output size and whether it obeys Kling's limits and the 2 MB upload budget."""
    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        ok = im.format == "JPEG" and len(data) <= BUDGET_BYTES and min(w, h) >= MIN_SIDE
    return (w, h), ok and MIN_RATIO <= w / h <= MAX_RATIO


def timed(fn: Callable[[], bytes], runs: int) -> tuple[list[float], bytes]:
    fn()  # warm-up: plugin imports, the resize thread pool, the page cache
    times, data = [], b""
    for _ in range(runs):
        start = time.perf_counter()
        data = fn()
        times.append((time.perf_counter() - start) * 1000)
    return times, data


def peak_rss_mb(which: str, path: Path, size: tuple[int, int]) -> float:
    """Extra peak RSS of one run, measured in a fresh interpreter so the paths do not share a peak."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, str(path), f"{size[0]}x{size[1]}"],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)["peak_mb"]


def vm_hwm_mb() -> float:
    """This process's peak resident memory: VmHWM, which exec resets (ru_maxrss is inherited over fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: an upper bound


def child(which: str, path: Path, size: str) -> None:
    w, h = (int(v) for v in size.split("x"))
    before = vm_hwm_mb()
    ours(path) if which == "ours" else naive(path, (w, h))
    print(json.dumps({"peak_mb": vm_hwm_mb() - before}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per path (default 7)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.child[2])
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
        path = Path(tmp) / "IMG_2024.jpg"
        make_photo(path)
        print(
            f"Input: {SIZE[0]}x{SIZE[1]} JPEG q95 with EXIF orientation 6, {path.stat().st_size / 1e6:.1f} MB"
        )
        print(f"{args.runs} timed runs per path after one warm-up\n")
        ours_times, ours_data = timed(lambda: ours(path), args.runs)
        ours_size, ours_ok = check(ours_data)
        naive_times, naive_data = timed(lambda: naive(path, ours_size), args.runs)
        rows = [
            ("prepare_image (draft + 2-thread LANCZOS, q90)", ours_times, ours_data, "ours"),
            ("naive (full decode, exif_transpose, LANCZOS, q95)", naive_times, naive_data, "naive"),
        ]
        print("| path | median ms | p95 ms | output bytes | output size | compliant | peak RSS MB |")
        print("|---|---:|---:|---:|---|---|---:|")
        for name, times, data, which in rows:
            (w, h), ok = check(data)
            p95 = sorted(times)[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            rss = peak_rss_mb(which, path, ours_size)
            print(
                f"| {name} | {statistics.median(times):.0f} | {p95:.0f} | {len(data):,} | {w}x{h} "
                f"| {'yes' if ok else 'NO'} | {rss:.0f} |"
            )
    median = statistics.median(ours_times)
    failures = []
    if median > BUDGET_MS:
        failures.append(f"median {median:.0f} ms is over the {BUDGET_MS} ms budget")
    if len(ours_data) > BUDGET_BYTES or not ours_ok:
        failures.append(
            f"output of {len(ours_data):,} bytes is over {BUDGET_BYTES:,} or breaks Kling's limits"
        )
    print("\n" + ("FAIL: " + "; ".join(failures) if failures else "OK: within 250 ms and 2 MB"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
