"""Shared set-up of the WAN benchmarks: a sandbox with five senders, the bot, a reply watcher.

Used by `bench.rate_budget`, `bench.fairness` and `bench.economy` (each runs alone with
`python -m bench.<name>`). The emulator runs in its own process with `SEED` (alice is the bot
identity; bob, carol, dave, erin and frank are the senders; all are in "Team Space"; alice,
bob and carol are also in "Project X"), every /v1 call and delivery delayed by `latency_ms`.
The watcher is bob's webhook (both spaces): a reply is visible when its delivery arrives.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
from webexpythonsdk import WebexAPI

from bench.bot_latency import Watcher
from bench.bot_latency import wait_for_webhook
from bench.emulator_process import EmulatorProcess
from bench.serve_process import SCOPES
from bench.serve_process import ServeProcess
from bench.serve_process import control
from bench.serve_process import register_integration

BOT_EMAIL = "alice@example.com"
SENDERS = [f"{name}@example.com" for name in ("bob", "carol", "dave", "erin", "frank")]
TEAM = "Team Space"
OTHER = "Project X"
SEED: dict[str, Any] = {
    "people": [
        {"email": "alice@example.com", "displayName": "Alice Andersen"},
        {"email": "bob@example.com", "displayName": "Bob Baker"},
        {"email": "carol@example.com", "displayName": "Carol Chen"},
        {"email": "dave@example.com", "displayName": "Dave Diaz"},
        {"email": "erin@example.com", "displayName": "Erin Evans"},
        {"email": "frank@example.com", "displayName": "Frank Fox"},
    ],
    "spaces": [
        {"title": TEAM, "type": "group", "members": [BOT_EMAIL, *SENDERS]},
        {"title": OTHER, "type": "group", "members": [BOT_EMAIL, SENDERS[0], SENDERS[1]]},
    ],
}


class WanEmulator:
    """The emulator in its own process with `SEED`, and the settings applied after each reset.

    Args:
        threads: waitress threads (each call holds one for `latency_ms`).
    """

    def __init__(self, threads: int = 64) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="tokenbot-bench-wan-")
        seed = Path(self._folder.name) / "seed.json"
        seed.write_text(json.dumps(SEED), encoding="utf-8")
        self.process = EmulatorProcess("waitress", threads=threads, seed=seed)
        self.url = ""

    def reset(self, **settings: Any) -> None:
        """Reset the emulator's world and apply `settings`."""
        control(self.url, "POST", "reset")
        if settings:
            control(self.url, "POST", "settings", settings)

    def __enter__(self) -> WanEmulator:
        self.url = self.process.start().url
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.process.stop()
        self._folder.cleanup()


class Crowd:
    """Senders posting into the sandbox, the watcher of replies, and the emulator's call log."""

    def __init__(self, emulator_url: str) -> None:
        self.emulator_url = emulator_url
        self.http = requests.Session()
        self.watcher = Watcher()
        rooms = control(emulator_url, "GET", "rooms")["items"]
        self.rooms = {room["title"]: str(room["id"]) for room in rooms}
        client_id, _secret = register_integration(emulator_url)
        body = {"client_id": client_id, "email": SENDERS[0], "scopes": SCOPES}
        token = control(emulator_url, "POST", "tokens", body)["access_token"]
        WebexAPI(access_token=token, base_url=f"{emulator_url}/v1/").webhooks.create(
            name="bench watcher",
            targetUrl=self.watcher.url,
            resource="messages",
            event="created",
        )

    def post(self, email: str, text: str, room: str = TEAM) -> str:
        """Post `text` as `email` (through the control API: no latency, no rate budget)."""
        body = {"roomId": self.rooms[room], "personEmail": email, "text": text}
        response = self.http.post(f"{self.emulator_url}/_emulator/messages", json=body, timeout=30)
        response.raise_for_status()
        return str(response.json()["id"])

    def replied_at(self, message_id: str) -> float | None:
        """Return when the reply to `message_id` arrived (perf_counter), if it did."""
        return self.watcher.replied.get(message_id)

    def calls(self, email: str = BOT_EMAIL) -> list[dict[str, Any]]:
        """Return the emulator's logged /v1 calls made with `email`'s tokens."""
        items = control(self.emulator_url, "GET", "calls")["items"]
        return [c for c in items if c.get("email") == email]

    def clear_calls(self) -> None:
        """Empty the emulator's call log."""
        self.http.delete(f"{self.emulator_url}/_emulator/calls", timeout=30).raise_for_status()

    def close(self) -> None:
        """Stop the watcher."""
        self.watcher.close()
        self.http.close()


def start_bot(emulator_url: str, intake: str, bot: dict[str, Any]) -> ServeProcess:
    """Start `tokenbot serve` with alice as the bot identity; wait until it listens."""
    settings: dict[str, Any] = {
        "intake": intake,
        "workers": 4,
        "poll_interval_seconds": 1.0,
        "poll_api_budget_per_minute": 100_000,
        **bot,
    }
    serve = ServeProcess(emulator_url, bot=settings, bot_email=BOT_EMAIL, demo=True)
    serve.start()
    if intake == "webhook":
        wait_for_webhook(emulator_url, BOT_EMAIL)
    else:
        _wait_second_poll(emulator_url)
    return serve


def _wait_second_poll(emulator_url: str, timeout: float = 30.0) -> None:
    """Wait until the poller listed rooms twice: its first round only sets cursors."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = control(emulator_url, "GET", "calls")["items"]
        rounds = [c for c in items if c.get("email") == BOT_EMAIL and c["path"] == "/v1/rooms"]
        if len(rounds) >= 2:
            return
        time.sleep(0.1)
    raise TimeoutError(f"the poller made no second round within {timeout} s")
