"""`tokenbot accounts list|refresh|disconnect`: the connected Webex accounts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from tokenbot.command_runtime import config_option
from tokenbot.command_runtime import fail
from tokenbot.command_runtime import runtime_for
from tokenbot.core.disconnect import disconnect_account
from tokenbot.core.errors import AccountNotFound


@click.group("accounts")
def accounts_group() -> None:
    """List, refresh and disconnect connected Webex accounts."""


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


@accounts_group.command("list")
@config_option
@click.option("--search", default=None, help="Only accounts whose email or name contains this.")
def list_command(config_path: Path | None, search: str | None) -> None:
    """Show every account with its health, expiries and next refresh."""
    with runtime_for(config_path) as runtime:
        now = runtime.clock.now()
        total = runtime.store.count_accounts(search)
        views = runtime.store.list_accounts(search=search, offset=0, limit=max(total, 1))
    if not views:
        click.echo("no accounts connected yet: use the panel's Connect Webex button")
        return
    header = f"{'id':>5}  {'health':<13} {'email':<32} {'access expires':<21} {'next refresh':<21}"
    click.echo(header)
    for view in views:
        bot = "  (bot identity)" if view.is_bot_identity else ""
        click.echo(
            f"{view.id:>5}  {view.health(now):<13} {view.email[:32]:<32} "
            f"{_when(view.access_expires_at):<21} {_when(view.next_refresh_at):<21}{bot}"
        )


@accounts_group.command("refresh")
@config_option
@click.argument("account_id", type=int)
def refresh_command(config_path: Path | None, account_id: int) -> None:
    """Refresh ACCOUNT_ID's access token now (exactly once, even with a scheduler running)."""
    with runtime_for(config_path) as runtime:
        outcome = runtime.tokens.force_refresh(account_id)
        view = runtime.store.get(account_id)
    click.echo(f"account {account_id}: {outcome.result}; health {view.health(runtime.clock.now())}")
    if not outcome.ok:
        raise SystemExit(1)


@accounts_group.command("disconnect")
@config_option
@click.argument("account_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def disconnect_command(config_path: Path | None, account_id: int, yes: bool) -> None:
    """Wipe ACCOUNT_ID's tokens and stop refreshing it."""
    from tokenbot.process import install_webhook_cleanup

    with runtime_for(config_path) as runtime:
        try:
            view = runtime.store.get(account_id)
        except AccountNotFound:
            fail(
                AccountNotFound(
                    f"account {account_id} does not exist; `tokenbot accounts list` shows the ids"
                )
            )
        if not yes:
            click.confirm(
                f"Wipe the tokens of account {account_id} ({view.email})? "
                "It must log in again to return.",
                abort=True,
            )
        install_webhook_cleanup(runtime.settings, runtime)
        done = disconnect_account(
            account_id,
            store=runtime.store,
            tokens=runtime.tokens,
            oauth=runtime.oauth,
            database=runtime.database,
        )
    click.echo(f"account {account_id} disconnected; its tokens are wiped")
    click.echo(done.summary())


@accounts_group.command("relink")
@config_option
@click.argument("account_id", type=int)
@click.option(
    "--minutes",
    type=click.IntRange(1, 24 * 60),
    default=None,
    help="How long the link works (default: notify.relink_minutes, 30).",
)
def relink_command(config_path: Path | None, account_id: int, minutes: int | None) -> None:
    """Print a single-use re-login link for ACCOUNT_ID that keeps the account.

    Whoever opens it signs in with Webex without a panel session; only the account's own
    Webex person is accepted, and the new grant replaces the old one in place (same account
    id, history and bot identity kept). A new link replaces older unused ones.
    """
    from tokenbot.core.relink import RelinkLinks
    from tokenbot.core.relink import relink_path

    with runtime_for(config_path) as runtime:
        settings = runtime.settings
        try:
            view = runtime.store.get(account_id)
        except AccountNotFound:
            fail(
                AccountNotFound(
                    f"account {account_id} does not exist; `tokenbot accounts list` shows the ids"
                )
            )
        valid = minutes or settings.notify.relink_minutes
        token = RelinkLinks(runtime.database, clock=runtime.clock).mint(
            account_id, minutes=valid, created_by="cli"
        )
    panel = settings.panel
    base = panel.public_url or f"http://{panel.host}:{panel.port}"
    click.echo(base.rstrip("/") + relink_path(token))
    click.echo(
        f"for {view.email}: works once, for {valid} minutes, only when signing in as that "
        "Webex person",
        err=True,
    )
