"""Webex calls per answered command and per ignored message, for each intake.

Run: `.venv/bin/python -m bench.economy [--messages 20] [--latency-ms 100]
[--intakes webhook,polling]`.

Counted from the emulator's call log (the bot identity's /v1 calls), one `tokenbot serve` per
intake (bot.allowed_emails: bob; bot.allowed_spaces: Team Space; bot.open_to_everyone: false,
so carol has no command open anywhere):
- `idle`: calls per second with nothing posted (the poller's rounds; subtracted below);
- `answered`: bob's `/echo` in Team Space, one after another, each reply awaited (with what
  the reply's own event costs when it comes back);
- `own_post`: the bot's own reply coming back as an event: `answered` less the two calls a
  command needs (GET the message, POST the reply); webhook intake only (a poll round lists
  the bot's posts with the rest, at no call of their own);
- `user_note`: alice (the bot's user) writes a note without the prefix in Team Space;
- `other_space`: bob's `/echo` in Project X, a space outside bot.allowed_spaces;
- `nothing_to_run`: carol (no command open to her) chats in Team Space without the prefix;
- `chatter`: bob (commands open to him) chats in Team Space without the prefix.
Which calls each kind caused (idle rounds and the sentinel included) is in `calls_seen`.
An ignored message gives no reply to wait for, so each ignored batch ends with one `/echo`
sentinel in the same room, whose reply is awaited and whose cost (the `answered` figure) is
subtracted. The sentinel is bob's where bob's commands count (Team Space), so it queues behind
the batch; elsewhere the user's (the user's commands jump the queue: a batch still queued
would be counted short, which is how an earlier run showed 0.5 calls per `nothing_to_run`
message while half of them were still waiting for a worker).
Target: 0 calls per ignored message where the event's metadata settles it: the bot's own posts
(webhook intake: the event carries the message id the bot just posted), spaces outside
bot.allowed_spaces, senders with no command open. A user's note and the chatter of someone
with commands open need the text: on webhook intake each costs one GET (the delivery carries
no text), reported without a target.
Figures go to bench/results/economy.json.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from typing import Any

from bench.figures import write_result
from bench.serve_process import UNTHROTTLED
from bench.wan import BOT_EMAIL
from bench.wan import OTHER
from bench.wan import TEAM
from bench.wan import Crowd
from bench.wan import WanEmulator
from bench.wan import start_bot

_ID = re.compile(r"/[A-Za-z0-9_-]{40,}")
ALLOWED = "bob@example.com"
OUTSIDER = "carol@example.com"
# kind: (sender, room, text, the sentinel's sender)
IGNORED = {
    "user_note": (BOT_EMAIL, TEAM, "just a note to self {n}", BOT_EMAIL),
    "other_space": (ALLOWED, OTHER, "/echo elsewhere {n}", BOT_EMAIL),
    "nothing_to_run": (OUTSIDER, TEAM, "hello everyone {n}", ALLOWED),
    "chatter": (ALLOWED, TEAM, "hello everyone {n}", ALLOWED),
}


def _counted(crowd: Crowd, seen: Counter[str] | None = None) -> tuple[int, float]:
    """Return (the bot's calls since the last clear, now), tally them in `seen`, clear the log."""
    calls = crowd.calls()
    crowd.clear_calls()
    if seen is not None:
        seen.update(f"{c['method']} {_ID.sub('/{id}', c['path'])}" for c in calls)
    return len(calls), time.perf_counter()


def measure(emulator: WanEmulator, intake: str, args: argparse.Namespace) -> dict[str, Any]:
    """Count one intake's calls per kind of message."""
    emulator.reset(latency_ms=args.latency_ms)
    crowd = Crowd(emulator.url)
    # Flood control out of the way: this counts calls per message, not what flood control
    # drops (bench.fairness measures that), and one sender sends every command here.
    bot = {
        "allowed_emails": [ALLOWED],
        "allowed_spaces": [crowd.rooms[TEAM]],
        "open_to_everyone": False,
        **UNTHROTTLED,
    }
    serve = start_bot(emulator.url, intake, bot)
    try:
        _counted(crowd)
        since = time.perf_counter()
        time.sleep(args.idle)
        idle_calls, now = _counted(crowd)
        idle_rate = idle_calls / (now - since)

        def answer(text: str, room: str = TEAM, sender: str = ALLOWED) -> None:
            asked = crowd.post(sender, text, room=room)
            crowd.watcher.wait({asked}, timeout=args.timeout)

        since = time.perf_counter()
        for n in range(args.messages):
            answer(f"/echo economy {n}")
        tally: Counter[str] = Counter()
        calls, now = _counted(crowd, tally)
        per_command = (calls - idle_rate * (now - since)) / args.messages
        figures: dict[str, Any] = {
            "idle_calls_per_s": round(idle_rate, 3),
            "answered": round(per_command, 3),
            "calls_seen": {"answered": dict(tally)},
        }
        if intake == "webhook":
            figures["own_post"] = round(per_command - 2, 3)
        for name, (email, room, text, sentinel) in IGNORED.items():
            since = time.perf_counter()
            for n in range(args.messages):
                crowd.post(email, text.format(n=n), room=room)
            # In the same room, so a poller has read the batch when the sentinel is answered;
            # the user's command costs what an answered command costs.
            answer(f"/echo sentinel {name}", room=room, sender=sentinel)
            tally = Counter()
            calls, now = _counted(crowd, tally)
            figures["calls_seen"][name] = dict(tally)
            net = calls - idle_rate * (now - since) - per_command
            figures[name] = round(net / args.messages, 3)
        return figures
    finally:
        serve.stop()
        crowd.close()


def main() -> None:
    """Run each intake, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20, help="per kind of message")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle counting")
    parser.add_argument("--intakes", default="webhook,polling")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    figures: dict[str, Any] = {"latency_ms": args.latency_ms, "messages": args.messages}
    with WanEmulator() as emulator:
        for intake in [i for i in args.intakes.split(",") if i]:
            figures[intake] = measure(emulator, intake, args)
    for intake, stats in figures.items():
        if isinstance(stats, dict):
            print(f"{intake:8s} " + "  ".join(f"{k} {v}" for k, v in stats.items()))
    print(f"written to {write_result('economy', figures)}")


if __name__ == "__main__":
    main()
