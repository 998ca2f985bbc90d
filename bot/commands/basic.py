"""help, ping, echo, whoami."""

from __future__ import annotations

from typing import Any

from tokenbot.bot.args import Arg
from tokenbot.bot.command_context import CommandContext
from tokenbot.bot.markup import Markdown
from tokenbot.bot.replies import MAX_CARD_ACTIONS
from tokenbot.bot.replies import Card
from tokenbot.bot.replies import File
from tokenbot.bot.replies import Replies
from tokenbot.bot.replies import RunCommand
from tokenbot.bot.replies import submit_action
from tokenbot.bot.router import Command
from tokenbot.bot.router import Router

__all__ = ["register"]


def register(router: Router) -> None:
    """Add the basic commands to `router`."""
    router.command(
        "help", aliases=("?",), access="everyone", args=(Arg("command", required=False),)
    )(cmd_help)
    router.command("ping", access="everyone")(cmd_ping)
    router.command("echo", args=(Arg("text", kind="text", required=False),), takes_files=True)(
        cmd_echo
    )
    router.command("whoami", access="everyone")(cmd_whoami)
    # A help button runs its command as if typed (the access check happens again there).
    router.card_callback(HELP_RUN, command="help")(run_from_help)


HELP_RUN = "help.run"
POLLING_NOTE = Markdown(
    "Buttons need webhook or websocket intake: Webex cannot tell a polling bot about "
    "card presses. "
    "Type the commands instead, or {}."
)


def cmd_help(ctx: CommandContext) -> Replies:
    """List the commands (a card with buttons), or explain one: `help <command>`, `help text`."""
    prefix = ctx.prefix
    wanted = ctx.args["command"]
    if wanted and wanted.lower() != "text":
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
    may = allowed_commands(ctx)
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
    if ctx.options.intake == "polling":
        lines.append(POLLING_NOTE.format(prefix + "help text"))
    text = Markdown("\n").join(lines)
    if wanted:
        return text
    return help_cards(ctx, may, text)


def allowed_commands(ctx: CommandContext) -> list[Command]:
    """Return the commands the sender of `ctx` may run, sorted by name."""
    return [
        command
        for command in ctx.router.commands()
        if ctx.router.may_run(
            command,
            email=ctx.message.person_email,
            room_id=ctx.message.room_id,
            is_owner=ctx.is_owner,
        )
    ]


def help_cards(ctx: CommandContext, commands: list[Command], fallback: Markdown) -> list[Card]:
    """Return the help card: one button per command (five at most), the rest in a picker."""
    prefix = ctx.prefix
    name = ctx.identity.display_name or ctx.identity.email
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": name, "weight": "Bolder", "size": "Large", "wrap": True},
        {"type": "TextBlock", "text": "Press a command to run it.", "isSubtle": True},
    ]
    buttons = commands if len(commands) <= MAX_CARD_ACTIONS else commands[: MAX_CARD_ACTIONS - 1]
    actions = [
        submit_action(f"{prefix}{command.name}", HELP_RUN, command=command.name)
        for command in buttons
    ]
    rest = commands[len(buttons) :]
    if rest:
        # Webex allows five actions per card: the others go into one picker and a Run button.
        body.append(
            {
                "type": "Input.ChoiceSet",
                "id": "command",
                "label": "More...",
                "value": rest[0].name,
                "choices": [
                    {"title": f"{prefix}{command.name}: {command.summary}", "value": command.name}
                    for command in rest
                ],
            }
        )
        actions.append(submit_action("Run selected", HELP_RUN))
    if ctx.options.intake == "polling":
        body.append(
            {"type": "TextBlock", "text": POLLING_NOTE.format(prefix + "help text"), "wrap": True}
        )
    content = {
        "type": "AdaptiveCard",
        "version": "1.3",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "body": body,
        "actions": actions,
    }
    return [Card(content=content, fallback=fallback)]


def run_from_help(ctx: CommandContext) -> Replies:
    """Run the command a help button names, as if the presser had typed it."""
    name = ctx.inputs.get("command", "")
    if not name or ctx.router.find(name) is None:
        return None
    return RunCommand(name)


def cmd_ping(ctx: CommandContext) -> str:
    """Answer pong: the bot is alive."""
    return "pong"


def cmd_echo(ctx: CommandContext) -> Replies:
    """Repeat the text back; a file sent with it comes back too (same name and bytes)."""
    text = str(ctx.args["text"] or "")
    # The user's own words may be markdown; anyone else's show as the plain text they are.
    replies: list[Any] = [(Markdown(text) if ctx.is_owner else text)] if text else []
    replies.extend(File(name=received.name, path=received.path) for received in ctx.files)
    if not replies:
        return Markdown("Usage: {} (or attach a file)").format(ctx.command.usage(ctx.prefix))
    return replies


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
