"""remind: the command with real argument parsing (`remind 10m stretch your legs`)."""

from __future__ import annotations

from tokenbot.bot.args import Arg
from tokenbot.bot.command_context import CommandContext
from tokenbot.bot.router import Router
from tokenbot.core.durations import format_duration

__all__ = ["register"]

_MAX_DELAY = 24 * 3600


def register(router: Router) -> None:
    """Add `remind` to `router`."""
    router.command(
        "remind",
        args=(
            Arg(
                "delay",
                kind="duration",
                minimum=1,
                maximum=_MAX_DELAY,
                help="when: 90s, 10m, 1h30m (at most 24h)",
            ),
            Arg("text", kind="text", help="what to remind of"),
        ),
    )(cmd_remind)


def cmd_remind(ctx: CommandContext) -> str:
    """Post a reminder in this thread after a delay (reminders are lost on restart)."""
    delay = int(ctx.args["delay"])
    try:
        ctx.reminders.add(
            delay,
            room_id=ctx.message.room_id,
            parent_id=ctx.message.thread_id,
            text=str(ctx.args["text"]),
            requested_by=ctx.message.person_email,
        )
    except OverflowError as error:
        return f"Cannot add a reminder: {error}."
    return f"OK, I will remind you in {format_duration(delay, units=4)}."
