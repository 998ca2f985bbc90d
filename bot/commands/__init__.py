"""The built-in commands: each module has `register(router)`."""

from __future__ import annotations

from tokenbot.bot.commands import account
from tokenbot.bot.commands import basic
from tokenbot.bot.commands import remind
from tokenbot.bot.commands import spaces
from tokenbot.bot.router import Router

__all__ = ["register_builtins"]


def register_builtins(router: Router) -> None:
    """Add help, ping, echo, whoami, status, rooms, history and remind to `router`."""
    for module in (basic, account, spaces, remind):
        module.register(router)
