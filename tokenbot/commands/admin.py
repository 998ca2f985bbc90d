"""`tokenbot admin create|set-password USER`: the people who may log in to the panel."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tokenbot.command_runtime import config_option
from tokenbot.command_runtime import fail
from tokenbot.command_runtime import runtime_for
from tokenbot.core.admins import AdminStore
from tokenbot.core.errors import TokenbotError


@click.group("admin")
def admin_group() -> None:
    """Create panel admins and change their passwords."""


def _password(from_stdin: bool) -> str:
    if from_stdin:
        # One line: a trailing newline from `echo` or a file is not part of the password.
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt(
        "Password (at least 8 characters; 15 or more recommended)",
        hide_input=True,
        confirmation_prompt=True,
    )
    return value


@admin_group.command("create")
@config_option
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of prompting.",
)
def create_command(config_path: Path | None, username: str, password_stdin: bool) -> None:
    """Create the panel admin USERNAME (password hashed with argon2id)."""
    password = _password(password_stdin)
    with runtime_for(config_path) as runtime:
        try:
            AdminStore(runtime.database, clock=runtime.clock).create_admin(username, password)
        except TokenbotError as exc:
            fail(exc)
    click.echo(f"admin {username.strip().lower()!r} created; log in at the panel")


@admin_group.command("set-password")
@config_option
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password_command(config_path: Path | None, username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password and end all of their sessions."""
    password = _password(password_stdin)
    with runtime_for(config_path) as runtime:
        try:
            AdminStore(runtime.database, clock=runtime.clock).set_password(username, password)
        except TokenbotError as exc:
            fail(exc)
    click.echo(f"password of {username.strip().lower()!r} changed; their sessions were ended")
