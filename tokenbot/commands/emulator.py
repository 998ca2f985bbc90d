"""`tokenbot emulator`: run the local Webex stand-in until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from tokenbot.command_runtime import ensure_port_free
from tokenbot.emulator import SEED_CLIENT_ID
from tokenbot.emulator import EmulatorServer
from tokenbot.emulator import SeedError


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=2001, show_default=True, type=int, help="Port (0: any free).")
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML or JSON seed file replacing sections of the built-in sandbox.",
)
def emulator_command(host: str, port: int, seed: Path | None) -> None:
    """Run the Webex emulator (OAuth, REST, webhooks, sandbox chat) in the foreground."""
    try:
        server = EmulatorServer(host=host, port=port, seed=seed)
    except SeedError as exc:
        click.echo(f"error: --seed: {exc}", err=True)
        raise SystemExit(1) from None
    ensure_port_free("--port", host, port)
    try:
        server.start()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        click.echo(f"error: --port: cannot listen on {host}:{port} ({reason})", err=True)
        raise SystemExit(1) from None
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, request_stop)
    try:
        seed_integration = server.state.integrations.get(SEED_CLIENT_ID) or next(
            iter(server.state.integrations.values()), None
        )
        click.echo(f"Webex emulator API:  {server.api_url}")
        click.echo(f"Sandbox chat:        {server.url}/_emulator/spaces")
        click.echo(f"Control API:         {server.url}/_emulator/")
        if seed_integration is not None:
            click.echo(f"Seed client id:      {seed_integration.client_id}")
            click.echo(f"Seed client secret:  {seed_integration.client_secret}")
            click.echo(f"Redirect URIs:       {' '.join(seed_integration.redirect_uris)}")
        click.echo("Press Ctrl-C to stop.", err=False)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    click.echo("Emulator stopped.")
