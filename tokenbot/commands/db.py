"""`tokenbot db upgrade`: bring the database schema to the newest migration."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from tokenbot.command_runtime import config_option
from tokenbot.command_runtime import database_error
from tokenbot.command_runtime import fail
from tokenbot.command_runtime import settings_or_exit
from tokenbot.core.db import upgrade
from tokenbot.core.errors import TokenbotError


@click.group("db")
def db_group() -> None:
    """Manage the token database (SQLite file or PostgreSQL)."""


@db_group.command("upgrade")
@config_option
def upgrade_command(config_path: Path | None) -> None:
    """Apply every pending migration; safe to run again (a no-op when up to date).

    `tokenbot serve` also does this at start, so running it by hand is only needed before a
    rollout or to check that the database is reachable.
    """
    settings = settings_or_exit(config_path)
    try:
        upgrade(settings.database.url)
    except TokenbotError as exc:
        fail(exc)
    except SQLAlchemyError as exc:
        fail(database_error(exc))
    click.echo(f"database is up to date: {settings.database.display_url}")
