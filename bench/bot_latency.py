"""Measure the bot end to end: a person posts a command, how long until the reply is visible.

Run: `.venv/bin/python -m bench.bot_latency [--commands 500] [--inflight 50] [--rounds 4]
[--modes webhook,websocket,polling] [--emulator-server waitress]`.

Three processes, as in production: the emulator (its own process), the real `tokenbot serve`
(its own process: waitress, SQLite at synchronous=FULL, the scheduler, the bot with the
config's workers), and this one, which plays the people. Bob posts `/echo ...` through the
emulator's control API; the reply is "visible" when the emulator delivers it to a webhook Bob
registered at a small listener here (event-driven: no polling load on the emulator). Per mode:
`--commands` commands one after another (latency p50/p99), then `--rounds` bursts of
`--inflight` at once (throughput).

The floor is what the same work costs without our code:
- `two_calls`: GET the message and POST the reply, directly with the SDK (one keep-alive
  session), one after another (latency) and from as many threads as the bot has workers
  (throughput);
- `bare_bot`: the whole path (delivery -> GET -> POST -> delivery to the listener) with a
  minimal receiver that does only the two calls (`bench.bare_bot`, its own process, waitress).
Figures go to bench/results/bot_latency.json.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import requests
from webexpythonsdk import WebexAPI

from bench.emulator_process import ROOT
from bench.emulator_process import EmulatorProcess
from bench.figures import summarize
from bench.figures import write_result
from bench.serve_process import SCOPES
from bench.serve_process import UNTHROTTLED
from bench.serve_process import ServeProcess
from bench.serve_process import control
from bench.serve_process import register_integration

BOT_EMAIL = "alice@example.com"
PERSON_EMAIL = "bob@example.com"
ROOM_TITLE = "Team Space"


class Watcher:
    """Receive Bob's webhook deliveries and note when each reply (by parentId) arrived."""

    def __init__(self) -> None:
        self.replied: dict[str, float] = {}
        self._cond = threading.Condition()
        watcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                arrived = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                data = json.loads(body).get("data", {})
                if data.get("personEmail") == BOT_EMAIL and data.get("parentId"):
                    with watcher._cond:
                        watcher.replied.setdefault(data["parentId"], arrived)
                        watcher._cond.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                """Log nothing per request."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/watch"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, asked: set[str], timeout: float = 60.0) -> None:
        """Wait until every id in `asked` has a reply."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not asked <= self.replied.keys():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(asked - self.replied.keys())} replies missing")
                self._cond.wait(left)

    def close(self) -> None:
        """Stop listening."""
        self.server.shutdown()
        self.server.server_close()


class World:
    """The emulator, Bob's webhook to the watcher, and the room the commands go to."""

    def __init__(self, emulator_url: str) -> None:
        self.emulator_url = emulator_url
        self.http = requests.Session()
        self.watcher = Watcher()
        rooms = control(emulator_url, "GET", "rooms")["items"]
        self.room = str(next(room["id"] for room in rooms if room["title"] == ROOM_TITLE))
        client_id, _secret = register_integration(emulator_url)
        body = {"client_id": client_id, "email": PERSON_EMAIL, "scopes": SCOPES}
        bob = control(emulator_url, "POST", "tokens", body)["access_token"]
        WebexAPI(access_token=bob, base_url=f"{emulator_url}/v1/").webhooks.create(
            name="bench watcher",
            targetUrl=self.watcher.url,
            resource="messages",
            event="created",
            filter=f"roomId={self.room}",
        )

    def post(self, text: str) -> str:
        """Post `text` as Bob; return the message id."""
        body = {"roomId": self.room, "personEmail": PERSON_EMAIL, "text": text}
        response = self.http.post(f"{self.emulator_url}/_emulator/messages", json=body, timeout=30)
        response.raise_for_status()
        return str(response.json()["id"])

    def run(
        self, commands: int, warmup: int, inflight: int, rounds: int, jitter: float = 0.0
    ) -> dict[str, Any]:
        """Sequential latency, then burst throughput; the bot under test is already up.

        `jitter`: wait a random 0..jitter seconds before each command, so commands do not fall
        in step with a poller (a reply comes right after a poll; the next command would always
        wait a whole interval).
        """
        latencies = []
        pace = random.Random(7)
        for index in range(warmup + commands):
            if jitter:
                time.sleep(pace.uniform(0, jitter))
            started = time.perf_counter()
            asked = self.post(f"/echo latency {index}")
            self.watcher.wait({asked})
            if index >= warmup:
                latencies.append((self.watcher.replied[asked] - started) * 1000)
        bursts = []
        for round_ in range(rounds):
            started = time.perf_counter()
            burst = {self.post(f"/echo burst {round_} {i}") for i in range(inflight)}
            self.watcher.wait(burst)
            bursts.append(inflight / (time.perf_counter() - started))
        return {
            **summarize(latencies),
            "inflight": inflight,
            "rounds": rounds,
            "throughput_commands_per_s": round(sum(bursts) / len(bursts), 1),
        }

    def close(self) -> None:
        """Stop the watcher."""
        self.watcher.close()
        self.http.close()


