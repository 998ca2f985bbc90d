"""Measure emulator latency through the real SDK on loopback.

Run: `.venv/bin/python -m bench.emulator_latency [--calls 1000]`. Prints p50/p99 (ms) of
GET /v1/people/me and POST /v1/messages and writes them to bench/results/emulator_latency.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from webexpythonsdk import WebexAPI

from emulator import SEED_CLIENT_ID
from emulator import EmulatorServer

RESULTS = Path(__file__).resolve().parent / "results" / "emulator_latency.json"


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _time(call: Callable[[], Any], count: int) -> dict[str, float]:
    for _ in range(min(20, count)):
        call()  # warm-up: imports, first connections
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "calls": count,
        "p50_ms": round(_percentile(samples, 0.50), 3),
        "p99_ms": round(_percentile(samples, 0.99), 3),
        "mean_ms": round(statistics.fmean(samples), 3),
        "max_ms": round(max(samples), 3),
    }


def main() -> None:
    """Run the measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    with EmulatorServer() as server:
        control = f"{server.url}/_emulator/"
        body = {"client_id": SEED_CLIENT_ID, "email": "alice@example.com", "scopes": ["spark:all"]}
        token = requests.post(control + "tokens", json=body, timeout=10).json()["access_token"]
        api = WebexAPI(access_token=token, base_url=server.api_url)
        room = api.rooms.create("Bench Room")
        figures = {
            "GET /v1/people/me": _time(api.people.me, args.calls),
            "POST /v1/messages": _time(
                lambda: api.messages.create(roomId=room.id, text="bench"), args.calls
            ),
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    for name, stats in figures.items():
        print(
            f"{name:20s} p50 {stats['p50_ms']:7.2f} ms   p99 {stats['p99_ms']:7.2f} ms   "
            f"(mean {stats['mean_ms']:.2f}, max {stats['max_ms']:.2f}, n={stats['calls']})"
        )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
