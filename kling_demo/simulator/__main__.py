"""Run the simulator from the command line: python -m kling_demo.simulator [options]."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from .config import ID_STYLES, SimulatorConfig
from .server import Simulator


def parse_args(argv: list[str] | None = None) -> SimulatorConfig:
    """Build a SimulatorConfig from command-line arguments."""
    parser = argparse.ArgumentParser(prog="python -m kling_demo.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787, help="0 picks a free port (default 8787)")
    parser.add_argument("--data-dir", type=Path, default=Path("data/simulator"))
    parser.add_argument("--queue-seconds", type=float, default=2.0)
    parser.add_argument("--generate-seconds", type=float, default=6.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--id-style", choices=ID_STYLES, default="nanoid")
    parser.add_argument("--video-short-side", type=int, default=360)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    a = parser.parse_args(argv)
    return SimulatorConfig(
        data_dir=a.data_dir,
        queue_seconds=a.queue_seconds,
        generate_seconds=a.generate_seconds,
        host=a.host,
        port=a.port,
        id_style=a.id_style,
        error_rate=a.error_rate,
        fault_rate=a.fault_rate,
        seed=a.seed,
        video_short_side=a.video_short_side,
        fps=a.fps,
        verbose=a.verbose,
    )


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C."""
    try:
        config = parse_args(argv)
        sim = Simulator(config)
        url = sim.start()
    except (ValueError, OSError) as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    print(f"Simulator serving at {url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
