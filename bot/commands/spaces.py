"""rooms and history: reading the user's spaces and messages."""

from __future__ import annotations

from tokenbot.bot.args import Arg
from tokenbot.bot.command_context import CommandContext
from tokenbot.bot.markup import Markdown
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


def cmd_rooms(ctx: CommandContext) -> Markdown:
    """List the spaces of the user the bot acts as, most recently active first."""
    rooms = ctx.client.list_rooms(limit=_ROOMS_SHOWN)
    if not rooms:
        return Markdown("No spaces.")
    lines = [Markdown(f"**{len(rooms)} most recently active spaces**"), Markdown("")]
    for room in rooms:
        kind = Markdown("direct" if room.get("type") == "direct" else "group")
        # Titles are set by whoever made the space: third-party text, always a literal.
        lines.append(Markdown("- {} ({})").format(room.get("title") or "(untitled)", kind))
    return Markdown("\n").join(lines)


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
        return Markdown("No messages.")
    lines = [Markdown(f"**Last {len(messages)} messages**"), Markdown("")]
    for message in reversed(messages):
        text = " ".join(message.text.split())
        if len(text) > _PREVIEW:
            text = text[: _PREVIEW - 1] + "…"
        # Other people's words, quoted whoever asks: literals, so no link, image or mention
        # of theirs goes out live in the user's name.
        when = message.created[:19].replace("T", " ")
        lines.append(Markdown("- {} {}: {}").format(when, message.person_email, text))
    return Markdown("\n").join(lines)
