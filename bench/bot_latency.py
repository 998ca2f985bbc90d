"""Measure the bot end to end: a person posts a command, how long until the reply is visible.

Run: `.venv/bin/python -m bench.bot_latency [--commands 500] [--inflight 50]`.

Everything is real except Webex: the emulator on loopback, the bot with its SQLite state, the
token service, the SDK, and (webhook mode) a werkzeug server receiving signed deliveries. For
each mode it posts `--commands` commands one after another (latency: post -> reply visible in
the emulator, p50/p99), then `--rounds` bursts of `--inflight` commands at once (throughput).
Figures go to bench/results/bot_latency.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import make_server

from bot.factory import create_bot
from bot.options import BotOptions
from bot.router import AccessPolicy
from bot.service import Bot
from bot.webhook import create_webhook_app
from core.clock import SystemClock
from core.crypto import TokenCipher
from core.db import Database
from core.db import upgrade
from core.oauth import WebexOAuthClient
from core.policy import RefreshPolicy
from core.service import TokenService
from core.store import TokenStore
from core.tokens import TokenSet
from emulator import EmulatorServer

RESULTS = Path(__file__).resolve().parent / "results" / "bot_latency.json"
SCOPES = ("spark:people_read", "spark:rooms_read", "spark:messages_read", "spark:messages_write")
REDIRECT = "http://127.0.0.1:2000/redirect.html"
BOT_EMAIL = "alice@example.com"


class _Emulator:
    """The control API calls the benchmark needs."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.http = requests.Session()
        self.base = f"{server.url}/_emulator/"

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, self.base + path, json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def room_id(self, title: str) -> str:
        rooms = self.control("GET", "rooms")["items"]
        return str(next(room["id"] for room in rooms if room["title"] == title))

    def post(self, room: str, email: str, text: str) -> dict[str, Any]:
        body = {"roomId": room, "personEmail": email, "text": text}
        return dict(self.control("POST", "messages", body))

    def after(self, room: str, seq: int) -> list[dict[str, Any]]:
        return list(self.control("GET", f"rooms/{room}/messages?after={seq}")["items"])


