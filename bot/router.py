"""Commands as data, and the router that finds them and decides who may run them.

A command is a record: name, aliases, help (the handler's docstring), argument spec and an
access rule. The router knows the prefix, finds a command by name or alias, checks access, and
is what the generated `help` reads. Plugins add commands with `router.command(...)` or
`router.add(Command(...))`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Literal

from tokenbot.bot.args import Arg
from tokenbot.bot.args import usage

if TYPE_CHECKING:
    from tokenbot.bot.command_context import CommandContext
    from tokenbot.bot.replies import Replies

__all__ = ["Access", "AccessPolicy", "CardCallback", "Command", "Handler", "Router"]

# A handler answers with a reply, several, or None (`bot.replies`: markdown str, Text, Card, ...).
Handler = Callable[["CommandContext"], "Replies"]
# everyone: any sender; allowed: the user and people the policy allows; owner: the user only.
Access = Literal["everyone", "allowed", "owner"]


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """Who, besides the user the bot acts as, may run commands: emails, domains, spaces.

    A sender must match an email or a domain; when spaces are listed, the command must also
    come from one of them. Empty emails and domains allow nobody else: with a real user's
    identity, failing closed is the safe default.
    """

    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    spaces: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        emails: Iterable[str] = (),
        domains: Iterable[str] = (),
        spaces: Iterable[str] = (),
    ) -> AccessPolicy:
        """Build a policy, folding emails and domains to ASCII lower case.

        Raises:
            ValueError: An email or domain holds a non-ASCII character (it would never match).
        """
        return cls(
            emails=frozenset(_ascii_fold(e.strip(), "email") for e in emails if e.strip()),
            domains=frozenset(
                _ascii_fold(d.strip().lstrip("@"), "domain") for d in domains if d.strip()
            ),
            spaces=frozenset(space.strip() for space in spaces if space.strip()),
        )

    def permits(self, email: str, room_id: str) -> bool:
        """Return whether a sender `email` in space `room_id` is allowed by this policy.

        Only ASCII addresses can match: Unicode case folding maps look-alikes onto ASCII
        letters (the Kelvin sign U+212A folds to `k`), which would let `bo\u212a@...` pass
        for `bok@...`.
        """
        if not email.isascii():
            return False
        email = email.lower()
        domain = email.rpartition("@")[2]
        person = email in self.emails or domain in self.domains
        return person and (not self.spaces or room_id in self.spaces)


def _ascii_fold(value: str, what: str) -> str:
    if not value.isascii():
        raise ValueError(f"the {what} {value!r} holds a non-ASCII character; use its ASCII form")
    return value.lower()


@dataclass(frozen=True, slots=True)
class Command:
    """One chat command.

    Attributes:
        name: What follows the prefix (`help` in `/help`).
        handler: Called with a `CommandContext`; returns the reply (markdown) or None.
        help: One line (the first) and optional details; from the docstring by default.
        aliases: Other names that run the same command.
        args: The argument spec, parsed before the handler runs.
        access: `everyone`, `allowed` (the user plus the policy) or `owner` (the user only).
        policy: A policy for this command instead of the router's default one.
        takes_files: The handler wants the message's files, fetched (`ctx.files`).
    """

    name: str
    handler: Handler
    help: str = ""
    aliases: tuple[str, ...] = ()
    args: tuple[Arg, ...] = ()
    access: Access = "allowed"
    policy: AccessPolicy | None = field(default=None)
    takes_files: bool = False

    @property
    def summary(self) -> str:
        """Return the first line of the help text."""
        return self.help.strip().splitlines()[0] if self.help.strip() else ""

    def usage(self, prefix: str) -> str:
        """Return `/name <args>` for the help and for argument errors."""
        spec = usage(self.args)
        return f"{prefix}{self.name} {spec}".rstrip()


@dataclass(frozen=True, slots=True)
class CardCallback:
    """What a card's button runs: a handler, guarded by the access rule of `command`."""

    name: str
    command: str
    handler: Handler


