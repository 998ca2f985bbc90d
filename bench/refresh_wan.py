"""The refresher at WAN latency: every token call takes `--latency-ms`; how does concurrency help?

Run: `.venv/bin/python -m bench.refresh_wan [--accounts 10000] [--concurrency N]
[--scale 8,16,32,64] [--scale-accounts 500] [--latency-ms 100]`.

Set-up as `bench.refresh_throughput` (read its docstring): `--accounts` accounts, each with its
own emulator grant, stored encrypted in SQLite, all due at once. Then, with the emulator's
`latency_ms` on, one sweep refreshes all of them with refresh.max_concurrency =
`--concurrency` (the headline), and one sweep per `--scale` value refreshes `--scale-accounts`
of them again (the frozen clock moves a day between sweeps, so they are due again): seconds,
accounts/s and the 10,000-account time it predicts. The floor of a sweep is
accounts x latency / concurrency (the wire alone); the other bound is this process's CPU
(`cpu_ms_per_account`, the GIL: one core). Target: 10,000 refreshes in <= 120 s.
Figures go to bench/results/refresh_wan.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench.emulator_process import EmulatorProcess
from bench.figures import write_result
from bench.refresh_throughput import RefreshBench
from bench.refresh_throughput import _insert
from bench.refresh_throughput import _mint_all
from tokenbot.core.settings import RefreshSettings
from tokenbot.core.sweep import sweep


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set up the due accounts once, then time the headline sweep and the scaling series."""
    scale = [int(n) for n in args.scale.split(",") if n]
    threads = max([args.concurrency, *scale]) + 8
    with tempfile.TemporaryDirectory() as folder, EmulatorProcess(threads=threads) as emulator:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        bench = RefreshBench.open(url, emulator)
        db, clock, control = bench.db, bench.clock, bench.control
        started = time.perf_counter()
        _insert(db, bench.cipher, clock, _mint_all(control, bench.client.client_id, args.accounts))
        setup_s = time.perf_counter() - started
        latency = {"latency_ms": args.latency_ms, "latency_jitter_ms": args.jitter_ms}
        requests.post(control + "settings", json=latency, timeout=10).raise_for_status()

        def one_sweep(workers: int, limit: int) -> dict[str, Any]:
            clock.advance(24 * 3600 + 1)
            cpu_started = time.process_time()
            started = time.perf_counter()
            report = sweep(
                bench.store,
                bench.client,
                clock=clock,
                policy=bench.policy,
                owner="bench",
                max_workers=workers,
                batch_limit=limit,
            )
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            refreshed = report.count("refreshed")
            wire = limit * args.latency_ms / 1000 / workers
            return {
                "max_concurrency": workers,
                "accounts": limit,
                "refreshed": refreshed,
                "seconds": round(elapsed, 2),
                "accounts_per_second": round(refreshed / elapsed, 1),
                "wire_floor_seconds": round(wire, 2),
                "ratio_to_wire_floor": round(elapsed / wire, 2),
                "cpu_ms_per_account": round(cpu * 1000 / max(1, refreshed), 2),
                "predicted_10000_seconds": round(elapsed * 10_000 / max(1, refreshed), 1),
            }

        headline = one_sweep(args.concurrency, args.accounts)
        series = [one_sweep(workers, args.scale_accounts) for workers in scale]
        db.dispose()
    return {
        "latency_ms": args.latency_ms,
        "jitter_ms": args.jitter_ms,
        "setup_seconds": round(setup_s, 1),
        "headline": headline,
        "scaling": series,
    }


def main() -> None:
    """Run the measurement, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=RefreshSettings().max_concurrency,
        help="headline max_concurrency (default: the config's)",
    )
    parser.add_argument("--scale", default="8,16,32,64", help="max_concurrency series")
    parser.add_argument("--scale-accounts", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    args = parser.parse_args()
    if args.scale_accounts > args.accounts:
        raise SystemExit("--scale-accounts cannot exceed --accounts")
    figures = run(args)
    for row in [figures["headline"], *figures["scaling"]]:
        print(
            f"concurrency {row['max_concurrency']:3d}: {row['refreshed']:6d} in "
            f"{row['seconds']:7.2f} s ({row['accounts_per_second']:7.1f}/s, wire floor "
            f"{row['wire_floor_seconds']} s, 10,000 -> {row['predicted_10000_seconds']} s)"
        )
    print(f"written to {write_result('refresh_wan', figures)}")


if __name__ == "__main__":
    main()
