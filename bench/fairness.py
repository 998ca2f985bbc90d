"""The user's own `/ping` while someone floods the bot: does the user wait behind the flood?

Run: `.venv/bin/python -m bench.fairness [--latency-ms 100] [--pings 10] [--denied-flood 40]
[--allowed-flood 200] [--intake webhook]`.

One `tokenbot serve` (bot.allowed_emails: bob only) at WAN latency. Three phases, each waiting
for every reply before the next: `quiet` (alice, the bot's own user, sends `--pings` `/ping`
one every `--ping-every` seconds: the floor), `denied_flood` (carol, not allowed, posts
`--denied-flood` commands at once, then alice pings alike) and `allowed_flood` (bob, allowed,
posts `--allowed-flood`). Reported: the pings' p50/p99 per phase and the ratio to the quiet
p99. Target: p99 <= 2 s under either flood. A ping never answered (within `--timeout`) makes
its phase's percentiles unknown; the phase also reports the bot's webhook status (a flood the
bot's queue refuses with 503 can get the webhook disabled, as Webex does after 100 failures).
Figures go to bench/results/fairness.json.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

from bench.figures import summarize
from bench.figures import write_result
from bench.serve_process import control
from bench.wan import BOT_EMAIL
from bench.wan import Crowd
from bench.wan import WanEmulator
from bench.wan import start_bot

ALLOWED = "bob@example.com"
DENIED = "carol@example.com"


def _wait_unless_deaf(crowd: Crowd, asked: set[str], timeout: float) -> None:
    """Wait for the replies, but stop early once the bot's webhook is disabled (none will come)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            crowd.watcher.wait(asked, timeout=min(2.0, max(0.0, deadline - time.monotonic())))
            return
        except TimeoutError:
            hooks = control(crowd.emulator_url, "GET", "webhooks")["items"]
            if any(h["ownerEmail"] == BOT_EMAIL and h["status"] != "active" for h in hooks):
                time.sleep(2.0)  # what was queued before the disabling still drains
                return


def _phase(crowd: Crowd, args: argparse.Namespace, flooder: str | None, size: int) -> Any:
    """Start a flood (if any), ping alongside it, wait for everything; return the figures."""
    flood: set[str] = set()

    def post_flood() -> None:
        for index in range(size):
            flood.add(crowd.post(str(flooder), f"/echo flood {index}"))

    poster = threading.Thread(target=post_flood) if flooder else None
    if poster is not None:
        poster.start()
        time.sleep(0.2)  # the flood is under way when the first ping comes
    samples = []
    pings = []
    for index in range(args.pings):
        started = time.perf_counter()
        asked = crowd.post(BOT_EMAIL, "/ping")
        pings.append((asked, started))
        time.sleep(args.ping_every)
        del index
    if poster is not None:
        poster.join()
    _wait_unless_deaf(crowd, {asked for asked, _ in pings}, args.timeout)
    unanswered = 0
    for asked, started in pings:
        replied = crowd.replied_at(asked)
        if replied is None:
            unanswered += 1
        else:
            samples.append((replied - started) * 1000)
    flood_started = time.perf_counter()
    answered_flood = 0
    if flood:
        _wait_unless_deaf(crowd, flood, args.timeout)
        answered_flood = sum(1 for m in flood if crowd.replied_at(m) is not None)
    stats: dict[str, Any] = summarize(samples) if samples else {"n": 0}
    if unanswered:
        # A ping never answered has no latency: its percentiles are unknown (the target fails).
        stats.update(p50_ms=None, p99_ms=None)
    hooks = control(crowd.emulator_url, "GET", "webhooks")["items"]
    bot_hook: dict[str, Any] = next((h for h in hooks if h["ownerEmail"] == BOT_EMAIL), {})
    return {
        **stats,
        "pings_unanswered": unanswered,
        "bot_webhook_status": bot_hook.get("status"),
        "bot_webhook_failed_deliveries": bot_hook.get("failures"),
        "flood": size if flooder else 0,
        "flood_answered": answered_flood,
        "flood_drain_after_pings_s": round(time.perf_counter() - flood_started, 2),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the three phases against one bot."""
    with WanEmulator() as emulator:
        emulator.reset(latency_ms=args.latency_ms)
        crowd = Crowd(emulator.url)
        bot = {"allowed_emails": [ALLOWED], "queue_size": args.queue_size}
        serve = start_bot(emulator.url, args.intake, bot)
        try:
            figures: dict[str, Any] = {"intake": args.intake, "latency_ms": args.latency_ms}
            figures["quiet"] = _phase(crowd, args, None, 0)
            figures["denied_flood"] = _phase(crowd, args, DENIED, args.denied_flood)
            figures["allowed_flood"] = _phase(crowd, args, ALLOWED, args.allowed_flood)
        finally:
            serve.stop()
            crowd.close()
    floor = figures["quiet"]["p99_ms"]
    for name in ("denied_flood", "allowed_flood"):
        p99 = figures[name]["p99_ms"]
        figures[name]["p99_ratio_to_quiet"] = round(p99 / floor, 2) if p99 and floor else None
    return figures


def main() -> None:
    """Run the measurement, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--pings", type=int, default=10)
    parser.add_argument("--ping-every", type=float, default=0.5, help="seconds between pings")
    parser.add_argument("--denied-flood", type=int, default=40)
    parser.add_argument("--allowed-flood", type=int, default=200)
    parser.add_argument("--intake", default="webhook", choices=["webhook", "polling"])
    parser.add_argument("--queue-size", type=int, default=100, help="bot.queue_size (config: 100)")
    parser.add_argument("--timeout", type=float, default=60.0, help="longest wait for replies")
    args = parser.parse_args()
    figures = run(args)
    for name, stats in figures.items():
        if isinstance(stats, dict):
            print(
                f"{name:14s} ping p50 {stats['p50_ms']} ms  p99 {stats['p99_ms']} ms  "
                f"unanswered {stats['pings_unanswered']}  flood {stats['flood']} "
                f"(answered {stats['flood_answered']})  bot webhook {stats['bot_webhook_status']}"
            )
    print(f"written to {write_result('fairness', figures)}")


if __name__ == "__main__":
    main()