def reset(emulator_url: str, args: argparse.Namespace) -> None:
    """Reset the emulator, then apply `args.emulator_settings` (e.g. a WAN's latency_ms)."""
    control(emulator_url, "POST", "reset")
    settings = getattr(args, "emulator_settings", None)
    if settings:
        control(emulator_url, "POST", "settings", settings)


def wait_for_webhook(emulator_url: str, owner: str, timeout: float = 30.0) -> None:
    """Wait until `owner` has registered a webhook (the bot's upkeep does it at start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hooks = control(emulator_url, "GET", "webhooks")["items"]
        if any(hook["ownerEmail"] == owner for hook in hooks):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{owner} registered no webhook within {timeout} s")


def wait_for_socket(emulator_url: str, owner: str, timeout: float = 30.0) -> None:
    """Wait until `owner` holds an authorized websocket (the bot's intake opens it at start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sockets = control(emulator_url, "GET", "websockets")["items"]
        if any(s["email"] == owner and s["authorized"] for s in sockets):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{owner} opened no websocket within {timeout} s")


def measure_ours(
    emulator_url: str, intake: str, args: argparse.Namespace, workers: int
) -> dict[str, Any]:
    """Start `tokenbot serve` with `intake` and measure it."""
    reset(emulator_url, args)
    world = World(emulator_url)
    bot: dict[str, Any] = {
        "intake": intake,
        "allowed_emails": [PERSON_EMAIL],
        "workers": workers,
        "poll_interval_seconds": args.poll_interval,
        "poll_api_budget_per_minute": 100_000,
        # The benchmark measures the pipeline, not flood control: one sender sends everything.
        **UNTHROTTLED,
    }
    serve = ServeProcess(emulator_url, bot=bot, bot_email=BOT_EMAIL, demo=intake == "webhook")
    try:
        serve.start()
        if intake in ("webhook", "websocket"):
            if intake == "webhook":
                wait_for_webhook(emulator_url, BOT_EMAIL)
            else:
                wait_for_socket(emulator_url, BOT_EMAIL)
            figures = world.run(args.commands, args.warmup, args.inflight, args.rounds)
        else:
            figures = world.run(
                args.polling_commands, 2, args.inflight, 1, jitter=args.poll_interval
            )
        figures["workers"] = workers
        if intake == "polling":
            figures["poll_interval_s"] = args.poll_interval
        figures["serve_rss_mb_after"] = serve.rss_mb()
        return figures
    finally:
        serve.stop()
        world.close()


def measure_bare(emulator_url: str, args: argparse.Namespace, workers: int) -> dict[str, Any]:
    """Run `bench.bare_bot` (delivery -> GET -> POST, nothing else) and measure it alike."""
    reset(emulator_url, args)
    world = World(emulator_url)
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.bare_bot",
            "--emulator-url",
            emulator_url,
            "--email",
            BOT_EMAIL,
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
    )
    try:
        wait_for_webhook(emulator_url, BOT_EMAIL)
        figures = world.run(args.commands, args.warmup, args.inflight, args.rounds)
        figures["workers"] = workers
        return figures
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)
        world.close()


