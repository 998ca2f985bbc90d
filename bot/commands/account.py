"""status: the bot identity's token, as the store sees it (never the token itself)."""

from __future__ import annotations

from datetime import datetime

from tokenbot.bot.command_context import CommandContext
from tokenbot.bot.markup import Markdown
from tokenbot.bot.router import Router
from tokenbot.core.durations import format_duration

__all__ = ["register"]


def register(router: Router) -> None:
    """Add `status` to `router`."""
    router.command("status")(cmd_status)


def cmd_status(ctx: CommandContext) -> Markdown:
    """Show the bot identity's token: status, time left, last refresh."""
    identity = ctx.fresh_identity()
    now = ctx.clock.now()
    left = _left(identity.access_expires_at, now)
    snapshot = ctx.state.snapshot()
    # Only the account's email comes from elsewhere (Webex): a literal like any such text.
    lines = [
        Markdown("**Account** {}: {}").format(identity.email, identity.status),
        Markdown(f"- access token: {left}"),
        Markdown(f"- last refresh: {_when(identity.last_refreshed_at, now)}"),
        Markdown(f"- intake: {ctx.options.intake}")
        + Markdown(" (webhook registered)" if snapshot.get("webhook_registered") else ""),
        Markdown(f"- commands handled: {snapshot.counters.get('commands_total', 0)}"),
    ]
    return Markdown("\n").join(lines)


def _left(expires_at: datetime | None, now: datetime) -> str:
    if expires_at is None:
        return "expiry unknown"
    seconds = int((expires_at - now).total_seconds())
    if seconds <= 0:
        return "expired"
    return f"{format_duration(seconds)} left (until {expires_at:%Y-%m-%d %H:%M} UTC)"


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return f"{format_duration((now - moment).total_seconds())} ago"
