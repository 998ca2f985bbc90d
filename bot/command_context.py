"""What a command handler gets: the message, its parsed arguments, and the bot's services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from tokenbot.bot.identity import BotIdentity
from tokenbot.bot.message import Message
from tokenbot.bot.router import Command

if TYPE_CHECKING:
    from tokenbot.bot.client import WebexClient
    from tokenbot.bot.router import Router
    from tokenbot.bot.service import Bot

__all__ = ["CommandContext"]


@dataclass(frozen=True, slots=True)
class CommandContext:
    """One command being run.

    Attributes:
        bot: The bot (for `post`, `state`, `reminders`, `options`).
        message: The message that carried the command.
        command: The command record.
        args: Arguments parsed by the command's spec.
        raw_args: The text after the command name, verbatim.
        identity: The user the bot acts as.
        is_owner: Whether that user typed the command.
    """

    bot: Bot
    message: Message
    command: Command
    args: dict[str, Any]
    raw_args: str
    identity: BotIdentity
    is_owner: bool

    @property
    def client(self) -> WebexClient:
        """Return the Webex client (read calls; post through `reply` so loops are avoided)."""
        return self.bot.client

    @property
    def router(self) -> Router:
        """Return the router (what `help` reads)."""
        return self.bot.router

    @property
    def prefix(self) -> str:
        """Return the command prefix."""
        return self.bot.router.prefix

    def reply(self, markdown: str) -> None:
        """Post `markdown` into the command's thread now (split if long)."""
        self.bot.reply(self.message, markdown)
