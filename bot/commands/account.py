"""status: the bot identity's token, as the store sees it (never the token itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tokenbot.bot.command_context import CommandContext
from tokenbot.bot.markup import Markdown
from tokenbot.bot.replies import Card
from tokenbot.bot.replies import Replies
from tokenbot.bot.replies import submit_action
from tokenbot.bot.router import Router
from tokenbot.core.durations import format_duration

__all__ = ["register"]


def register(router: Router) -> None:
    """Add `status` to `router`."""
    router.command("status")(cmd_status)
    router.card_callback(REFRESH, command="status")(refresh_now)


REFRESH = "status.refresh"
REFRESH_COOLDOWN_SECONDS = 60.0


def cmd_status(ctx: CommandContext) -> Replies:
    """Show the bot identity's token: status, time left, last refresh (a card, when it works)."""
    text = status_text(ctx)
    lines = text.splitlines()
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": "Token health", "weight": "Bolder", "size": "Medium"},
    ]
    # The card repeats the text lines without markdown markup (TextBlocks render little).
    body.extend(
        {"type": "TextBlock", "text": line.replace("**", "").replace("`", ""), "wrap": True}
        for line in lines
    )
    actions = [submit_action("Refresh now", REFRESH)]
    if ctx.options.intake == "polling":
        body.append(
            {
                "type": "TextBlock",
                "text": (
                    "Refresh now needs webhook or websocket intake "
                    "(polling cannot see card presses)."
                ),
                "wrap": True,
            }
        )
    content = {"type": "AdaptiveCard", "version": "1.3", "body": body, "actions": actions}
    return Card(content=content, fallback=text)


def refresh_now(ctx: CommandContext) -> Replies:
    """Refresh the bot identity's token through the store now, then show the new status.

    At most once a minute: every refresh mints a new access token, and Webex caps the live
    tokens per user (~750), so a button pressed in a loop must not become a refresh loop.
    """
    last = ctx.fresh_identity().last_refreshed_at
    if last is not None:
        since = (ctx.clock.now() - last).total_seconds()
        if since < REFRESH_COOLDOWN_SECONDS:
            wait = int(REFRESH_COOLDOWN_SECONDS - since) + 1
            return f"The token was refreshed {int(since)}s ago; try again in {wait}s."
    result = ctx.client.refresh_now()
    return Markdown("Refresh: {}.\n\n").format(result) + status_text(ctx)


def status_text(ctx: CommandContext) -> Markdown:
    """Return the status lines as markdown."""
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