class Router:
    """The table of commands, plus the prefix and the default access policy.

    Args:
        prefix: What starts a command (`/` by default).
        policy: Who besides the user may run `allowed` commands.
        open_to_everyone: Whether `everyone` commands are open to anyone (False: only to the
            user and the people `policy` allows, like `allowed` commands).
    """

    def __init__(
        self,
        *,
        prefix: str = "/",
        policy: AccessPolicy | None = None,
        open_to_everyone: bool = True,
    ) -> None:
        if not prefix or prefix.isspace():
            raise ValueError("the command prefix must be a visible character")
        self.prefix = prefix
        self.policy = policy or AccessPolicy()
        self.open_to_everyone = open_to_everyone
        self._by_name: dict[str, Command] = {}
        self._commands: list[Command] = []
        self._callbacks: dict[str, CardCallback] = {}

    def add(self, command: Command) -> Command:
        """Register `command` under its name and aliases; a taken name is an error."""
        names = [command.name, *command.aliases]
        for name in names:
            key = name.lower()
            if not key or any(char.isspace() for char in key):
                raise ValueError(f"command name {name!r} must be one word")
            if key in self._by_name:
                raise ValueError(f"command name {name!r} is already taken")
        for name in names:
            self._by_name[name.lower()] = command
        self._commands.append(command)
        return command

    def command(
        self,
        name: str | None = None,
        *,
        aliases: Sequence[str] = (),
        args: Sequence[Arg] = (),
        access: Access = "allowed",
        policy: AccessPolicy | None = None,
        takes_files: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated function as a command; its docstring becomes the help."""

        def decorate(handler: Handler) -> Handler:
            self.add(
                Command(
                    name=name or handler.__name__.removeprefix("cmd_"),
                    handler=handler,
                    help=inspect.cleandoc(handler.__doc__ or ""),
                    aliases=tuple(aliases),
                    args=tuple(args),
                    access=access,
                    policy=policy,
                    takes_files=takes_files,
                )
            )
            return handler

        return decorate

    def card_callback(self, name: str, *, command: str) -> Callable[[Handler], Handler]:
        """Register the decorated function for card submits whose data names `name`.

        A button made with `replies.submit_action(title, name, ...)` reaches it. The submit is
        accepted only on a card this bot posted, from someone who may run `command` (its access
        rule and policy decide); `ctx.inputs` holds the card's inputs, validated and capped.
        """

        def decorate(handler: Handler) -> Handler:
            if name in self._callbacks:
                raise ValueError(f"card callback {name!r} is already taken")
            self._callbacks[name] = CardCallback(name=name, command=command, handler=handler)
            return handler

        return decorate

    def find_callback(self, name: str) -> CardCallback | None:
        """Return the card callback registered as `name`."""
        return self._callbacks.get(name)

    def find(self, name: str) -> Command | None:
        """Return the command called `name` (or aliased so), case-insensitively."""
        return self._by_name.get(name.lower())

    def commands(self) -> list[Command]:
        """Return every command once, sorted by name."""
        return sorted(self._commands, key=lambda command: command.name)

    def may_run(self, command: Command, *, email: str, room_id: str, is_owner: bool) -> bool:
        """Return whether the sender may run `command` in the space `room_id`.

        Outside `bot.allowed_spaces` (when it lists any) nobody but the user may run anything,
        `everyone` commands included: those spaces are not the bot's. With
        `bot.open_to_everyone` false, `everyone` commands are `allowed` ones.
        """
        if is_owner:
            return True
        if self.policy.spaces and room_id not in self.policy.spaces:
            return False
        if command.access == "everyone" and self.open_to_everyone:
            return True
        if command.access == "owner":
            return False
        return (command.policy or self.policy).permits(email, room_id)

    def open_commands(self, *, email: str, room_id: str, is_owner: bool) -> list[Command]:
        """Return the commands the sender may run in `room_id` (none: ignore them)."""
        return [
            command
            for command in self._commands
            if self.may_run(command, email=email, room_id=room_id, is_owner=is_owner)
        ]

    def may_run_restricted(self, *, email: str, room_id: str, is_owner: bool) -> bool:
        """Return whether the sender may run any command not open to everyone."""
        return any(
            command.access != "everyone"
            for command in self.open_commands(email=email, room_id=room_id, is_owner=is_owner)
        )

    def split(self, body: str) -> tuple[str, str]:
        """Split a command line (prefix already removed) into the name and the rest."""
        body = body.strip()
        name, _, rest = body.partition(" ")
        if "\n" in name:
            name, _, more = name.partition("\n")
            rest = f"{more}\n{rest}".strip() if rest else more
        return name, rest.strip()
