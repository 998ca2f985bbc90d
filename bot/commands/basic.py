"""help, ping, echo, whoami."""

from __future__ import annotations

from tokenbot.bot.args import Arg
from tokenbot.bot.command_context import CommandContext
from tokenbot.bot.markup import Markdown
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


def cmd_help(ctx: CommandContext) -> Markdown:
    """List the commands, or explain one: `help <command>`."""
    prefix = ctx.prefix
    wanted = ctx.args["command"]
    if wanted:
        command = ctx.router.find(wanted.removeprefix(prefix))
        if command is None:
            return Markdown("No command {}. Try {}.").format(prefix + wanted, prefix + "help")
        # Help texts are ours (the commands' docstrings): markdown as written.
        lines = [
            Markdown("{}").format(command.usage(prefix)),
            Markdown(""),
            Markdown(command.help or "(no help)"),
        ]
        if command.aliases:
            lines.append(Markdown(""))
            aliases = Markdown(", ").join(prefix + alias for alias in command.aliases)
            lines.append(Markdown("Also: ") + aliases)
        for arg in command.args:
            if arg.help:
                lines.append(Markdown("- {}: ").format(arg.name) + Markdown(arg.help))
        return Markdown("\n").join(lines)
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
    lines = [Markdown("**Commands**"), Markdown("")]
    lines.extend(
        Markdown("- {}: ").format(command.usage(prefix)) + Markdown(command.summary)
        for command in may
    )
    lines.append(Markdown(""))
    # The rule as the router applies it: the prefix everywhere, 1:1 spaces included (a plain
    # "help" in a private chat with the person is conversation, not a command).
    lines.append(
        Markdown(
            "Start every command with {}, in 1:1 spaces too; "
            "in group spaces a mention of {} works as well."
        ).format(prefix, ctx.identity.display_name or "me")
    )
    return Markdown("\n").join(lines)


def cmd_ping(ctx: CommandContext) -> str:
    """Answer pong: the bot is alive."""
    return "pong"


def cmd_echo(ctx: CommandContext) -> str:
    """Repeat the text back."""
    text = str(ctx.args["text"])
    # The user's own words may be markdown; anyone else's show as the plain text they are.
    return Markdown(text) if ctx.is_owner else text


def cmd_whoami(ctx: CommandContext) -> Markdown:
    """Tell who you are to the bot, and whom the bot acts as."""
    message = ctx.message
    allowed = ctx.router.may_run(
        ctx.router.find("echo") or ctx.command,
        email=message.person_email,
        room_id=message.room_id,
        is_owner=ctx.is_owner,
    )
    return Markdown("\n").join(
        [
            Markdown("You are {} ({}).").format(message.person_email, message.person_id),
            Markdown("I act as {}.").format(ctx.identity.email),
            Markdown(
                "You may run restricted commands here." if allowed else "Restricted commands: no."
            ),
        ]
    )
