"""`tokenbot db upgrade`: bring the database schema to the newest migration."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from tokenbot.command_runtime import config_option
from tokenbot.command_runtime import database_error
from tokenbot.command_runtime import fail
from tokenbot.core.config import load_database_url
from tokenbot.core.db import upgrade
from tokenbot.core.errors import TokenbotError
from tokenbot.core.settings import hide_password


@click.group("db")
def db_group() -> None:
    """Manage the token database (SQLite file or PostgreSQL)."""


@db_group.command("upgrade")
@config_option
def upgrade_command(config_path: Path | None) -> None:
    """Apply every pending migration; safe to run again (a no-op when up to date).

    Needs only the database URL (database.url or TOKENBOT_DATABASE_URL), no other secret, so
    a migration job can run without the Webex credentials. `tokenbot serve` also does this at
    start, so running it by hand is only needed before a rollout or to check that the
    database is reachable.
    """
    try:
        url = load_database_url(config_path)
        upgrade(url)
    except TokenbotError as exc:
        fail(exc)
    except SQLAlchemyError as exc:
        fail(database_error(exc))
    click.echo(f"database is up to date: {hide_password(url)}")
