"""`tokenbot config check` and `config schema`: the effective configuration, and its schema."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from tokenbot.command_runtime import config_option
from tokenbot.command_runtime import fail
from tokenbot.core.config import config_schema
from tokenbot.core.config import load_settings
from tokenbot.core.errors import ConfigError
from tokenbot.core.intake import choose_intake


@click.group("config")
def config_group() -> None:
    """Inspect tokenbot's configuration (config.yaml, then the environment) and its schema."""


@config_group.command("check")
@config_option
@click.option("--demo", is_flag=True, help="Check as `tokenbot demo` would (relaxed, generated).")
def check(config_path: Path | None, demo: bool) -> None:
    """Print the effective configuration with every secret masked; exit 1 when it is invalid.

    Every problem is reported at once, one `error:` line each.
    """
    try:
        settings = load_settings(config_path, demo=demo)
    except ConfigError as exc:
        fail(exc)
    masked = settings.masked()
    warnings = masked.pop("warnings")
    click.echo(yaml.safe_dump(masked, sort_keys=False, default_flow_style=False).rstrip())
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"database: {settings.database.display_url}", err=True)
    choice = choose_intake(
        settings.bot.intake,
        scopes=settings.webex.scopes,
        scopes_from="webex.scopes",
        public_url=settings.bot.public_url,
        has_webhook_secret=settings.bot.webhook_secret is not None,
    )
    click.echo(f"intake: {choice.intake} ({choice.reason})", err=True)
    click.echo("configuration ok" + (" (demo mode)" if settings.demo else ""), err=True)


@config_group.command("schema")
def schema() -> None:
    """Print the JSON Schema of config.yaml (for editors; see the file's first line)."""
    click.echo(json.dumps(config_schema(), indent=2))
