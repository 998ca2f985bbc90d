"""help, ping, echo, whoami."""

from __future__ import annotations

from tokenbot.bot.args import Arg
from tokenbot.bot.command_context import CommandContext
from tokenbot.bot.router import Router

__all__ = ["register"]


def register(router: Router) -> None:
    """Add the basic commands to `router`."""
    router.command(
        "help", aliases=("?",), access="everyone", args=(Arg("command", required=False),)
    )(cmd_help)
    router.command("ping", access="everyone")(cmd_ping)
    router.command("echo", args=(Arg("text", kind="text"),))(cmd_echo)
    router.command("whoami", access="everyone")(cmd_whoami)


def cmd_help(ctx: CommandContext) -> str:
    """List the commands, or explain one: `help <command>`."""
    prefix = ctx.prefix
    wanted = ctx.args["command"]
    if wanted:
        command = ctx.router.find(wanted.removeprefix(prefix))
        if command is None:
            return f"No command `{prefix}{wanted}`. Try `{prefix}help`."
        lines = [f"`{command.usage(prefix)}`", "", command.help or "(no help)"]
        if command.aliases:
            lines.append("")
            lines.append("Also: " + ", ".join(f"`{prefix}{alias}`" for alias in command.aliases))
        for arg in command.args:
            if arg.help:
                lines.append(f"- `{arg.name}`: {arg.help}")
        return "\n".join(lines)
    may = [
        command
        for command in ctx.router.commands()
        if ctx.router.may_run(
            command,
            email=ctx.message.person_email,
            room_id=ctx.message.room_id,
            is_owner=ctx.is_owner,
        )
    ]
    lines = ["**Commands**", ""]
    lines.extend(f"- `{command.usage(prefix)}`: {command.summary}" for command in may)
    lines.append("")
    # The rule as the router applies it: the prefix everywhere, 1:1 spaces included (a plain
    # "help" in a private chat with the person is conversation, not a command).
    who = ctx.identity.display_name or "me"
    lines.append(
        f"Start every command with `{prefix}`, in 1:1 spaces too; "
        f"in group spaces a mention of {who} works as well."
    )
    return "\n".join(lines)


def cmd_ping(ctx: CommandContext) -> str:
    """Answer pong: the bot is alive."""
    return "pong"


def cmd_echo(ctx: CommandContext) -> str:
    """Repeat the text back."""
    return str(ctx.args["text"])


def cmd_whoami(ctx: CommandContext) -> str:
    """Tell who you are to the bot, and whom the bot acts as."""
    message = ctx.message
    allowed = ctx.router.may_run(
        ctx.router.find("echo") or ctx.command,
        email=message.person_email,
        room_id=message.room_id,
        is_owner=ctx.is_owner,
    )
    return "\n".join(
        [
            f"You are **{message.person_email}** (`{message.person_id}`).",
            f"I act as **{ctx.identity.email}**.",
            "You may run restricted commands here." if allowed else "Restricted commands: no.",
        ]
    )
