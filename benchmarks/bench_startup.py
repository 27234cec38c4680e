"""Start-up time: `python app.py` (no key: embedded simulator) vs a bare Gradio hello-world.

Run: python benchmarks/bench_startup.py [--runs 7]

Each run times process start → the first HTTP 200 on `/`, polling every 20 ms. Runs alternate
(hello, ours, hello, ours, ...) after one untimed warm-up of each, so drift in machine load hits both
alike. Then one more start of each, under -X importtime, lists what ours imports at start-up (including
the first page load) that the hello-world does not, and whether av / jsonschema / numpy are loaded.

Exits 1 if ours' median is over 1.3 × the hello-world's, or if ours (not Gradio) loads av or jsonschema.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PY, ROOT, clean_env, free_port, loadavg, machine, spawn, table, verdict, wait_http_200

GOAL_RATIO = 1.3
HELLO = 'import gradio as gr\n\ngr.Interface(lambda x: x, "text", "text").launch()\n'
HEAVY = ("av", "jsonschema", "numpy", "pandas", "PIL", "requests")

# Start the app (or hello-world) in-process, load "/" once, then report sys.modules as JSON on stdout.
PROBE = r"""
import json, sys, urllib.request
which, root, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if which == "ours":
    sys.path.insert(0, root)
    sys.argv = ["app.py"]
    import app
    demo = app.demo
    kwargs = dict(max_threads=400, max_file_size="25mb", run_history=False)
else:
    import gradio as gr
    demo = gr.Interface(lambda x: x, "text", "text")
    kwargs = {}
demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **kwargs)
urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read()
mods = sorted(sys.modules)
demo.close()
if which == "ours":
    app.backend.close()
