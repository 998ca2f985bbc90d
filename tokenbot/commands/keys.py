"""`tokenbot keys generate|rotate`: encryption keys for the tokens at rest."""

from __future__ import annotations

from pathlib import Path

import click

from tokenbot.command_runtime import config_option
from tokenbot.command_runtime import runtime_for
from tokenbot.core.crypto import TokenCipher


@click.group("keys")
def keys_group() -> None:
    """Create and rotate the keys in TOKENBOT_ENCRYPTION_KEYS.

    \b
    Rotation, with no downtime:
      1. tokenbot keys generate               -> prints a new "kid:key" entry
      2. put it FIRST in TOKENBOT_ENCRYPTION_KEYS, keep the old entries after it
      3. restart tokenbot, then: tokenbot keys rotate
      4. remove the old entries from TOKENBOT_ENCRYPTION_KEYS and restart again
    """


@keys_group.command("generate")
@click.option("--key-id", default=None, help="Name of the new key (default: random).")
def generate_command(key_id: str | None) -> None:
    """Print a new random key entry for TOKENBOT_ENCRYPTION_KEYS (store it as a secret)."""
    click.echo(TokenCipher.generate_key_spec(key_id))


@keys_group.command("rotate")
@config_option
def rotate_command(config_path: Path | None) -> None:
    """Re-encrypt every stored token and pending login under the first (primary) key."""
    with runtime_for(config_path) as runtime:
        changed = runtime.store.rotate_keys()
        primary = runtime.cipher.primary_key_id
    click.echo(f"re-encrypted {changed} value(s) under key {primary!r}")
    click.echo("old keys can now be removed from TOKENBOT_ENCRYPTION_KEYS")
