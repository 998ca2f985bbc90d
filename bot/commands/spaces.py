"""rooms and history: reading the user's spaces and messages."""

from __future__ import annotations

from tokenbot.bot.args import Arg
from tokenbot.bot.command_context import CommandContext
from tokenbot.bot.router import Router

__all__ = ["register"]

_ROOMS_SHOWN = 20
_PREVIEW = 120


def register(router: Router) -> None:
    """Add `rooms` and `history` to `router`."""
    # Owner only: the titles of all the user's spaces (1:1s included) are theirs to see, not
    # something to post into a group space at anyone's request.
    router.command("rooms", aliases=("spaces",), access="owner")(cmd_rooms)
    router.command(
        "history",
        args=(
            Arg(
                "count",
                kind="int",
                required=False,
                default=5,
                minimum=1,
                maximum=50,
                help="how many messages (1-50)",
            ),
        ),
    )(cmd_history)


def cmd_rooms(ctx: CommandContext) -> str:
    """List the spaces of the user the bot acts as, most recently active first."""
    rooms = ctx.client.list_rooms(limit=_ROOMS_SHOWN)
    if not rooms:
        return "No spaces."
    lines = [f"**{len(rooms)} most recently active spaces**", ""]
    for room in rooms:
        kind = "direct" if room.get("type") == "direct" else "group"
        lines.append(f"- {room.get('title') or '(untitled)'} ({kind})")
    return "\n".join(lines)


def cmd_history(ctx: CommandContext) -> str:
    """Show the last N messages of this space (default 5), oldest first."""
    count = min(int(ctx.args["count"]), ctx.options.history_max)
    # One more than asked: the command itself is the newest message and is left out.
    messages = [
        message
        for message in ctx.client.list_messages(ctx.message.room_id, limit=count + 1)
        if message.id != ctx.message.id
    ][:count]
    if not messages:
        return "No messages."
    lines = [f"**Last {len(messages)} messages**", ""]
    for message in reversed(messages):
        text = " ".join(message.text.split())
        if len(text) > _PREVIEW:
            text = text[: _PREVIEW - 1] + "…"
        lines.append(f"- {message.created[:19].replace('T', ' ')} {message.person_email}: {text}")
    return "\n".join(lines)
