"""An example plugin: copy it to write your own commands.

List it in config.yaml to load it::

    bot:
      plugins:
        - tokenbot.bot.plugins.example

A plugin is any importable module with a `register(router)` function. Each command is a plain
function taking a `CommandContext` and returning the reply (markdown) or None; its docstring is
the help text, its `args` spec is parsed before it runs, and `access` says who may run it
(`everyone`, `allowed` — the user plus `bot.allowed_*` — or `owner`, the user only). Post extra
messages with `ctx.reply(...)` / `ctx.send(...)` only: the bot remembers what it posts so it never
answers itself.

Replies may be `markup.Markdown` (our markup), plain text (`str` or `Text`), a `Card` (always
with a fallback), a `File` (bytes or a path), or a list of them (separate messages). `greet`
shows a card with an input whose button reaches the callback registered with
`router.card_callback`; `csv` answers with a file.
"""

from __future__ import annotations

import random

from tokenbot.bot.args import Arg
from tokenbot.bot.command_context import CommandContext
from tokenbot.bot.markup import Markdown
from tokenbot.bot.replies import Card
from tokenbot.bot.replies import File
from tokenbot.bot.replies import Replies
from tokenbot.bot.replies import Text
from tokenbot.bot.replies import submit_action
from tokenbot.bot.router import Router

__all__ = ["register"]


def register(router: Router) -> None:
    """Add `roll`, `shout`, `greet` (a card) and `csv` (a file) to the bot."""
    router.command(
        "roll",
        aliases=("dice",),
        access="everyone",
        args=(Arg("sides", kind="int", required=False, default=6, minimum=2, maximum=1000),),
    )(roll)
    router.command("shout", args=(Arg("text", kind="text"),))(shout)
    router.command("greet", access="everyone")(greet)
    # The callback runs only for submits on a card this bot posted, from someone who may run
    # `greet`; its inputs are untrusted strings (validated, capped: show them through
    # markup.Markdown.format).
    router.card_callback("example.greet", command="greet")(greeted)
    router.command("csv", access="everyone")(csv)


def roll(ctx: CommandContext) -> str:
    """Roll a die with the given number of sides (default 6)."""
    sides = int(ctx.args["sides"])
    return f"🎲 {random.randint(1, sides)} (d{sides})"


def shout(ctx: CommandContext) -> str:
    """Repeat the text in capitals."""
    return f"**{str(ctx.args['text']).upper()}**"


def greet(ctx: CommandContext) -> Replies:
    """Show a card asking for your name."""
    content = {
        "type": "AdaptiveCard",
        "version": "1.3",
        "body": [
            {"type": "TextBlock", "text": "What is your name?", "weight": "Bolder"},
            {"type": "Input.Text", "id": "name", "label": "Name", "maxLength": 60},
        ],
        "actions": [submit_action("Say hello", "example.greet")],
    }
    return Card(content=content, fallback="What is your name? (Your client cannot show cards.)")


def greeted(ctx: CommandContext) -> Replies:
    """Answer a submitted greet card."""
    name = ctx.inputs.get("name", "").strip()
    if not name:
        return Text("You did not give a name.")
    # The card's maxLength binds only well-behaved clients: cap it here too.
    return Markdown("Hello, {}!").format(name[:60])


def csv(ctx: CommandContext) -> Replies:
    """Answer with a small CSV file."""
    rows = "n,square\n" + "".join(f"{n},{n * n}\n" for n in range(1, 11))
    return File(name="squares.csv", data=rows.encode("utf-8"), text="Here are some squares.")
