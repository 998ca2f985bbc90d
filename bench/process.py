"""Measure `tokenbot serve`: start-up time and idle memory, with a real config.

Run: `.venv/bin/python -m bench.process [--runs 5] [--idle 5]`. The emulator runs in its own
process; `tokenbot serve` gets a production config (SQLite file, the emulator's URLs, polling
intake, no account connected). Start-up is process start -> `/healthz` answers 200, measured
`--runs` times on a fresh database (migrations included) and `--runs` times restarting on the
migrated one; idle RSS is VmRSS from /proc after `--idle` seconds without requests. Figures go to
bench/results/process.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bench.emulator_process import EmulatorProcess
from bench.figures import write_result
from bench.serve_process import ServeProcess


def measure(runs: int, idle: float) -> dict[str, Any]:
    """Start `tokenbot serve` repeatedly; read its RSS after an idle pause."""
    fresh: list[float] = []
    restart: list[float] = []
    rss: list[float] = []
    with EmulatorProcess() as emulator:
        for _ in range(runs):
            serve = ServeProcess(emulator.url)
            try:
                fresh.append(serve.start())
                serve.halt()
                restart.append(serve.start())
                if not rss:
                    time.sleep(idle)  # idle: only the scheduler and the poller's timers run
                    rss.append(serve.rss_mb())
                    rss_after_start = rss[0]
            finally:
                serve.stop()
    return {
        "runs": runs,
        "startup_fresh_db_median_s": round(statistics.median(fresh), 3),
        "startup_fresh_db_max_s": round(max(fresh), 3),
        "startup_median_s": round(statistics.median(restart), 3),
        "startup_max_s": round(max(restart), 3),
        "idle_seconds": idle,
        "idle_rss_mb": rss_after_start,
    }


def main() -> None:
    """Run the measurement, print the figures and write them to bench/results/."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=5.0)
    args = parser.parse_args()
    figures = measure(args.runs, args.idle)
    for name, value in figures.items():
        print(f"{name:28s} {value}")
    print(f"written to {write_result('process', figures)}")


if __name__ == "__main__":
    main()