def measure_two_calls(emulator_url: str, args: argparse.Namespace, workers: int) -> dict[str, Any]:
    """GET a message + POST a reply directly with the SDK: sequential, then `workers` threads."""
    reset(emulator_url, args)
    client_id, _secret = register_integration(emulator_url)
    body = {"client_id": client_id, "email": BOT_EMAIL, "scopes": SCOPES}
    token = control(emulator_url, "POST", "tokens", body)["access_token"]
    api = WebexAPI(access_token=token, base_url=f"{emulator_url}/v1/")
    rooms = control(emulator_url, "GET", "rooms")["items"]
    room = str(next(room["id"] for room in rooms if room["title"] == ROOM_TITLE))
    message = control(
        emulator_url,
        "POST",
        "messages",
        {"roomId": room, "personEmail": PERSON_EMAIL, "text": "/echo floor"},
    )

    def both() -> None:
        got = api.messages.get(message["id"])
        api.messages.create(roomId=got.roomId, parentId=got.id, markdown="floor")

    samples = []
    for index in range(args.warmup + args.commands):
        started = time.perf_counter()
        both()
        if index >= args.warmup:
            samples.append((time.perf_counter() - started) * 1000)
    total = args.inflight * args.rounds
    with ThreadPoolExecutor(workers) as pool:
        started = time.perf_counter()
        list(pool.map(lambda _: both(), range(total)))
        elapsed = time.perf_counter() - started
    return {
        **summarize(samples),
        "workers": workers,
        "throughput_commands_per_s": round(total / elapsed, 1),
    }


def main() -> None:
    """Run the floor and each mode, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--polling-commands", type=int, default=40)
    parser.add_argument("--inflight", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--poll-interval", type=float, default=1.0, help="config minimum: 1")
    parser.add_argument("--workers", type=int, default=4, help="bot.workers (config default 4)")
    parser.add_argument("--modes", default="webhook,websocket,polling")
    parser.add_argument("--emulator-server", default="waitress", choices=["waitress", "werkzeug"])
    args = parser.parse_args()
    figures: dict[str, Any] = {"emulator_server": args.emulator_server}
    with EmulatorProcess(args.emulator_server) as emulator:
        figures["floor_two_calls"] = measure_two_calls(emulator.url, args, args.workers)
        figures["floor_bare_bot"] = measure_bare(emulator.url, args, args.workers)
        for intake in args.modes.split(","):
            if intake == "websocket" and args.emulator_server != "werkzeug":
                continue  # waitress cannot hand a socket over; measured below
            figures[intake] = measure_ours(emulator.url, intake, args, args.workers)
    if "websocket" in args.modes.split(",") and args.emulator_server != "werkzeug":
        # The Mercury socket needs the emulator's werkzeug server (waitress cannot upgrade a
        # connection): this mode runs on its own emulator process.
        with EmulatorProcess("werkzeug") as emulator:
            figures["websocket"] = measure_ours(emulator.url, "websocket", args, args.workers)
            figures["websocket"]["emulator_server"] = "werkzeug"
    for name, stats in figures.items():
        if isinstance(stats, dict):
            print(
                f"{name:16s} p50 {stats['p50_ms']:8.2f} ms  p99 {stats['p99_ms']:8.2f} ms  "
                f"(mean {stats['mean_ms']:.2f}, n={stats['n']})  "
                f"throughput {stats['throughput_commands_per_s']:.1f} commands/s"
            )
    print(f"written to {write_result('bot_latency', figures)}")


if __name__ == "__main__":
    main()
