"""Measure the emulator itself through the real SDK on loopback, on both HTTP servers.

Run: `.venv/bin/python -m bench.emulator_latency [--calls 1000]`. The emulator runs in its own
process; for each server (`waitress`: keep-alive, `werkzeug`: a new TCP connection per request)
it times GET /v1/people/me and POST /v1/messages and writes p50/p99 (ms) to
bench/results/emulator_latency.json. The difference between the servers is what a TCP connect
per call costs every figure measured against the werkzeug emulator.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import requests
from webexpythonsdk import WebexAPI

from bench.emulator_process import EmulatorProcess
from bench.figures import summarize
from bench.figures import write_result
from tokenbot.emulator import SEED_CLIENT_ID


def _time(call: Callable[[], Any], count: int) -> dict[str, float]:
    for _ in range(min(20, count)):
        call()  # warm-up: imports, first connections
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return summarize(samples)


def measure(server: str, calls: int) -> dict[str, Any]:
    """Time the two calls against an emulator served by `server`."""
    with EmulatorProcess(server) as emulator:
        control = f"{emulator.url}/_emulator/"
        body = {"client_id": SEED_CLIENT_ID, "email": "alice@example.com", "scopes": ["spark:all"]}
        token = requests.post(control + "tokens", json=body, timeout=10).json()["access_token"]
        api = WebexAPI(access_token=token, base_url=emulator.api_url)
        room = api.rooms.create("Bench Room")
        return {
            "GET /v1/people/me": _time(api.people.me, calls),
            "POST /v1/messages": _time(
                lambda: api.messages.create(roomId=room.id, text="bench"), calls
            ),
        }


def main() -> None:
    """Run the measurement on both servers and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--servers", default="waitress,werkzeug")
    args = parser.parse_args()
    figures = {server: measure(server, args.calls) for server in args.servers.split(",")}
    for server, calls in figures.items():
        for name, stats in calls.items():
            print(
                f"{server:9s} {name:20s} p50 {stats['p50_ms']:7.2f} ms   "
                f"p99 {stats['p99_ms']:7.2f} ms   (mean {stats['mean_ms']:.2f}, n={stats['n']})"
            )
    print(f"written to {write_result('emulator_latency', figures)}")


if __name__ == "__main__":
    main()
