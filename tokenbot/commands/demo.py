"""`tokenbot demo`: the whole product against the local Webex emulator, ready to click through."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

import click
import requests

from tokenbot.command_runtime import config_option
from tokenbot.command_runtime import ensure_port_free
from tokenbot.command_runtime import fail
from tokenbot.command_runtime import settings_or_exit
from tokenbot.commands.serve import run_process
from tokenbot.core.admins import AdminStore
from tokenbot.core.errors import TokenbotError
from tokenbot.core.runtime import build_runtime
from tokenbot.emulator import EmulatorServer
from tokenbot.process import TokenbotProcess

# A short token life makes the refresher visible: the countdown runs out in minutes, and the
# sweep renews the token two minutes before it would expire.
DEMO_ACCESS_TOKEN_LIFETIME = 600
DEMO_REFRESH = {
    "margin_seconds": 120,
    "min_token_validity_seconds": 60,
    "sweep_interval_seconds": 10,
}
# spark:all (with spark:kms, which Webex adds to it) lets the demo run on the websocket: no
# public URL, no webhook, answers in milliseconds.
DEMO_SCOPES = [
    "spark:all",
    "spark:kms",
    "spark:people_read",
    "spark:rooms_read",
    "spark:messages_read",
    "spark:messages_write",
    "spark:memberships_read",
]


@click.command("demo")
@config_option
@click.option("--port", default=2000, show_default=True, type=int, help="Panel port.")
@click.option(
    "--emulator-port", default=2001, show_default=True, type=int, help="Webex emulator port."
)
def demo_command(config_path: Path | None, port: int, emulator_port: int) -> None:
    """Run tokenbot and a sandbox Webex on 127.0.0.1, with a one-time admin password.

    \b
    Then, in a browser:
      1. open the panel URL, log in as "admin" with the printed password;
      2. click "Connect Webex" and approve as a sandbox person on the emulator's page;
      3. open the sandbox chat, pick another person and a space, type /help;
      4. watch the bot answer, and the panel's countdown run and renew.
    Everything lives in a temporary folder and is gone when the demo stops (Ctrl-C).
    """
    ensure_port_free("--emulator-port", "127.0.0.1", emulator_port)
    emulator = EmulatorServer(host="127.0.0.1", port=emulator_port)
    try:
        emulator.start()
    except OSError as exc:
        click.echo(f"error: --emulator-port: cannot listen on {emulator_port} ({exc})", err=True)
        raise SystemExit(1) from None
    try:
        with tempfile.TemporaryDirectory(prefix="tokenbot-demo-") as folder:
            _run_demo(config_path, port, emulator, Path(folder))
    finally:
        emulator.stop()


def _run_demo(config_path: Path | None, port: int, emulator: EmulatorServer, folder: Path) -> None:
    panel_url = f"http://127.0.0.1:{port}"
    redirect_uri = f"{panel_url}/oauth/callback"
    client_id = "C" + secrets.token_hex(32)
    client_secret = secrets.token_urlsafe(32)
    control = f"{emulator.url}/_emulator"
    for path, body in [
        (
            "integrations",
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": [redirect_uri],
                "scopes": DEMO_SCOPES,
            },
        ),
        ("settings", {"access_token_lifetime": DEMO_ACCESS_TOKEN_LIFETIME}),
    ]:
        requests.post(f"{control}/{path}", json=body, timeout=10).raise_for_status()

    overrides: dict[str, Any] = {
        "webex": {
            "api_base_url": emulator.api_url,
            "redirect_uri": redirect_uri,
            "scopes": DEMO_SCOPES,
            "timeout_seconds": 10,
            "u2c_url": f"{emulator.url}/u2c/api/v1",
        },
        "database": {"url": f"sqlite:///{folder / 'demo.sqlite3'}"},
        "panel": {"host": "127.0.0.1", "port": port, "public_url": panel_url},
        # Every sandbox person may run every command, so a newcomer can try them all.
        # auto: the grant has spark:all, so the bot listens on the websocket (no webhook).
        "bot": {"intake": "auto", "allowed_domains": ["example.com"], "listener_lease_seconds": 10},
        "refresh": DEMO_REFRESH,
    }
    env = {**os.environ, "WEBEX_CLIENT_ID": client_id, "WEBEX_CLIENT_SECRET": client_secret}
    settings = settings_or_exit(config_path, demo=True, overrides=overrides, env=env)
    password = secrets.token_urlsafe(12)
    try:
        runtime = build_runtime(settings)
        AdminStore(runtime.database, clock=runtime.clock).create_admin("admin", password)
    except TokenbotError as exc:
        fail(exc)
    banner = "\n".join(
        [
            "",
            "  tokenbot demo (everything on 127.0.0.1; nothing leaves this machine)",
            f"  Admin panel:   {panel_url}/",
            "  Log in as:     admin",
            f"  Password:      {password}   (one-time: it dies with this demo)",
            f"  Sandbox chat:  {emulator.url}/_emulator/spaces",
            "  Connect Webex in the panel, approve as Alice, then type /help in the chat",
            "  as Bob in 'Team Space'. Ctrl-C stops the demo.",
            "",
        ]
    )
    run_process(TokenbotProcess(settings, runtime=runtime), banner=banner)
    runtime.close()
