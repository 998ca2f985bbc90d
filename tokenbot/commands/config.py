"""`tokenbot config check`: print the effective configuration, secrets masked, or the error."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from tokenbot.core.config import load_settings
from tokenbot.core.errors import ConfigError
from tokenbot.core.intake import choose_intake


@click.group("config")
def config_group() -> None:
    """Inspect tokenbot's configuration (config.yaml plus environment secrets)."""


@config_group.command("check")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML file to read (default: $TOKENBOT_CONFIG, else ./config.yaml).",
)
@click.option("--demo", is_flag=True, help="Check as `tokenbot demo` would (relaxed, generated).")
def check(config_path: Path | None, demo: bool) -> None:
    """Print the effective configuration with every secret masked; exit 1 when it is invalid."""
    try:
        settings = load_settings(config_path, demo=demo)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    masked = settings.masked()
    warnings = masked.pop("warnings")
    click.echo(yaml.safe_dump(masked, sort_keys=False, default_flow_style=False).rstrip())
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    choice = choose_intake(
        settings.bot.intake,
        scopes=settings.webex.scopes,
        scopes_from="webex.scopes",
        public_url=settings.bot.public_url,
        has_webhook_secret=settings.bot.webhook_secret is not None,
    )
    click.echo(f"intake: {choice.intake} ({choice.reason})", err=True)
    click.echo("configuration ok" + (" (demo mode)" if settings.demo else ""), err=True)
