"""Post -> reply at WAN latency: every Webex call and every webhook delivery takes `--latency-ms`.

Run: `.venv/bin/python -m bench.wan_latency [--latency-ms 100] [--jitter-ms 0] [--commands 40]
[--polling-commands 20] [--modes webhook,polling]`.

The same three-process set-up and measurements as `bench.bot_latency` (read its docstring),
with the emulator's `latency_ms` setting on, so what counts is how many calls the path makes
and how well they overlap, not our CPU on loopback. Floors, measured alike:
- `floor_two_calls`: GET the message + POST the reply with the SDK, nothing else (2 calls);
- `floor_bare_bot`: the whole path a command needs (delivery -> GET -> POST -> delivery to the
  watcher) by a bot that does only those two calls; the target compares ours with this one,
  because the deliveries' latency is part of every bot's path.
A `websocket` intake joins `--modes` when it exists (its row in the report is a slot until then).
Figures go to bench/results/wan_latency.json.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.bot_latency import measure_bare
from bench.bot_latency import measure_ours
from bench.bot_latency import measure_two_calls
from bench.emulator_process import EmulatorProcess
from bench.figures import write_result

INTAKES = ("webhook", "polling", "websocket")


def main() -> None:
    """Run the floors and each intake at WAN latency, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--commands", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--polling-commands", type=int, default=20)
    parser.add_argument("--inflight", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=4, help="bot.workers (config default 4)")
    parser.add_argument("--modes", default="webhook,polling")
    parser.add_argument("--emulator-server", default="waitress", choices=["waitress", "werkzeug"])
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted(set(modes) - set(INTAKES))
    if unknown:
        raise SystemExit(f"unknown intake(s) {unknown}; choose from {list(INTAKES)}")
    args.emulator_settings = {"latency_ms": args.latency_ms, "latency_jitter_ms": args.jitter_ms}
    figures: dict[str, Any] = {
        "latency_ms": args.latency_ms,
        "jitter_ms": args.jitter_ms,
        "emulator_server": args.emulator_server,
    }
    # Every call now holds a server thread for latency_ms: give the emulator enough of them.
    with EmulatorProcess(args.emulator_server, threads=64) as emulator:
        figures["floor_two_calls"] = measure_two_calls(emulator.url, args, args.workers)
        figures["floor_bare_bot"] = measure_bare(emulator.url, args, args.workers)
        for intake in modes:
            figures[intake] = measure_ours(emulator.url, intake, args, args.workers)
    for name, stats in figures.items():
        if isinstance(stats, dict):
            print(
                f"{name:16s} p50 {stats['p50_ms']:8.2f} ms  p99 {stats['p99_ms']:8.2f} ms  "
                f"(n={stats['n']})  throughput {stats['throughput_commands_per_s']:.1f} commands/s"
            )
    print(f"written to {write_result('wan_latency', figures)}")


if __name__ == "__main__":
    main()
