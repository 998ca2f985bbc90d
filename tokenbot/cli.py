"""The `tokenbot` command line: one group, with a module per command group in `commands/`."""

from __future__ import annotations

import logging

import click

from tokenbot.commands.accounts import accounts_group
from tokenbot.commands.admin import admin_group
from tokenbot.commands.api_token import api_token_group
from tokenbot.commands.config import config_group
from tokenbot.commands.db import db_group
from tokenbot.commands.demo import demo_command
from tokenbot.commands.emulator import emulator_command
from tokenbot.commands.keys import keys_group
from tokenbot.commands.serve import serve_command
from tokenbot.core.logs import configure_logging

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
        configure_logging("WARNING")


# Command groups register here, one line each (see tokenbot/commands/).
cli.add_command(accounts_group)
cli.add_command(admin_group)
cli.add_command(api_token_group)
cli.add_command(config_group)
cli.add_command(db_group)
cli.add_command(demo_command)
cli.add_command(emulator_command)
cli.add_command(keys_group)
cli.add_command(serve_command)


def main() -> None:
    """Run the command line (the `tokenbot` console script)."""
    cli()
