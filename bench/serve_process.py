"""Run the real `tokenbot serve` as a child process, configured against an emulator.

`ServeProcess` writes a config file (SQLite in a temporary folder, the emulator's URLs, a free
panel port), generates the secrets into the child's environment (never onto disk), optionally
connects a sandbox person as the bot identity *before* the child starts (through the same
store code the OAuth callback uses), then starts `python -m tokenbot serve` and waits for
`/healthz` to answer 200.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
import yaml

from tokenbot.core.config import load_settings
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.runtime import build_runtime
from tokenbot.core.tokens import TokenSet

ROOT = Path(__file__).resolve().parent.parent
SCOPES = [
    "spark:all",  # the websocket intake needs it (Webex adds spark:kms)
    "spark:kms",
    "spark:people_read",
    "spark:rooms_read",
    "spark:messages_read",
    "spark:messages_write",
    "spark:memberships_read",
]
REDIRECT_URI = "http://127.0.0.1:2000/oauth/callback"


def free_port() -> int:
    """Return a port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def control(emulator_url: str, method: str, path: str, body: Any = None) -> Any:
    """Call the emulator's control API and return the JSON answer."""
    response = requests.request(method, f"{emulator_url}/_emulator/{path}", json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def register_integration(emulator_url: str) -> tuple[str, str]:
    """Register a fresh integration in the emulator; return (client id, client secret)."""
    client_id, client_secret = "C" + secrets.token_hex(32), secrets.token_hex(32)
    body = {
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uris": [REDIRECT_URI],
        "scopes": SCOPES,
    }
    control(emulator_url, "POST", "integrations", body)
    return client_id, client_secret


# Flood control out of the way (bot settings): for benchmarks that drive the bot from one or a
# few senders and measure the pipeline, the budget or the calls per message. bench.fairness
# measures flood control itself, with the defaults.
UNTHROTTLED: dict[str, float] = {
    "sender_burst": 10_000,
    "sender_per_minute": 100_000,
    "space_burst": 100_000,
    "space_per_minute": 1_000_000,
    "others_burst": 1_000_000,
    "others_per_minute": 10_000_000,
}


class ServeProcess:
    """`tokenbot serve` in a child process with a real config.

    Args:
        emulator_url: The emulator's base URL (`http://127.0.0.1:PORT`).
        bot: The `bot:` section of the config (merged over intake polling, enabled).
        bot_email: Connect this sandbox person as the bot identity before start; None: none.
        demo: `mode: demo` (needed for webhook intake to a plain-http loopback URL).
    """

    def __init__(
        self,
        emulator_url: str,
        *,
        bot: dict[str, Any] | None = None,
        bot_email: str | None = None,
        demo: bool = False,
    ) -> None:
        self.emulator_url = emulator_url
        self.bot_settings = dict(bot or {})
        self.bot_email = bot_email
        self.demo = demo
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._folder = tempfile.TemporaryDirectory(prefix="tokenbot-bench-serve-")
        self.folder = Path(self._folder.name)
        self.config_path = self.folder / "config.yaml"
        self.child: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None
        self._connected = False
        client_id, client_secret = register_integration(emulator_url)
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "TOKENBOT_"))
        }
        self.env.update(
            TOKENBOT_CONFIG=str(self.config_path),
            WEBEX_CLIENT_ID=client_id,
            WEBEX_CLIENT_SECRET=client_secret,
            TOKENBOT_SECRET_KEY=secrets.token_urlsafe(48),
            TOKENBOT_ENCRYPTION_KEYS=TokenCipher.generate_key_spec("kbench"),
            TOKENBOT_WEBHOOK_SECRET=secrets.token_urlsafe(32),
        )
        self._write_config()

    def _write_config(self) -> None:
        bot: dict[str, Any] = {"enabled": True, "intake": "polling"}
        bot.update(self.bot_settings)
        if bot["intake"] == "webhook":
            bot.setdefault("public_url", self.url)
        config = {
            "mode": "demo" if self.demo else "production",
            "webex": {
                "api_base_url": f"{self.emulator_url}/v1/",
                "redirect_uri": REDIRECT_URI,
                "u2c_url": f"{self.emulator_url}/u2c/api/v1",
            },
            "database": {"url": f"sqlite:///{self.folder / 'data' / 'tokenbot.sqlite3'}"},
            "panel": {"host": "127.0.0.1", "port": self.port},
            "bot": bot,
            "logging": {"level": "WARNING"},
        }
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")

    def connect_bot_identity(self) -> None:
        """Connect `bot_email` as the bot identity, as the OAuth callback would store it."""
        assert self.bot_email is not None
        settings = load_settings(self.config_path, env=self.env)
        runtime = build_runtime(settings)
        try:
            minted = control(
                self.emulator_url,
                "POST",
                "tokens",
                {
                    "client_id": self.env["WEBEX_CLIENT_ID"],
                    "email": self.bot_email,
                    "scopes": SCOPES,
                },
            )
            sent_at = runtime.clock.now()
            account = runtime.store.save_connected(
                runtime.oauth.identify(minted["access_token"]),
                SCOPES,
                TokenSet(
                    access_token=minted["access_token"],
                    expires_in=int(minted["expires_in"]),
                    refresh_token=minted.get("refresh_token"),
                    refresh_token_expires_in=minted.get("refresh_token_expires_in"),
                ),
                sent_at=sent_at,
            )
            runtime.store.set_bot_identity(account.id)
        finally:
            runtime.close()

    def start(self, timeout: float = 30.0) -> float:
        """Start the child and wait for /healthz 200; return the seconds that took."""
        if self.bot_email is not None and not self._connected:
            self.connect_bot_identity()
            self._connected = True
        self._stderr = open(self.folder / "stderr.log", "ab")  # closed by halt()
        started = time.perf_counter()
        self.child = subprocess.Popen(
            [sys.executable, "-m", "tokenbot", "serve"],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.child.poll() is not None:
                raise RuntimeError(f"tokenbot serve exited: {self.stderr_tail()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except requests.ConnectionError:
                pass
            time.sleep(0.005)
        self.stop()
        raise RuntimeError(f"tokenbot serve did not answer /healthz in {timeout} s")

    def rss_mb(self) -> float:
        """Return the child's current resident set size (VmRSS) in MiB."""
        assert self.child is not None
        for line in Path(f"/proc/{self.child.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        raise RuntimeError("no VmRSS in /proc status")

    def stderr_tail(self) -> str:
        """Return the end of the child's stderr (for error messages)."""
        path = self.folder / "stderr.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def halt(self) -> None:
        """Stop the child with SIGTERM (graceful) and kill it if it hangs; keep the folder."""
        child, self.child = self.child, None
        if child is not None:
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def stop(self) -> None:
        """Halt the child and remove the folder (database, config, logs)."""
        self.halt()
        self._folder.cleanup()

    def __enter__(self) -> ServeProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
