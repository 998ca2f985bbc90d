"""`tokenbot api-token create|revoke|list`: bearer tokens for the panel's JSON API."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from tokenbot.command_runtime import config_option
from tokenbot.command_runtime import fail
from tokenbot.command_runtime import runtime_for
from tokenbot.core.admins import AdminStore
from tokenbot.core.errors import TokenbotError


@click.group("api-token")
def api_token_group() -> None:
    """Create, list and revoke tokens for /api/v1 (read-only access)."""


@api_token_group.command("create")
@config_option
@click.argument("name")
def create_command(config_path: Path | None, name: str) -> None:
    """Create the API token NAME and print it once (only its hash is stored)."""
    with runtime_for(config_path) as runtime:
        try:
            token = AdminStore(runtime.database, clock=runtime.clock).create_api_token(name)
        except TokenbotError as exc:
            fail(exc)
            raise AssertionError("unreachable") from exc
    click.echo(
        f"API token {name!r} (shown once; send it as 'Authorization: Bearer <token>'):", err=True
    )
    click.echo(token)


@api_token_group.command("revoke")
@config_option
@click.argument("name")
def revoke_command(config_path: Path | None, name: str) -> None:
    """Revoke the API token NAME."""
    with runtime_for(config_path) as runtime:
        found = AdminStore(runtime.database, clock=runtime.clock).revoke_api_token(name)
    if not found:
        click.echo(f"error: no API token named {name!r}", err=True)
        raise SystemExit(1)
    click.echo(f"API token {name!r} revoked")


@api_token_group.command("list")
@config_option
def list_command(config_path: Path | None) -> None:
    """List the API tokens with when each was created and last used (never the tokens)."""
    with runtime_for(config_path) as runtime:
        tokens = AdminStore(runtime.database, clock=runtime.clock).list_api_tokens()
    if not tokens:
        click.echo("no API tokens; create one with: tokenbot api-token create NAME", err=True)
        return
    width = max(len("NAME"), *(len(token.name) for token in tokens))
    click.echo(f"{'NAME':<{width}}  {'CREATED':<20}  LAST USED (to the minute)")
    for token in tokens:
        click.echo(
            f"{token.name:<{width}}  {_utc(token.created_at):<20}  {_utc(token.last_used_at)}"
        )


def _utc(moment: datetime | None) -> str:
    return "never" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"