print("MODULES " + json.dumps(mods), flush=True)
"""


def time_start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> float:
    """Seconds from Popen to the first 200 on / for a server that reads GRADIO_SERVER_PORT."""
    port = free_port()
    proc = spawn(args, {**env, "GRADIO_SERVER_PORT": str(port)}, log, cwd=cwd)
    try:
        return wait_http_200(proc, f"http://127.0.0.1:{port}/", timeout=120, interval=0.02)
    finally:
        proc.stop()


def importtime(which: str, env: dict[str, str], cwd: Path) -> tuple[set[str], dict[str, float], list[str]]:
    """(modules loaded, self import µs per top-level package, import lines) for one probe start."""
    out = subprocess.run(
        [PY, "-X", "importtime", "-c", PROBE, which, str(ROOT), str(free_port())],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=180,
        check=True,
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("MODULES "))
    modules = set(json.loads(line[len("MODULES ") :]))
    per_package: dict[str, float] = defaultdict(float)
    lines = []
    for raw in out.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", raw)
        if m:
            per_package[m.group(4).split(".")[0]] += int(m.group(1))
            lines.append(raw)
    return modules, per_package, lines


def who_imports(lines: list[str], package: str) -> str:
    """The outermost module whose import pulled `package` in (from -X importtime's indentation)."""
    stack: list[tuple[int, str]] = []
    parents = []
    for raw in reversed(lines):  # importtime prints children before parents
        m = re.match(r"import time:\s+\d+ \|\s+\d+ \|(\s*)(\S+)", raw)
        if not m:
            continue
        depth, name = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        stack.append((depth, name))
        if name == package or name.startswith(package + "."):
            parents = [n for _, n in stack[:-1]]
            break
    if not parents:
        return "(top level)"
    ours = ("app", "kling_demo", "kling_ui")
    first_foreign = next((i for i, name in enumerate(parents) if not name.startswith(ours)), len(parents) - 1)
    chain = parents[: first_foreign + 1]
    if first_foreign < len(parents) - 1:
        chain += (["…"] if first_foreign < len(parents) - 2 else []) + [parents[-1]]
    return " → ".join(chain)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each (default 7)")
    parser.add_argument("--app", type=Path, default=ROOT / "app.py", help="the app to measure (for A/B runs)")
    args = parser.parse_args()
    print(f"Machine: {machine()}\n", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp_name:
        tmp = Path(tmp_name)
        hello = tmp / "hello.py"
        hello.write_text(HELLO)
        env = clean_env(KLING_DATA_DIR=str(tmp / "data"), GRADIO_TEMP_DIR=str(tmp / "gradio-tmp"))
        commands = {"hello": [PY, str(hello)], "ours": [PY, str(args.app.resolve())]}
        times: dict[str, list[float]] = {"hello": [], "ours": []}
        for which in ("hello", "ours"):  # warm-up: page cache, .pyc files, ours' data dir
            time_start(commands[which], env, tmp, tmp / f"{which}-warmup.log")
        for i in range(args.runs):
            for which in ("hello", "ours"):
                seconds = time_start(commands[which], env, tmp, tmp / f"{which}-{i}.log")
                times[which].append(seconds)
                print(f"  run {i + 1}: {which} {seconds:.2f} s", flush=True)
        ours_mods, ours_cost, ours_lines = importtime("ours", env, tmp)
        hello_mods, _, _ = importtime("hello", env, tmp)

    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["ours"] / med["hello"]
    print()
    print(
        table(
            ["app", "median (s)", "min (s)", "max (s)", "runs", "× hello-world"],
            [
                [
                    "bare Gradio hello-world" if k == "hello" else "ours: python app.py (embedded simulator)",
                    f"{med[k]:.2f}",
                    f"{min(v):.2f}",
                    f"{max(v):.2f}",
                    len(v),
                    f"{med[k] / med['hello']:.2f}",
                ]
                for k, v in times.items()
            ],
        )
    )

    extra_top = {m.split(".")[0] for m in ours_mods} - {m.split(".")[0] for m in hello_mods}
    extra_top.discard("__main__")
    rows = sorted(((ours_cost.get(p, 0) / 1000, p) for p in extra_top), reverse=True)
    print(
        f"\nModules ours loads at start-up that the hello-world does not "
        f"({len(extra_top)} top-level packages; `app` is app.py's own code: it builds the page and backend):"
    )
    print(
        table(
            ["package", "self import time (ms)"],
            [[p, f"{ms:.1f}"] for ms, p in rows if ms >= 0.05 or p in ("kling_demo", "kling_ui", "app")],
        )
    )
    small = sorted(p for ms, p in rows if ms < 0.05 and p not in ("kling_demo", "kling_ui", "app"))
    if small:
        print(f"(and, under 0.05 ms each: {', '.join(small)})")
    print("\nHeavy modules loaded after start-up and the first page load:")
    heavy_rows = []
    for name in HEAVY:
        in_ours, in_hello = name in ours_mods, name in hello_mods
        via = who_imports(ours_lines, name) if in_ours else ""
        heavy_rows.append(
            [
                name,
                "yes" if in_ours else "no",
                "yes" if in_hello else "no",
                f"{ours_cost.get(name, 0) / 1000:.0f}",
                via,
            ]
        )
    print(
        table(
            ["module", "ours", "hello-world", "import ms (ours)", "first imported via (ours)"],
            heavy_rows,
            "lllrl",
        )
    )
    print(f"\nLoad average after the runs: {loadavg()}")

    failures = []
    if ratio > GOAL_RATIO:
        failures.append(f"ours starts in {ratio:.2f} × the hello-world's time (goal ≤ {GOAL_RATIO})")
    for name in ("av", "jsonschema"):
        if name in ours_mods and name not in hello_mods:
            failures.append(f"ours imports {name} at start-up ({who_imports(ours_lines, name)})")
    return verdict(failures, f"ours {med['ours']:.2f} s vs hello-world {med['hello']:.2f} s = {ratio:.2f} ×")


if __name__ == "__main__":
    sys.exit(main())