@contextmanager
def running_bot(emu: _Emulator, intake: str, poll_interval: float) -> Iterator[Bot]:
    """Start a bot (webhook or polling) as alice on a fresh SQLite database."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite3"
        upgrade(url)
        clock, policy = SystemClock(), RefreshPolicy()
        database = Database(url)
        store = TokenStore(
            database,
            TokenCipher.from_spec(TokenCipher.generate_key_spec("kbench")),
            clock=clock,
            policy=policy,
        )
        client_id, client_secret = "C" + secrets.token_hex(32), secrets.token_hex(32)
        emu.control(
            "POST",
            "integrations",
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": [REDIRECT],
                "scopes": list(SCOPES),
            },
        )
        oauth = WebexOAuthClient(
            client_id=client_id,
            client_secret=client_secret,
            authorize_url=f"{emu.server.url}/v1/authorize",
            token_url=f"{emu.server.url}/v1/access_token",
            api_base_url=emu.server.api_url,
            redirect_uri=REDIRECT,
            scopes=SCOPES,
            timeout_seconds=10,
        )
        minted = emu.control(
            "POST", "tokens", {"client_id": client_id, "email": BOT_EMAIL, "scopes": list(SCOPES)}
        )
        account = store.save_connected(
            oauth.identify(minted["access_token"]),
            SCOPES,
            TokenSet(
                access_token=minted["access_token"],
                expires_in=int(minted["expires_in"]),
                refresh_token=minted.get("refresh_token"),
                refresh_token_expires_in=minted.get("refresh_token_expires_in"),
            ),
            sent_at=clock.now(),
        )
        store.set_bot_identity(account.id)
        server = None
        public_url = None
        holder: dict[str, Any] = {}
        if intake == "webhook":
            server = make_server(
                "127.0.0.1", 0, lambda env, start: holder["app"](env, start), threaded=True
            )
            threading.Thread(target=server.serve_forever, daemon=True).start()
            public_url = f"http://127.0.0.1:{server.server_port}"
        options = BotOptions(
            api_base_url=emu.server.api_url,
            intake=intake,
            public_url=public_url,
            webhook_secret=secrets.token_urlsafe(32),
            policy=AccessPolicy.of(emails=["bob@example.com"]),
            poll_interval_seconds=poll_interval,
            poll_api_budget_per_minute=1_000_000,
            workers=8,
            queue_size=1000,
        )
        bot = create_bot(
            options=options,
            tokens=TokenService(store, oauth, clock=clock, policy=policy),
            store=store,
            database=database,
            clock=clock,
        )
        holder["app"] = create_webhook_app(bot)
        bot.start()
        try:
            yield bot
        finally:
            bot.stop()
            if server is not None:
                server.shutdown()
                server.server_close()
            database.dispose()


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


class _Watcher:
    """Find replies (messages by the bot user with a parentId) as they appear."""

    def __init__(self, emu: _Emulator, room: str) -> None:
        self.emu, self.room = emu, room
        existing = emu.after(room, 0)
        self.seq = max((m["seq"] for m in existing), default=0)
        self.replied: dict[str, float] = {}

    def scan(self) -> None:
        for message in self.emu.after(self.room, self.seq):
            self.seq = max(self.seq, message["seq"])
            if message.get("personEmail") == BOT_EMAIL and message.get("parentId"):
                self.replied.setdefault(message["parentId"], time.perf_counter())

    def wait(self, asked: set[str], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not asked <= self.replied.keys():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(asked - self.replied.keys())} replies missing")
            self.scan()
            time.sleep(0.002)


def measure(emu: _Emulator, intake: str, args: argparse.Namespace) -> dict[str, Any]:
    """Latency of sequential commands, then throughput of bursts, in one mode."""
    room = emu.room_id("Team Space")
    with running_bot(emu, intake, args.poll_interval) as bot:
        if intake == "polling":
            deadline = time.monotonic() + 30
            while bot.state.value("poll_watermark") is None and time.monotonic() < deadline:
                time.sleep(0.01)
        watcher = _Watcher(emu, room)
        latencies = []
        for index in range(args.warmup + args.commands):
            started = time.perf_counter()
            asked = emu.post(room, "bob@example.com", f"/echo latency {index}")["id"]
            watcher.wait({asked})
            if index >= args.warmup:
                latencies.append((watcher.replied[asked] - started) * 1000)
        bursts = []
        for round_ in range(args.rounds):
            started = time.perf_counter()
            asked = {
                emu.post(room, "bob@example.com", f"/echo burst {round_} {i}")["id"]
                for i in range(args.inflight)
            }
            watcher.wait(asked)
            bursts.append(args.inflight / (time.perf_counter() - started))
    return {
        "commands": args.commands,
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
        "max_ms": round(max(latencies), 2),
        "inflight": args.inflight,
        "rounds": args.rounds,
        "throughput_commands_per_s": round(statistics.fmean(bursts), 1),
        "poll_interval_s": args.poll_interval if intake == "polling" else None,
    }


def main() -> None:
    """Run both modes and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--inflight", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--poll-interval", type=float, default=0.25)
    parser.add_argument("--modes", default="webhook,polling")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access line per delivery
    figures: dict[str, Any] = {}
    with EmulatorServer() as server:
        emu = _Emulator(server)
        for intake in args.modes.split(","):
            emu.control("POST", "reset")
            figures[intake] = measure(emu, intake, args)
            stats = figures[intake]
            print(
                f"{intake:8s} p50 {stats['p50_ms']:8.2f} ms  p99 {stats['p99_ms']:8.2f} ms  "
                f"(mean {stats['mean_ms']:.2f}, max {stats['max_ms']:.2f}, n={stats['commands']})"
                f"  throughput {stats['throughput_commands_per_s']:.1f} commands/s "
                f"with {stats['inflight']} in flight"
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
