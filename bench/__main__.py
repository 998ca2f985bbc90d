"""Run every benchmark and write bench/report.md and bench/report.json (`make bench`).

Run: `.venv/bin/python -m bench [--quick] [--only NAME,...]` (`--only` keeps the other
benchmarks' figures from the last report.json). Each benchmark runs in a fresh
subprocess (so one's memory does not pollute another's; each starts the emulator in a process
of its own), writes bench/results/<name>.json, and this runner collects them, checks them
against the targets of the benchmark issue, and writes the report with the machine it ran on.
`--quick` runs smaller counts (for a smoke test; the published report comes from a full run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.figures import RESULTS_DIR

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
REPORT_MD = BENCH / "report.md"
REPORT_JSON = BENCH / "report.json"
KEY_PACKAGES = (
    "flask",
    "werkzeug",
    "waitress",
    "sqlalchemy",
    "requests",
    "urllib3",
    "webexpythonsdk",
    "authlib",
    "apscheduler",
    "cryptography",
    "psycopg",
    "alembic",
)

# name -> (full arguments, quick arguments)
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "emulator_latency": (["--calls", "1000"], ["--calls", "200"]),
    "bot_latency": (
        ["--commands", "500", "--rounds", "4"],
        ["--commands", "100", "--rounds", "2", "--polling-commands", "10"],
    ),
    "refresh_throughput": (["--accounts", "10000"], ["--accounts", "1000"]),
    "sweep": (["--accounts", "100000", "--runs", "7"], ["--accounts", "100000", "--runs", "3"]),
    "dashboard": (
        ["--accounts", "10000", "--requests", "200"],
        ["--accounts", "10000", "--requests", "50"],
    ),
    "process": (["--runs", "5", "--idle", "5"], ["--runs", "2", "--idle", "5"]),
    # At WAN latency (the emulator's latency_ms): each about one to three minutes.
    "wan_latency": (
        ["--latency-ms", "100"],
        ["--commands", "10", "--polling-commands", "5", "--warmup", "2", "--inflight", "10"],
    ),
    "rate_budget": (["--commands", "500"], ["--commands", "100"]),
    "fairness": ([], ["--pings", "4", "--denied-flood", "10", "--allowed-flood", "30"]),
    "economy": ([], ["--messages", "5", "--idle", "3"]),
    "refresh_wan": (
        ["--accounts", "10000"],
        ["--accounts", "1000", "--scale", "8,32", "--scale-accounts", "300"],
    ),
}


@dataclass(frozen=True)
class Target:
    """One target of the issue: where its figure is, and what it must be."""

    label: str
    benchmark: str
    read: Callable[[dict[str, Any]], float]
    limit: float
    unit: str
    higher_is_better: bool = False

    def verdict(self, value: float) -> bool:
        """Return whether `value` meets the target."""
        return value >= self.limit if self.higher_is_better else value <= self.limit


def _above_floor(key: str) -> Callable[[dict[str, Any]], float]:
    return lambda r: r["webhook"][key] - r["floor_two_calls"][key]


TARGETS = [
    Target("Bot webhook p50 above the floor", "bot_latency", _above_floor("p50_ms"), 10, "ms"),
    Target("Bot webhook p99 above the floor", "bot_latency", _above_floor("p99_ms"), 50, "ms"),
    Target(
        "Bot webhook throughput",
        "bot_latency",
        lambda r: r["webhook"]["throughput_commands_per_s"],
        150,
        "commands/s",
        higher_is_better=True,
    ),
    Target(
        "10,000 due accounts refreshed",
        "refresh_throughput",
        lambda r: r["seconds"] * 10_000 / r["accounts"],
        60,
        "s (for 10,000)",
    ),
    Target("Empty sweep over 100,000 accounts", "sweep", lambda r: r["median_ms"], 50, "ms"),
    Target(
        "Dashboard first page (p99), 10,000 accounts",
        "dashboard",
        lambda r: r["GET /"]["p99_ms"],
        100,
        "ms",
    ),
    Target("`tokenbot serve` idle RSS", "process", lambda r: r["idle_rss_mb"], 120, "MiB"),
    Target(
        "`tokenbot serve` start-up (median)", "process", lambda r: r["startup_median_s"], 2, "s"
    ),
]


def _wan_above_floor(key: str) -> Callable[[dict[str, Any]], float]:
    return lambda r: r["webhook"][key] - r["floor_bare_bot"][key]


TARGETS += [
    Target(
        "WAN (100 ms/call) webhook p50 above the bare-bot floor",
        "wan_latency",
        _wan_above_floor("p50_ms"),
        10,
        "ms",
    ),
    Target(
        "Rate budget: commands/min as a share of the ceiling",
        "rate_budget",
        lambda r: r["ratio_to_ceiling"],
        0.9,
        "x ceiling",
        higher_is_better=True,
    ),
    Target("Rate budget: 429s per window", "rate_budget", lambda r: r["429_per_window"], 1, ""),
    Target(
        "Fairness: own /ping p99, non-allowed sender floods 40",
        "fairness",
        lambda r: r["denied_flood"]["p99_ms"],
        2000,
        "ms",
    ),
    Target(
        "Fairness: own /ping p99, allowed sender floods 200",
        "fairness",
        lambda r: r["allowed_flood"]["p99_ms"],
        2000,
        "ms",
    ),
    Target(
        "Economy: calls per own post coming back (webhook)",
        "economy",
        lambda r: r["webhook"]["own_post"],
        0,
        "calls",
    ),
    Target(
        "Economy: calls per message outside bot.allowed_spaces (webhook)",
        "economy",
        lambda r: r["webhook"]["other_space"],
        0,
        "calls",
    ),
    Target(
        "Economy: calls per message from a sender with no command open (webhook)",
        "economy",
        lambda r: r["webhook"]["nothing_to_run"],
        0,
        "calls",
    ),
    Target(
        "10,000 refreshes at 100 ms per token call",
        "refresh_wan",
        lambda r: r["headline"]["predicted_10000_seconds"],
        120,
        "s",
    ),
]


def machine_info() -> dict[str, Any]:
    """Describe the machine, the interpreter, the key packages and the commit."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    packages: dict[str, str | None] = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": platform.platform(),
        "packages": packages,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def run_benchmark(name: str, arguments: list[str]) -> dict[str, Any]:
    """Run `python -m bench.<name>` in a fresh process; return its figures and how it went."""
    result_file = RESULTS_DIR / f"{name}.json"
    result_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", f"bench.{name}", *arguments]
    print(f"== {' '.join(['python', *command[1:]])}", flush=True)
    commit = _git("rev-parse", "HEAD")[:12]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, timeout=1200, check=False)
    elapsed = round(time.perf_counter() - started, 1)
    entry: dict[str, Any] = {
        "command": f".venv/bin/python -m bench.{name} {' '.join(arguments)}".strip(),
        "exit_code": done.returncode,
        "wall_seconds": elapsed,
        "git_commit": commit,
    }
    if done.returncode == 0 and result_file.exists():
        entry["figures"] = json.loads(result_file.read_text(encoding="utf-8"))
    return entry


