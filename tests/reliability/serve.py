"""Real `tokenbot serve` processes for the reliability suite, and what they share.

A `Deployment` is one integration in the emulator, one database and one set of secrets: what
several instances of tokenbot share in production. `Deployment.spawn` starts
`python -m tokenbot serve` with a config.yaml of its own (its port, its settings) and the
secrets in its environment; `Deployment.runtime` builds the same store in the test process, to
seed accounts and read the tables. Output goes to files, never to pipes: a chatty process must
not block on a full pipe that nobody reads.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextlib import suppress
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.ports import free_port
from tests.plugins.tokens import wait_until
from tokenbot.core.config import load_settings
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.runtime import Runtime
from tokenbot.core.runtime import build_runtime

ROOT = Path(__file__).resolve().parents[2]
REDIRECT_URI = "http://127.0.0.1:2000/oauth/callback"
STOP_TIMEOUT = 30.0


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class ServeProcess:
    """One running `tokenbot serve`: start it, wait for it, stop it, kill it, measure it.

    Args:
        name: Names its files in the deployment's folder.
        argv: The command line.
        env: Its environment (secrets included).
        cwd: Its working directory.
        port: The panel port (None without the web role).
    """

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], cwd: Path, port: int | None
    ) -> None:
        self.name = name
        self.port = port
        self.public_url: str | None = None
        self.out_path = cwd / f"{name}.out"
        self.err_path = cwd / f"{name}.err"
        with self.out_path.open("ab") as out, self.err_path.open("ab") as err:
            self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err)

    @property
    def pid(self) -> int:
        """Return the process id."""
        return self.process.pid

    @property
    def url(self) -> str:
        """Return the panel's base URL."""
        assert self.port is not None, "this process has no web role"
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        """Tell whether the process still runs."""
        return self.process.poll() is None

    def stdout(self) -> str:
        """Return what it printed so far."""
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        """Return its log so far."""
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> ServeProcess:
        """Wait for the ready line (and /healthz with the web role); fail early if it died."""

        def ready() -> bool:
            if not self.alive():
                raise AssertionError(f"{self.name} exited early:\n{self.stderr()[-3000:]}")
            return "tokenbot ready" in self.stdout()

        wait_until(ready, timeout=timeout, interval=0.05, what=f"{self.name} to be ready")
        if self.port is not None:
            health = requests.get(f"{self.url}/healthz", timeout=5)
            assert health.status_code == 200, health.text
        return self

    def rss_kib(self, field: str = "VmRSS") -> int:
        """Return its resident set size in KiB (Linux /proc); `VmHWM` gives the peak."""
        status = Path(f"/proc/{self.pid}/status").read_text(encoding="ascii")
        for line in status.splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} line in /proc/<pid>/status")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait up to `timeout`, then SIGKILL; return the exit code (idempotent)."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                raise AssertionError(
                    f"{self.name} did not stop within {timeout:g} s of SIGTERM"
                ) from None
        return int(self.process.wait(10))

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, no commit runs; then reap it."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@dataclass
class Deployment:
    """One integration, one database, one set of secrets, shared by every instance.

    Attributes:
        emulator: The emulator handle.
        folder: Where config files and process output go.
        database_url: The database every instance and the test use.
        client_id: The integration's client id (registered in the emulator).
        client_secret: Its secret.
        config: Settings every instance gets (each spawn may add to them).
        processes: Every process started, stopped by `close()`.
    """

    emulator: EmulatorHandle
    folder: Path
    database_url: str
    client_id: str
    client_secret: str
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    encryption_keys: str = field(default_factory=lambda: TokenCipher.generate_key_spec("rel"))
    webhook_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    public_url: str = field(default_factory=lambda: f"https://127.0.0.1:{free_port()}")
    config: dict[str, Any] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. TOKENBOT_NOTIFY_SECRET
    processes: list[ServeProcess] = field(default_factory=list)

    def secrets(self) -> dict[str, str]:
        """Return every secret value (the suite checks none appears in a response)."""
        return {
            "WEBEX_CLIENT_ID": self.client_id,
            "WEBEX_CLIENT_SECRET": self.client_secret,
            "TOKENBOT_SECRET_KEY": self.secret_key,
            "TOKENBOT_ENCRYPTION_KEYS": self.encryption_keys,
            "TOKENBOT_WEBHOOK_SECRET": self.webhook_secret,
        }

    def settings_dict(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Return the config.yaml content for an instance."""
        base = {
            "webex": {
                "api_base_url": self.emulator.api_url,
                "redirect_uri": REDIRECT_URI,
                "timeout_seconds": 5,
            },
            "database": {"url": self.database_url},
            "refresh": {"sweep_interval_seconds": 1, "lease_seconds": 10},
            "bot": {"enabled": False},
            "logging": {"level": "INFO"},
        }
        return _merge(_merge(base, self.config), extra or {})

    def write_config(self, name: str, extra: dict[str, Any] | None = None) -> Path:
        """Write an instance's config.yaml; return its path."""
        path = self.folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(self.settings_dict(extra)), encoding="utf-8")
        return path

    def env(self, config_path: Path) -> dict[str, str]:
        """Return an instance's environment: ours minus any tokenbot or Webex variable."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "TOKENBOT_"))}
        env.update(self.secrets())
        env.update(self.extra_env)
        env["TOKENBOT_CONFIG"] = str(config_path)
        env["PYTHONPATH"] = str(ROOT)
        return env

    def spawn(
        self,
        name: str,
        *,
        roles: str | None = None,
        web: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> ServeProcess:
        """Start `tokenbot serve` (not yet ready: call `wait_ready`).

        Args:
            name: Names its config and output files.
            roles: `--role` value (default: every role).
            web: Give it a free panel port (False when `roles` leaves out web).
            extra: Settings for this instance only (e.g. its `bot.public_url`).
        """
        port = free_port() if web else None
        settings = _merge({"panel": {"port": port or free_port()}}, extra or {})
        public_url = None
        if web and self.settings_dict(settings)["bot"].get("intake") == "webhook":
            # Production wants an https public URL: a TLS proxy (or load balancer) in front of
            # every instance's panel port. It is not running (a closed loopback port), so the
            # emulator's own deliveries fail; the tests deliver straight to the panel ports.
            public_url = self.public_url
            settings = _merge(settings, {"bot": {"public_url": public_url}})
        config_path = self.write_config(name, settings)
        argv = [sys.executable, "-m", "tokenbot", "serve"]
        if roles:
            argv += ["--role", roles]
        process = ServeProcess(name, argv, self.env(config_path), self.folder, port)
        process.public_url = public_url
        self.processes.append(process)
        return process

    @contextmanager
    def runtime(self) -> Iterator[Runtime]:
        """Build this deployment's runtime in the test process (migrates the database)."""
        # The test process runs no bot: its settings need no public URL.
        config_path = self.write_config("test-runtime", {"bot": {"intake": "polling"}})
        settings = load_settings(config_path, env=self.env(config_path))
        runtime = build_runtime(settings)
        try:
            yield runtime
        finally:
            runtime.close()

    def close(self) -> None:
        """Stop every process this deployment started (SIGTERM, then SIGKILL)."""
        errors = []
        for process in self.processes:
            try:
                process.stop()
            except AssertionError as exc:
                errors.append(str(exc))
            finally:
                with suppress(subprocess.TimeoutExpired):
                    process.kill()
        if errors:
            raise AssertionError("; ".join(errors))


def new_deployment(
    emulator: EmulatorHandle, folder: Path, database_url: str, **config: Any
) -> Deployment:
    """Register an integration in the emulator and describe a deployment around it."""
    client_id, client_secret = emulator.register_integration([REDIRECT_URI])
    folder.mkdir(parents=True, exist_ok=True)
    return Deployment(emulator, folder, database_url, client_id, client_secret, config=config)
