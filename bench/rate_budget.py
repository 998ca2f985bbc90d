"""Commands answered per minute when the identity's token has a rate budget, and the 429s it costs.

Run: `.venv/bin/python -m bench.rate_budget [--commands 500] [--budget 300] [--window 15]
[--latency-ms 100] [--intake webhook]`.

The emulator limits each token to `--budget` calls per `--window` seconds (Webex's budget is
per minute; the default window of 15 s keeps the same budget per window and compresses time
4x, so the default run takes about a minute: `--window 60` is the real thing and takes 4x as
long; every figure below is per window or a ratio, so they compare; the bot's
`bot.rate_window_seconds` is set to the same window). Five allowed senders post
`--commands` `/echo` commands at once; we wait until every reply is visible. The ceiling is
budget / (calls per answered command): no bot can answer more within the budget. Counted from
the emulator's call log: the bot identity's successful calls and its 429s. Target: >= 90 % of
the ceiling with at most one 429 per window (after a 429 every worker waits).

bot.queue_size is 1000 here so the budget, not the queue, is what binds: with the config's
100, the burst overflows the queue, the bot answers 503, every retried delivery counts as a
failure and the emulator (like Webex: 100 failures in 5 minutes) disables the webhook, after
which nothing more is answered (`--queue-size 100` shows it).
Figures go to bench/results/rate_budget.json.
"""

from __future__ import annotations

import argparse
import math
import threading
import time
from datetime import datetime
from typing import Any

from bench.figures import write_result
from bench.serve_process import UNTHROTTLED
from bench.serve_process import control
from bench.wan import BOT_EMAIL
from bench.wan import SENDERS
from bench.wan import Crowd
from bench.wan import WanEmulator
from bench.wan import start_bot


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Flood the bot from five senders under the budget; return the figures."""
    with WanEmulator() as emulator:
        emulator.reset(
            latency_ms=args.latency_ms,
            rate_limit_per_minute=args.budget,
            rate_limit_window_seconds=args.window,
        )
        crowd = Crowd(emulator.url)
        # Flood control out of the way: the token's budget, not the per-sender buckets
        # (bench.fairness measures those), is what this benchmark looks at.
        bot = {
            "allowed_emails": SENDERS,
            "queue_size": args.queue_size,
            # The bot's model of Webex's window, compressed like the emulator's.
            "rate_window_seconds": args.window,
            **UNTHROTTLED,
        }
        serve = start_bot(emulator.url, args.intake, bot)
        try:
            crowd.clear_calls()
            asked: set[str] = set()
            lock = threading.Lock()
            per_sender = args.commands // len(SENDERS)

            def flood(sender: str) -> None:
                for index in range(per_sender):
                    posted = crowd.post(sender, f"/echo budget {index}")
                    with lock:
                        asked.add(posted)

            started = time.perf_counter()
            threads = [threading.Thread(target=flood, args=(s,)) for s in SENDERS]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            try:
                crowd.watcher.wait(asked, timeout=args.timeout)
            except TimeoutError:
                pass  # the figures count what was answered
            answered = [crowd.replied_at(m) for m in asked if crowd.replied_at(m) is not None]
            last = max((t for t in answered if t is not None), default=time.perf_counter())
            elapsed = last - started
            calls = crowd.calls()
            hooks = control(emulator.url, "GET", "webhooks")["items"]
            bot_hook: dict[str, Any] = next((h for h in hooks if h["ownerEmail"] == BOT_EMAIL), {})
        finally:
            serve.stop()
            crowd.close()
    ok = sum(1 for c in calls if c["status"] is not None and 200 <= c["status"] < 300)
    limited = sum(1 for c in calls if c["status"] == 429)
    # The calls in flight when the first 429 came meet it too (one per worker at most):
    # what comes later than a round trip after it is what the pacing let through.
    refused_at = sorted(_seconds(c["time"]) for c in calls if c["status"] == 429)
    later = sum(1 for t in refused_at if t - refused_at[0] > 2 * args.latency_ms / 1000)
    count = len(answered)
    per_command = ok / count if count else math.inf
    ceiling = args.budget * 60 / args.window / per_command if count else 0.0
    achieved = count / elapsed * 60 if elapsed > 0 else 0.0
    windows = max(1, math.ceil(elapsed / args.window))
    return {
        "intake": args.intake,
        "latency_ms": args.latency_ms,
        "budget_calls": args.budget,
        "window_s": args.window,
        "commands": per_sender * len(SENDERS),
        "queue_size": args.queue_size,
        "senders": len(SENDERS),
        "answered": count,
        "seconds": round(elapsed, 2),
        "calls_ok": ok,
        "calls_429": limited,
        "calls_per_command": round(per_command, 3),
        "commands_per_window": round(achieved * args.window / 60, 2),
        "ceiling_commands_per_window": round(ceiling * args.window / 60, 2),
        "ratio_to_ceiling": round(achieved / ceiling, 3) if ceiling else 0.0,
        "windows": windows,
        "429_per_window": round(limited / windows, 2),
        "429_after_the_first_burst": later,
        "bot_webhook_status": bot_hook.get("status"),
        "bot_webhook_failed_deliveries": bot_hook.get("failures"),
    }


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def main() -> None:
    """Run the measurement, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=500)
    parser.add_argument("--budget", type=int, default=300, help="calls per window per token")
    parser.add_argument("--window", type=float, default=15.0, help="seconds (Webex: 60)")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--intake", default="webhook", choices=["webhook", "polling"])
    parser.add_argument(
        "--queue-size",
        type=int,
        default=1000,
        help="bot.queue_size (config default 100: a burst of 500 overflows it, see below)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="longest wait for replies")
    args = parser.parse_args()
    figures = run(args)
    for name, value in figures.items():
        print(f"{name:28s} {value}")
    print(f"written to {write_result('rate_budget', figures)}")


if __name__ == "__main__":
    main()
