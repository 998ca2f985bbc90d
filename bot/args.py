"""Argument specs of chat commands and the parser that applies them.

A command declares its arguments as data (`Arg` records); the parser turns the text after the
command name into a dict, and `usage` renders the spec for generated help. Kinds: `word` (one
token), `int`, `duration` (`90s`, `10m`, `1h30m`, `2d`, in seconds) and `text` (the rest of the
line, verbatim; only as the last argument).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Literal

from tokenbot.bot.markup import Markdown
from tokenbot.core.errors import CommandArgumentError

__all__ = ["Arg", "parse_args", "parse_duration", "usage"]

ArgKind = Literal["word", "int", "duration", "text"]
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a command.

    Attributes:
        name: Its name in the parsed dict and in the usage line.
        kind: How to read it: `word`, `int`, `duration` or `text` (rest of the line).
        required: Whether it must be given; an optional one takes `default`.
        default: The value when an optional argument is absent.
        minimum: Smallest accepted value for `int` and `duration` (seconds).
        maximum: Largest accepted value for `int` and `duration` (seconds).
        help: One line for the generated help.
    """

    name: str
    kind: ArgKind = "word"
    required: bool = True
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""


def parse_duration(token: str) -> int:
    """Read `90s`, `10m`, `1h30m` or `2d` as seconds; a bare number means minutes."""
    token = token.strip()
    if token.isdigit():
        return int(token) * 60
    match = _DURATION.match(token)
    if not token or not match or not any(match.groups()):
        raise ValueError(f"{token!r} is not a duration (try 90s, 10m, 1h30m)")
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def parse_args(spec: Sequence[Arg], raw: str) -> dict[str, Any]:
    """Apply `spec` to the text after the command name.

    Raises:
        CommandArgumentError: An argument is missing, malformed, out of range, or extra text
            was given; the message names the argument.
    """
    values: dict[str, Any] = {}
    rest = raw.strip()
    for index, arg in enumerate(spec):
        if arg.kind == "text":
            if index != len(spec) - 1:
                raise ValueError(f"text argument {arg.name!r} must be the last one")
            token, rest = rest, ""
        else:
            words = rest.split(None, 1)
            token, rest = (words[0], words[1] if len(words) > 1 else "") if words else ("", "")
        if not token:
            if arg.required:
                raise CommandArgumentError(Markdown("{} is missing").format(arg.name))
            values[arg.name] = arg.default
            continue
        values[arg.name] = _convert(arg, token)
    if rest:
        raise CommandArgumentError(Markdown("unexpected {}").format(_shorten(rest)))
    return values


def usage(spec: Sequence[Arg]) -> str:
    """Render the spec as `<name> [optional] <text...>`."""
    words = []
    for arg in spec:
        name = f"{arg.name}..." if arg.kind == "text" else arg.name
        words.append(f"<{name}>" if arg.required else f"[{name}]")
    return " ".join(words)


def _convert(arg: Arg, token: str) -> Any:
    value: Any
    if arg.kind == "int":
        try:
            value = int(token)
        except ValueError:
            raise CommandArgumentError(
                Markdown("{} must be a whole number").format(arg.name)
            ) from None
    elif arg.kind == "duration":
        try:
            value = parse_duration(token)
        except ValueError as error:
            raise CommandArgumentError(
                Markdown("{}: {} is not a duration (try 90s, 10m, 1h30m)").format(arg.name, token)
            ) from error
    else:
        return token
    if arg.minimum is not None and value < arg.minimum:
        raise CommandArgumentError(
            Markdown("{} must be at least " + _show(arg, arg.minimum)).format(arg.name)
        )
    if arg.maximum is not None and value > arg.maximum:
        raise CommandArgumentError(
            Markdown("{} must be at most " + _show(arg, arg.maximum)).format(arg.name)
        )
    return value


def _show(arg: Arg, bound: float) -> str:
    return f"{int(bound)}s" if arg.kind == "duration" else f"{int(bound)}"


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
