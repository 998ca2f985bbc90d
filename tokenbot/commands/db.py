"""`tokenbot db upgrade|current|history|check`: the database schema and its migrations."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from tokenbot.command_runtime import config_option
from tokenbot.command_runtime import database_error
from tokenbot.command_runtime import fail
from tokenbot.core.config import load_database_url
from tokenbot.core.db import SchemaStatus
from tokenbot.core.db import schema_status
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


def _status(config_path: Path | None) -> tuple[str, SchemaStatus]:
    try:
        url = load_database_url(config_path)
        return url, schema_status(url)
    except TokenbotError as exc:
        fail(exc)
    except SQLAlchemyError as exc:
        fail(database_error(exc))


def _describe(status: SchemaStatus) -> str:
    if status.unknown:
        return (
            f"at {status.current}, a revision this tokenbot does not ship (newest known: "
            f"{status.head}): a newer tokenbot migrated it; run that version"
        )
    if status.current is None:
        return f"empty: no migration applied ({len(status.pending)} pending)"
    if status.up_to_date:
        return f"at {status.current} (the newest)"
    names = ", ".join(m.revision for m in status.pending)
    return f"at {status.current}; {len(status.pending)} pending ({names})"


@db_group.command("current")
@config_option
def current_command(config_path: Path | None) -> None:
    """Say which migration the database is at, and what is pending (changes nothing)."""
    url, status = _status(config_path)
    click.echo(f"database {hide_password(url)} is {_describe(status)}")


@db_group.command("history")
@config_option
def history_command(config_path: Path | None) -> None:
    """List every migration this tokenbot ships, oldest first, marking what is applied."""
    _, status = _status(config_path)
    pending = {m.revision for m in status.pending}
    for migration in status.migrations:
        if status.unknown:
            mark = "?"
        else:
            mark = "pending" if migration.revision in pending else "applied"
        here = "  <- current" if migration.revision == status.current else ""
        click.echo(f"{migration.revision}  {mark:<8} {migration.title}{here}")


@db_group.command("check")
@config_option
def check_command(config_path: Path | None) -> None:
    """Exit 0 when the database is at the newest migration, else say why and exit 1.

    For a deployment pipeline or a readiness step: run `tokenbot db upgrade` when it fails.
    """
    url, status = _status(config_path)
    if status.up_to_date:
        click.echo(f"database {hide_password(url)} is up to date ({status.current})")
        return
    hint = "" if status.unknown else "; run `tokenbot db upgrade`"
    click.echo(f"error: database {hide_password(url)} is {_describe(status)}{hint}", err=True)
    raise SystemExit(1)
