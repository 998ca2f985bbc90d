"""`tokenbot api-token create|revoke|list`: scoped bearer tokens for the panel's JSON API."""

from __future__ import annotations

import re
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import click

from tokenbot.command_runtime import config_option
from tokenbot.command_runtime import fail
from tokenbot.command_runtime import runtime_for
from tokenbot.core.admins import ALL_ACCOUNTS
from tokenbot.core.admins import API_SCOPES
from tokenbot.core.admins import SCOPE_STATUS
from tokenbot.core.admins import SCOPE_TOKENS
from tokenbot.core.admins import AdminStore
from tokenbot.core.admins import ApiTokenInfo
from tokenbot.core.api_tokens import AccountChoice
from tokenbot.core.errors import AccountNotFound
from tokenbot.core.errors import AdminError
from tokenbot.core.errors import TokenbotError
from tokenbot.core.store import TokenStore

_SPAN = re.compile(r"(\d+)\s*(m|min|h|d|w)")
_SPAN_SECONDS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@click.group("api-token")
def api_token_group() -> None:
    """Create, list and revoke tokens for /api/v1 (status by default; tokens:read on request)."""


@api_token_group.command("create")
@config_option
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(API_SCOPES),
    help=f"What the token may do (repeatable; default {SCOPE_STATUS}). {SCOPE_TOKENS} "
    "fetches live access tokens from the broker.",
)
@click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="ID|all",
    help=f"With {SCOPE_TOKENS}: an account id whose access token it may fetch (repeatable), "
    "or 'all'.",
)
@click.option(
    "--webex-scope",
    "webex_scopes",
    multiple=True,
    metavar="SCOPE",
    help=f"With {SCOPE_TOKENS}: hand out a token only while the account's grant includes "
    "this Webex scope (repeatable).",
)
@click.option("--expires", metavar="SPAN", help="Stop working after this span: 90m, 12h, 30d, 4w.")
def create_command(
    config_path: Path | None,
    name: str,
    scopes: tuple[str, ...],
    accounts: tuple[str, ...],
    webex_scopes: tuple[str, ...],
    expires: str | None,
) -> None:
    """Create the API token NAME and print it once (only its hash is stored)."""
    with runtime_for(config_path) as runtime:
        try:
            choice = _accounts(accounts)
            if not isinstance(choice, str):
                for account_id in choice:
                    _must_exist(runtime.store, account_id)
            expires_at = None if expires is None else runtime.clock.now() + _span(expires)
            token = AdminStore(runtime.database, clock=runtime.clock).create_api_token(
                name,
                scopes=scopes or (SCOPE_STATUS,),
                accounts=choice,
                webex_scopes=webex_scopes,
                expires_at=expires_at,
            )
        except TokenbotError as exc:
            fail(exc)
            raise AssertionError("unreachable") from exc
    click.echo(
        f"API token {name!r} (shown once; send it as 'Authorization: Bearer <token>'):", err=True
    )
    click.echo(token)


def _accounts(values: tuple[str, ...]) -> AccountChoice:
    if any(value.strip().lower() == ALL_ACCOUNTS for value in values):
        if len(values) > 1:
            raise AdminError("--account all stands alone", hint="drop the other --account ids")
        return ALL_ACCOUNTS
    ids = []
    for value in values:
        if not value.strip().isdigit() or int(value) < 1:
            raise AdminError(
                f"--account {value!r} is not an account id",
                hint="see the ids with tokenbot accounts list, or use --account all",
            )
        ids.append(int(value))
    return ids


def _must_exist(store: TokenStore, account_id: int) -> None:
    try:
        store.get(account_id)
    except AccountNotFound:
        raise AdminError(
            f"there is no account {account_id}",
            hint="see the ids with tokenbot accounts list",
        ) from None


def _span(text: str) -> timedelta:
    match = _SPAN.fullmatch(text.strip().lower())
    if not match or int(match.group(1)) < 1:
        raise AdminError(
            f"--expires {text!r} is not a span", hint="write a number and a unit: 90m, 12h, 30d, 4w"
        )
    return timedelta(seconds=int(match.group(1)) * _SPAN_SECONDS[match.group(2)])


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
    """List the API tokens: created, last used, expiry, scopes, accounts (never the tokens)."""
    with runtime_for(config_path) as runtime:
        tokens = AdminStore(runtime.database, clock=runtime.clock).list_api_tokens()
    if not tokens:
        click.echo("no API tokens; create one with: tokenbot api-token create NAME", err=True)
        return
    width = max(len("NAME"), *(len(token.name) for token in tokens))
    scope_width = max(len("SCOPES"), *(len(",".join(token.scopes)) for token in tokens))
    click.echo(
        f"{'NAME':<{width}}  {'CREATED':<20}  {'LAST USED':<20}  {'EXPIRES':<20}  "
        f"{'SCOPES':<{scope_width}}  ACCOUNTS"
    )
    for token in tokens:
        expires = "never" if token.expires_at is None else _utc(token.expires_at)
        click.echo(
            f"{token.name:<{width}}  {_utc(token.created_at):<20}  "
            f"{_utc(token.last_used_at):<20}  {expires:<20}  "
            f"{','.join(token.scopes):<{scope_width}}  {_covered(token)}"
        )


def _covered(token: ApiTokenInfo) -> str:
    if SCOPE_TOKENS not in token.scopes:
        return "-"
    text = "all" if token.accounts is None else ",".join(str(i) for i in token.accounts)
    if token.webex_scopes:
        text += f" (while granted {' '.join(token.webex_scopes)})"
    return text


def _utc(moment: datetime | None) -> str:
    return "never" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"
