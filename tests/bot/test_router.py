"""Commands as data: names, aliases, argument specs, access rules, generated usage."""

from __future__ import annotations

import pytest

from tokenbot.bot.args import Arg
from tokenbot.bot.args import parse_args
from tokenbot.bot.args import parse_duration
from tokenbot.bot.router import AccessPolicy
from tokenbot.bot.router import Command
from tokenbot.bot.router import Router
from tokenbot.core.errors import CommandArgumentError


def _noop(ctx: object) -> str:
    """Do nothing."""
    return ""


def test_commands_are_found_by_name_and_alias_case_insensitively() -> None:
    router = Router()
    router.add(Command("roll", _noop, help="Roll.", aliases=("dice",)))
    assert router.find("ROLL") is router.find("dice") is not None
    assert router.find("nope") is None
    with pytest.raises(ValueError, match="already taken"):
        router.add(Command("dice", _noop))


def test_decorator_takes_help_from_the_docstring() -> None:
    router = Router(prefix="!")

    @router.command("greet", args=(Arg("name"), Arg("times", kind="int", required=False)))
    def greet(ctx: object) -> str:
        """Greet someone.

        More words here.
        """
        return ""

    command = router.find("greet")
    assert command is not None
    assert command.summary == "Greet someone."
    assert command.usage("!") == "!greet <name> [times]"


@pytest.mark.parametrize(
    ("token", "seconds"),
    [("90s", 90), ("10m", 600), ("1h30m", 5400), ("2d", 172800), ("5", 300)],
)
def test_durations(token: str, seconds: int) -> None:
    assert parse_duration(token) == seconds


def test_parse_args_reads_kinds_defaults_and_rest_of_line() -> None:
    spec = (Arg("delay", kind="duration", maximum=3600), Arg("text", kind="text"))
    assert parse_args(spec, " 10m  stand up,  please ") == {
        "delay": 600,
        "text": "stand up,  please",
    }
    optional = (Arg("count", kind="int", required=False, default=5, minimum=1, maximum=50),)
    assert parse_args(optional, "") == {"count": 5}
    assert parse_args(optional, "7") == {"count": 7}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "`delay` is missing"),
        ("soon hi", "`delay`: `soon` is not a duration"),
        ("2h hi", "`delay` must be at most 3600s"),
        ("10m", "`text` is missing"),
    ],
)
def test_bad_arguments_say_what_is_wrong(raw: str, message: str) -> None:
    spec = (Arg("delay", kind="duration", maximum=3600), Arg("text", kind="text"))
    with pytest.raises(CommandArgumentError, match=message.replace("`", ".")):
        parse_args(spec, raw)


def test_extra_words_are_refused() -> None:
    with pytest.raises(CommandArgumentError, match="unexpected"):
        parse_args((Arg("count", kind="int"),), "3 4")


def test_access_rules() -> None:
    policy = AccessPolicy.of(emails=["Bob@Example.com"], domains=["@partner.org"])
    router = Router(policy=policy)
    allowed = router.add(Command("echo", _noop))
    public = router.add(Command("ping", _noop, access="everyone"))
    private = router.add(Command("rooms", _noop, access="owner"))

    def may(command: Command, email: str, room: str = "ROOM-X", owner: bool = False) -> bool:
        return router.may_run(command, email=email, room_id=room, is_owner=owner)

    assert may(allowed, "bob@example.com")
    assert may(allowed, "eve@partner.org")
    assert not may(allowed, "dave@example.com", room="ROOM-OPEN")
    assert not may(allowed, "dave@example.com")
    # With spaces listed, allowed people count only there.
    in_space = Router(policy=AccessPolicy.of(emails=["bob@example.com"], spaces=["ROOM-OPEN"]))
    echo = in_space.add(Command("echo", _noop))
    assert in_space.may_run(echo, email="bob@example.com", room_id="ROOM-OPEN", is_owner=False)
    assert not in_space.may_run(echo, email="bob@example.com", room_id="ROOM-X", is_owner=False)
    assert may(public, "dave@example.com")
    assert not may(private, "bob@example.com")
    assert may(private, "alice@example.com", owner=True)
    # An empty policy lets nobody but the user in.
    assert not Router().may_run(allowed, email="bob@example.com", room_id="R", is_owner=False)


def test_commands_open_to_everyone_can_be_closed_to_all_but_the_allowed() -> None:
    closed = Router(policy=AccessPolicy.of(emails=["bob@example.com"]), open_to_everyone=False)
    public = closed.add(Command("ping", _noop, access="everyone"))
    assert closed.may_run(public, email="bob@example.com", room_id="R", is_owner=False)
    assert closed.may_run(public, email="alice@example.com", room_id="R", is_owner=True)
    assert not closed.may_run(public, email="dave@example.com", room_id="R", is_owner=False)
    assert closed.open_commands(email="dave@example.com", room_id="R", is_owner=False) == []


def test_plugins_load_from_module_names_and_bad_names_are_config_errors() -> None:
    from tokenbot.bot.plugins import load_plugins
    from tokenbot.core.errors import ConfigError

    router = Router()
    assert load_plugins(router, ["tokenbot.bot.plugins.example"]) == [
        "tokenbot.bot.plugins.example"
    ]
    roll = router.find("dice")
    assert roll is not None and roll.name == "roll" and roll.access == "everyone"
    assert router.find("shout") is not None
    with pytest.raises(ConfigError, match="bot.plugins"):
        load_plugins(Router(), ["tokenbot.bot.plugins.nonexistent"])
    with pytest.raises(ConfigError, match="no register"):
        load_plugins(Router(), ["tokenbot.bot.text"])
