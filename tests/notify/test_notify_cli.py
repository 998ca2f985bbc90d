"""`tokenbot notify secret|test|log` against a real SQLite file and a receiver on loopback."""

from __future__ import annotations

import secrets
from pathlib import Path

from click.testing import CliRunner

from tests.notify.receiver import Receiver
from tokenbot.cli import cli
from tokenbot.core.config import notify_secret_key
from tokenbot.core.crypto import TokenCipher


def _env(tmp_path: Path, url: str, secret: str) -> dict[str, str]:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database:\n  url: sqlite:///{tmp_path / 'tb.sqlite3'}\n"
        f"notify:\n  webhooks:\n    - url: '{url}'\n  timeout_seconds: 2\n",
        encoding="utf-8",
    )
    return {
        "TOKENBOT_CONFIG": str(config),
        "WEBEX_CLIENT_ID": "cid",
        "WEBEX_CLIENT_SECRET": "csecret",
        "TOKENBOT_SECRET_KEY": secrets.token_urlsafe(48),
        "TOKENBOT_ENCRYPTION_KEYS": TokenCipher.generate_key_spec("k"),
        "TOKENBOT_NOTIFY_SECRET": secret,
    }


def test_secret_prints_a_whsec_value() -> None:
    result = CliRunner().invoke(cli, ["notify", "secret"])
    assert result.exit_code == 0
    assert len(notify_secret_key(result.stdout.strip())) == 32


def test_test_sends_a_signed_event_and_log_shows_it(
    tmp_path: Path, receiver: Receiver, notify_secret: str
) -> None:
    env = _env(tmp_path, receiver.url, notify_secret)
    result = CliRunner().invoke(cli, ["notify", "test"], env=env)
    assert result.exit_code == 0, result.output
    assert "sent" in result.stdout and "s3cr3t" not in result.output
    assert receiver.types() == ["notify.test"] and receiver.bad == []
    shown = CliRunner().invoke(cli, ["notify", "log"], env=env)
    assert shown.exit_code == 0 and "notify.test" in shown.stdout


def test_test_says_when_the_receiver_refuses(
    tmp_path: Path, receiver: Receiver, notify_secret: str
) -> None:
    receiver.up = False
    result = CliRunner().invoke(
        cli, ["notify", "test"], env=_env(tmp_path, receiver.url, notify_secret)
    )
    assert result.exit_code == 1
    assert "HTTP 503" in result.stdout and "did not accept" in result.stderr
