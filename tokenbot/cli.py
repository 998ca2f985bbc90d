"""The `tokenbot` command line: one group, with a module per command group in `commands/`.

Command modules are imported only when their command runs (click's documented lazy-group
pattern): `tokenbot --version`, `--help` listings and shell completion of command names stay
fast because none of them loads SQLAlchemy, Flask or the Webex SDK.

Exit status: 0 done; 1 the command ran and failed (bad settings, an unreachable database, a
port in use, ...); 2 the command line itself was wrong (click's usage errors) and nothing ran.
"""

from __future__ import annotations

import importlib
import logging

import click
from click.shell_completion import CompletionItem

__all__ = ["cli", "main"]

# name -> (module:attribute, one-line help). The help is repeated here so listings and
# completion need no import; tests/tokenbot/test_cli_fast.py checks it matches each command.
COMMANDS: dict[str, tuple[str, str]] = {
    "accounts": (
        "tokenbot.commands.accounts:accounts_group",
        "List, refresh and disconnect connected Webex accounts.",
    ),
    "admin": (
        "tokenbot.commands.admin:admin_group",
        "Create panel admins and change their passwords.",
    ),
    "api-token": (
        "tokenbot.commands.api_token:api_token_group",
        "Create, list and revoke tokens for /api/v1 (status by default; tokens:read on request).",
    ),
    "config": (
        "tokenbot.commands.config:config_group",
        "Inspect tokenbot's configuration (config.yaml, then the environment) and its schema.",
    ),
    "db": (
        "tokenbot.commands.db:db_group",
        "Manage the token database (SQLite file or PostgreSQL).",
    ),
    "demo": (
        "tokenbot.commands.demo:demo_command",
        "Run tokenbot and a sandbox Webex on 127.0.0.1, with a one-time admin password.",
    ),
    "emulator": (
        "tokenbot.commands.emulator:emulator_command",
        "Run the Webex emulator (OAuth, REST, webhooks, sandbox chat) in the foreground.",
    ),
    "keys": (
        "tokenbot.commands.keys:keys_group",
        "Create and rotate the keys in TOKENBOT_ENCRYPTION_KEYS.",
    ),
    "notify": (
        "tokenbot.commands.notify:notify_group",
        "Lifecycle notifications: signing secret, test event, delivery log.",
    ),
    "serve": (
        "tokenbot.commands.serve:serve_command",
        "Run tokenbot in production: migrations, then the panel, the refresher and the bot.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when first used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, _, attribute = entry[0].partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry[0]} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        # Completing a command name: answer from the table, importing nothing.
        names = [
            CompletionItem(name, help=help_text)
            for name, (_, help_text) in sorted(COMMANDS.items())
            if name.startswith(incomplete)
        ]
        options = [
            item
            for item in click.Command.shell_complete(self, ctx, incomplete)
            if item.value.startswith("-")
        ]
        return names + options


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="webex-tokenbot")
def cli() -> None:
    """Run a Webex bot on a real user's identity.

    Connect a Webex account once in the admin panel; tokenbot keeps its tokens
    encrypted and fresh, and the bot answers chat commands with them.
    """
    # Every command logs through the redacting handler; serve and demo set logging.level once
    # the settings are read. A host that already configured logging (a test runner, an
    # embedding program) keeps its own.
    if not logging.getLogger().handlers:
        from tokenbot.core.logs import configure_logging

        configure_logging("WARNING")


def main() -> None:
    """Run the command line (the `tokenbot` console script)."""
    cli()
