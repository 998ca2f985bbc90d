"""`tokenbot db|keys|accounts` against a real SQLite file and the emulator."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import connect_minted
from tokenbot.cli import cli
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.runtime import build_runtime

SCOPES = ["spark:people_read", "spark:messages_read"]


@pytest.fixture
def env(emulator: EmulatorHandle, tmp_path: Path) -> dict[str, str]:
    client_id, client_secret = emulator.register_integration(
        ["http://127.0.0.1:2000/oauth/callback"]
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        f"webex:\n  api_base_url: {emulator.api_url}\n  scopes: [{', '.join(SCOPES)}]\n"
        f"database:\n  url: sqlite:///{tmp_path / 'tb.sqlite3'}\n",
        encoding="utf-8",
    )
    return {
        "TOKENBOT_CONFIG": str(config),
        "WEBEX_CLIENT_ID": client_id,
        "WEBEX_CLIENT_SECRET": client_secret,
        "TOKENBOT_SECRET_KEY": secrets.token_urlsafe(48),
        "TOKENBOT_ENCRYPTION_KEYS": TokenCipher.generate_key_spec("old"),
    }


def _run(env: dict[str, str], *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, input=input)
    return result.exit_code, result.stdout, result.stderr


def _connect(emulator: EmulatorHandle, env: dict[str, str], email: str) -> int:
    from tokenbot.core.config import load_settings

    runtime = build_runtime(load_settings(env["TOKENBOT_CONFIG"], env=env))
    try:
        return connect_minted(
            runtime.store,
            runtime.oauth,
            emulator,
            env["WEBEX_CLIENT_ID"],
            email,
            SCOPES,
            sent_at=runtime.clock.now(),
        ).id
    finally:
        runtime.close()


def test_db_upgrade_creates_the_schema_and_is_idempotent(
    env: dict[str, str], tmp_path: Path
) -> None:
    for _ in range(2):
        code, out, err = _run(env, "db", "upgrade")
        assert code == 0, err
        assert "up to date" in out
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'tb.sqlite3'}")
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"accounts", "token_events", "oauth_logins", "alembic_version"} <= tables


def test_accounts_list_refresh_disconnect(emulator: EmulatorHandle, env: dict[str, str]) -> None:
    code, out, _ = _run(env, "accounts", "list")
    assert code == 0 and "no accounts connected yet" in out

    account_id = _connect(emulator, env, "bob@example.com")
    code, out, _ = _run(env, "accounts", "list")
    assert code == 0
    assert "bob@example.com" in out and "healthy" in out

    code, out, err = _run(env, "accounts", "refresh", str(account_id))
    assert code == 0, err
    assert "refreshed" in out
    refreshes = [
        c for c in emulator.calls("/v1/access_token") if c.get("grant_type") == "refresh_token"
    ]
    assert len(refreshes) == 1

    code, out, _ = _run(env, "accounts", "disconnect", str(account_id), "--yes")
    assert code == 0 and "disconnected" in out
    code, out, _ = _run(env, "accounts", "list")
    assert "disconnected" in out


def test_accounts_refresh_of_unknown_account_is_one_line(env: dict[str, str]) -> None:
    code, _, err = _run(env, "accounts", "refresh", "999")
    assert code == 1
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_keys_rotate_moves_every_token_to_the_new_key(
    emulator: EmulatorHandle, env: dict[str, str], tmp_path: Path
) -> None:
    _connect(emulator, env, "alice@example.com")
    code, new_key, _ = _run(env, "keys", "generate", "--key-id", "new")
    assert code == 0 and new_key.startswith("new:")
    rotated_env = {
        **env,
        "TOKENBOT_ENCRYPTION_KEYS": f"{new_key.strip()},{env['TOKENBOT_ENCRYPTION_KEYS']}",
    }
    code, out, err = _run(rotated_env, "keys", "rotate")
    assert code == 0, err
    assert "re-encrypted 2 value(s) under key 'new'" in out

    # With the old key gone, everything still reads.
    only_new = {**env, "TOKENBOT_ENCRYPTION_KEYS": new_key.strip()}
    code, out, err = _run(only_new, "accounts", "refresh", "1")
    assert code == 0, err


def test_missing_secret_is_one_line_naming_the_key(env: dict[str, str]) -> None:
    broken = {**env, "TOKENBOT_ENCRYPTION_KEYS": ""}
    code, _, err = _run(broken, "accounts", "list")
    assert code == 1
    assert "TOKENBOT_ENCRYPTION_KEYS" in err
    assert len(err.strip().splitlines()) == 1


def test_a_wrong_or_missing_encryption_key_is_one_line_naming_the_key_id(
    emulator: EmulatorHandle, env: dict[str, str]
) -> None:
    """The service refuses to start (tests/tokenbot/test_serve.py); a command that needs the
    token says why in one line, while listing and repairs still work."""
    _connect(emulator, env, "carol@example.com")
    other_key_same_id = TokenCipher.generate_key_spec("old")
    for keys, expected in [
        (other_key_same_id, "key id 'old' failed authentication"),
        (TokenCipher.generate_key_spec("new"), "key id 'old', which is missing"),
    ]:
        broken = {**env, "TOKENBOT_ENCRYPTION_KEYS": keys}
        code, out, _ = _run(broken, "accounts", "list")
        assert code == 0 and "carol@example.com" in out
        code, _, err = _run(broken, "accounts", "refresh", "1")
        assert code == 1, err
        assert expected in err and len(err.strip().splitlines()) == 1, err
        assert keys.split(":", 1)[1] not in err  # the key itself is never shown


def test_disconnecting_an_unknown_account_says_so_before_asking(env: dict[str, str]) -> None:
    # No --yes and no answer on stdin: a confirmation prompt would abort instead.
    code, out, err = _run(env, "accounts", "disconnect", "99")
    assert code == 1
    assert err.strip() == "error: account 99 does not exist; `tokenbot accounts list` shows the ids"
    assert "Wipe" not in out


def test_disconnect_names_the_account_it_asks_about(
    emulator: EmulatorHandle, env: dict[str, str]
) -> None:
    _connect(emulator, env, "dave@example.com")
    result = CliRunner().invoke(cli, ["accounts", "disconnect", "1"], env=env, input="n\n")
    assert result.exit_code == 1  # aborted by the answer
    assert "account 1 (dave@example.com)" in result.output
    code, out, _ = _run(env, "accounts", "list")
    assert "dave@example.com" in out and "disconnected" not in out
