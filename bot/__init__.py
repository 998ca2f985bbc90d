"""The chat side: SDK client on the live token, event intake, command router.

Exported: what `tokenbot serve` wires (`create_bot`, `Bot`, `BotOptions`, `webhook_blueprint`,
`create_webhook_app`) and what a command plugin needs (`Router`, `Arg`, `CommandContext`).
Each is imported on first use, so importing the package loads neither Flask nor the SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenbot.bot.args import Arg
    from tokenbot.bot.command_context import CommandContext
    from tokenbot.bot.factory import create_bot
    from tokenbot.bot.options import BotOptions
    from tokenbot.bot.router import Router
    from tokenbot.bot.service import Bot
    from tokenbot.bot.webhook import create_webhook_app
    from tokenbot.bot.webhook import webhook_blueprint

__all__ = [
    "Arg",
    "Bot",
    "BotOptions",
    "CommandContext",
    "Router",
    "create_bot",
    "create_webhook_app",
    "webhook_blueprint",
]

_EXPORTS: dict[str, str] = {
    "Arg": "tokenbot.bot.args",
    "Bot": "tokenbot.bot.service",
    "BotOptions": "tokenbot.bot.options",
    "CommandContext": "tokenbot.bot.command_context",
    "Router": "tokenbot.bot.router",
    "create_bot": "tokenbot.bot.factory",
    "create_webhook_app": "tokenbot.bot.webhook",
    "webhook_blueprint": "tokenbot.bot.webhook",
}


def __getattr__(name: str) -> object:
    """Import `name` from its module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    """List the module's names, the ones not imported yet included."""
    return sorted(set(globals()) | set(__all__))
