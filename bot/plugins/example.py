"""An example plugin: copy it to write your own commands.

List it in config.yaml to load it::

    bot:
      plugins:
        - tokenbot.bot.plugins.example

A plugin is any importable module with a `register(router)` function. Each command is a plain
function taking a `CommandContext` and returning the reply (markdown) or None; its docstring is
the help text, its `args` spec is parsed before it runs, and `access` says who may run it
(`everyone`, `allowed` — the user plus `bot.allowed_*` — or `owner`, the user only). Post extra
messages with `ctx.reply(...)` only: the bot remembers what it posts so it never answers itself.
"""

from __future__ import annotations

import random

from tokenbot.bot.args import Arg
from tokenbot.bot.command_context import CommandContext
from tokenbot.bot.router import Router

__all__ = ["register"]


def register(router: Router) -> None:
    """Add `roll` and `shout` to the bot."""
    router.command(
        "roll",
        aliases=("dice",),
        access="everyone",
        args=(Arg("sides", kind="int", required=False, default=6, minimum=2, maximum=1000),),
    )(roll)
    router.command("shout", args=(Arg("text", kind="text"),))(shout)


def roll(ctx: CommandContext) -> str:
    """Roll a die with the given number of sides (default 6)."""
    sides = int(ctx.args["sides"])
    return f"🎲 {random.randint(1, sides)} (d{sides})"


def shout(ctx: CommandContext) -> str:
    """Repeat the text in capitals."""
    return f"**{str(ctx.args['text']).upper()}**"