def evaluate(runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Check every target whose benchmark ran; a failed benchmark reads as missed."""
    rows = []
    for target in TARGETS:
        run = runs.get(target.benchmark)
        if run is None:
            continue
        value = None
        if "figures" in run:
            try:
                value = round(float(target.read(run["figures"])), 3)
            except (KeyError, TypeError, ZeroDivisionError):
                value = None
        rows.append(
            {
                "target": target.label,
                "value": value,
                "limit": target.limit,
                "unit": target.unit,
                "comparison": ">=" if target.higher_is_better else "<=",
                "met": value is not None and target.verdict(value),
                "command": run["command"],
            }
        )
    return rows


def main() -> None:
    """Run the benchmarks, then write the report files."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts (smoke test)")
    parser.add_argument("--only", default="", help="comma list of benchmarks to run")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite report.md from report.json"
    )
    args = parser.parse_args()
    if args.render_only:
        from bench.report import render_markdown

        saved = json.loads(REPORT_JSON.read_text(encoding="utf-8"))
        REPORT_MD.write_text(render_markdown(saved), encoding="utf-8")
        return
    names = [n for n in args.only.split(",") if n] or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    started = time.perf_counter()
    runs: dict[str, dict[str, Any]] = {}
    if args.only and REPORT_JSON.exists():
        # A partial run keeps the other benchmarks' last figures, so the report stays whole.
        runs.update(json.loads(REPORT_JSON.read_text(encoding="utf-8"))["benchmarks"])
    for name in names:
        full, quick = BENCHMARKS[name]
        runs[name] = run_benchmark(name, quick if args.quick else full)
    targets = evaluate(runs)
    report = {
        "machine": machine_info(),
        "quick": args.quick,
        "total_seconds": round(time.perf_counter() - started, 1),
        "targets": targets,
        "benchmarks": runs,
    }
    from bench.report import render_markdown

    REPORT_JSON.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    REPORT_MD.write_text(render_markdown(report), encoding="utf-8")
    print(f"written {REPORT_MD.relative_to(ROOT)} and {REPORT_JSON.relative_to(ROOT)}")
    failed = [name for name, run in runs.items() if run["exit_code"] != 0]
    if failed:
        raise SystemExit(f"benchmark(s) failed: {failed}")


if __name__ == "__main__":
    main()
