"""`tokenbot notify secret|test|log`: the signing secret, a test event, the delivery log."""

from __future__ import annotations

from pathlib import Path

import click

from tokenbot.command_runtime import config_option
from tokenbot.command_runtime import runtime_for
from tokenbot.core.config import generate_notify_secret


@click.group("notify")
def notify_group() -> None:
    """Lifecycle notifications: signing secret, test event, delivery log.

    Events go out as signed webhooks (notify.webhooks) and Webex messages (notify.webex).

    \b
    Set up:
      1. tokenbot notify secret        -> prints whsec_...; give it to the receiver too
      2. export TOKENBOT_NOTIFY_SECRET=whsec_...   (or TOKENBOT_NOTIFY_SECRET_FILE=path)
      3. list the endpoints under notify.webhooks in config.yaml, restart
      4. tokenbot notify test          -> one notify.test event to every target
    """


@notify_group.command("secret")
def secret_command() -> None:
    """Print a new Standard Webhooks signing secret (whsec_ + 32 random bytes in base64)."""
    click.echo(generate_notify_secret())


@notify_group.command("test")
@config_option
def test_command(config_path: Path | None) -> None:
    """Send a notify.test event to every configured target now, and say how each went."""
    with runtime_for(config_path) as runtime:
        outbox, dispatcher = runtime.outbox, runtime.dispatcher
        assert outbox is not None and dispatcher is not None
        if not outbox.targets:
            raise click.ClickException(
                "no targets: list endpoints under notify.webhooks (or set notify.webex) in "
                "config.yaml"
            )
        ids = {outbox.send_test(target.key): target for target in outbox.targets}
        dispatcher.run()
        failed = 0
        for line in outbox.deliveries(limit=len(ids) * 4):
            if line.message_id not in ids:
                continue
            shown = line.last_error or (f"HTTP {line.last_status}" if line.last_status else "")
            click.echo(f"{line.status:8} {line.target}  {shown}".rstrip())
            failed += line.status != "sent"
    if failed:
        raise click.ClickException(
            f"{failed} target(s) did not accept the test event; it is retried in the "
            "background while tokenbot serve runs"
        )


@notify_group.command("log")
@config_option
@click.option("--limit", default=20, show_default=True, help="How many deliveries.")
def log_command(config_path: Path | None, limit: int) -> None:
    """Print the newest deliveries: when, what, where, how it went."""
    with runtime_for(config_path) as runtime:
        assert runtime.outbox is not None
        for line in runtime.outbox.deliveries(limit=limit):
            click.echo(
                f"{line.created_at:%Y-%m-%d %H:%M:%S} {line.status:8} {line.type:32} "
                f"{line.subject:14} {line.target} attempts={line.attempts}"
                + (f" ({line.last_error})" if line.last_error else "")
            )
