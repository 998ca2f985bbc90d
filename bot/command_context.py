"""What a command handler gets: the message, its parsed arguments, and the bot's services."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from tokenbot.bot.client import WebexClient
from tokenbot.bot.identity import BotIdentity
from tokenbot.bot.identity import IdentityCache
from tokenbot.bot.message import Message
from tokenbot.bot.options import BotOptions
from tokenbot.bot.posting import Poster
from tokenbot.bot.reminders import Reminders
from tokenbot.bot.router import Command
from tokenbot.bot.router import Router
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.clock import Clock

if TYPE_CHECKING:
    from tokenbot.bot.files import FileFetcher
    from tokenbot.bot.files import ReceivedFile
    from tokenbot.bot.replies import Reply

__all__ = ["CommandContext", "CommandServices"]


@dataclass(frozen=True, slots=True)
class CommandServices:
    """What the bot lends every command: built once, shared by all command runs.

    Attributes:
        client: The Webex client for read calls (post through the poster, never the client).
        poster: Posts as the user and remembers the posts as ours.
        router: The commands (what `help` reads).
        reminders: Where `remind` schedules.
        state: The bot state (counters, webhook registration).
        identities: The bot identity, cached; `invalidate()` before reading it fresh.
        clock: The clock.
        options: The bot's settings.
        files: Fetches received files for commands that take them (None: files are ignored).
    """

    client: WebexClient
    poster: Poster
    router: Router
    reminders: Reminders
    state: BotStateStore
    identities: IdentityCache
    clock: Clock
    options: BotOptions
    files: FileFetcher | None = None


@dataclass(frozen=True, slots=True)
class CommandContext:
    """One command being run.

    Attributes:
        services: The bot's services (client, poster, reminders, state, ...).
        message: The message that carried the command.
        command: The command record.
        args: Arguments parsed by the command's spec.
        raw_args: The text after the command name, verbatim.
        identity: The user the bot acts as.
        is_owner: Whether that user typed the command.
        files: The message's files, fetched to local temporary paths (commands that take
            files); deleted after the command's replies are posted.
        inputs: A card submit's inputs (card callbacks): untrusted strings, validated and
            size-capped; show them through `markup.Markdown.format` (or as a plain `str`),
            never as live markdown.
    """

    services: CommandServices
    message: Message
    command: Command
    args: dict[str, Any]
    raw_args: str
    identity: BotIdentity
    is_owner: bool
    files: tuple[ReceivedFile, ...] = ()
    inputs: Mapping[str, str] = field(default_factory=dict)

    @property
    def client(self) -> WebexClient:
        """Return the Webex client (read calls; post through `reply` so loops are avoided)."""
        return self.services.client

    @property
    def router(self) -> Router:
        """Return the router (what `help` reads)."""
        return self.services.router

    @property
    def prefix(self) -> str:
        """Return the command prefix."""
        return self.services.router.prefix

    @property
    def reminders(self) -> Reminders:
        """Return the reminders (`remind` adds to them)."""
        return self.services.reminders

    @property
    def state(self) -> BotStateStore:
        """Return the bot state (counters, webhook registration)."""
        return self.services.state

    @property
    def clock(self) -> Clock:
        """Return the clock."""
        return self.services.clock

    @property
    def options(self) -> BotOptions:
        """Return the bot's settings."""
        return self.services.options

    def fresh_identity(self) -> BotIdentity:
        """Re-read the bot identity from the store (a refresh may have just happened)."""
        self.services.identities.invalidate()
        return self.services.identities.get() or self.identity

    def reply(self, markdown: str) -> None:
        """Post `markdown` into the command's thread now (split if long)."""
        self.services.poster.reply(self.message, markdown)

    def send(self, *replies: Reply) -> None:
        """Post replies of any kind (card, file, text...) into the command's thread now."""
        self.services.poster.reply_all(self.message, list(replies))

    def post(self, room_id: str, markdown: str, *, parent_id: str | None = None) -> None:
        """Post `markdown` into another space or thread (remembered as ours, like replies)."""
        self.services.poster.post(room_id, markdown, parent_id=parent_id)
