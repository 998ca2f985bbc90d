"""`tokenbot admin create|set-password` and `tokenbot api-token create|list|revoke`."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tokenbot.cli import cli
from tokenbot.core.admins import AdminStore
from tokenbot.core.clock import SystemClock
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.db import Database


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'tb.sqlite3'}\n", encoding="utf-8")
    return {
        "TOKENBOT_CONFIG": str(config),
        "WEBEX_CLIENT_ID": "C" + secrets.token_hex(16),
        "WEBEX_CLIENT_SECRET": secrets.token_hex(32),
        "TOKENBOT_SECRET_KEY": secrets.token_urlsafe(48),
        "TOKENBOT_ENCRYPTION_KEYS": TokenCipher.generate_key_spec("k1"),
    }


@pytest.fixture
def database(env: dict[str, str], tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'tb.sqlite3'}")


def _run(env: dict[str, str], *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, input=input)
    return result.exit_code, result.stdout, result.stderr


def _login(database: Database, username: str, password: str) -> bool:
    store = AdminStore(database, clock=SystemClock())
    return store.authenticate(username, password, client_ip="cli-test").admin is not None


def test_admin_create_from_stdin(env: dict[str, str], database: Database) -> None:
    code, out, _ = _run(
        env, "admin", "create", "Alice", "--password-stdin", input="a long passphrase\n"
    )
    assert code == 0 and "admin 'alice' created" in out
    assert "a long passphrase" not in out
    assert _login(database, "alice", "a long passphrase")
    with database.read() as session:
        stored = session.execute(sa.text("SELECT password_hash FROM admin_users")).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    database.dispose()


def test_admin_create_prompts_twice(env: dict[str, str], database: Database) -> None:
    code, out, _ = _run(env, "admin", "create", "bob", input="hunter2hunter2\nhunter2hunter2\n")
    assert code == 0, out
    assert _login(database, "bob", "hunter2hunter2")
    database.dispose()


def test_admin_create_refuses_short_passwords_and_duplicates(
    env: dict[str, str], database: Database
) -> None:
    code, _, err = _run(env, "admin", "create", "carol", "--password-stdin", input="short\n")
    assert code == 1 and "shorter than 8 characters" in err and "short\n" not in err
    assert (
        _run(env, "admin", "create", "carol", "--password-stdin", input="long enough 1\n")[0] == 0
    )
    code, _, err = _run(env, "admin", "create", "CAROL", "--password-stdin", input="other one 2\n")
    assert code == 1 and "already exists" in err
    code, _, _ = _run(
        env, "admin", "set-password", "carol", "--password-stdin", input="brand new 3\n"
    )
    assert code == 0
    assert _login(database, "carol", "brand new 3") and not _login(
        database, "carol", "long enough 1"
    )
    database.dispose()


def test_api_token_lifecycle(env: dict[str, str], database: Database) -> None:
    code, out, err = _run(env, "api-token", "create", "grafana")
    token = out.strip()
    assert code == 0 and token.startswith("tbt_") and "shown once" in err
    store = AdminStore(database, clock=SystemClock())
    assert store.verify_api_token(token) == "grafana"
    assert _run(env, "api-token", "create", "grafana")[0] == 1
    assert _run(env, "api-token", "list")[1].splitlines()[1].split()[0] == "grafana"
    assert _run(env, "api-token", "revoke", "grafana")[0] == 0
    assert store.verify_api_token(token) is None
    assert _run(env, "api-token", "revoke", "grafana")[0] == 1
    database.dispose()


def test_api_token_list_shows_when_each_token_was_last_used(
    env: dict[str, str], database: Database
) -> None:
    used = _run(env, "api-token", "create", "grafana")[1].strip()
    assert _run(env, "api-token", "create", "unused")[0] == 0
    assert AdminStore(database, clock=SystemClock()).verify_api_token(used) == "grafana"
    code, out, _ = _run(env, "api-token", "list")
    header, grafana, unused = out.splitlines()
    assert code == 0 and header.split()[:3] == ["NAME", "CREATED", "LAST"]
    assert grafana.startswith("grafana ") and grafana.count(" UTC") == 2  # created, last used
    assert unused.startswith("unused ") and unused.count(" UTC") == 1
    assert unused.split()[4:] == ["never", "never", "status:read", "-"]  # used, expires, ...
    assert used not in out
    database.dispose()


def test_api_token_create_with_scopes_accounts_and_expiry(
    env: dict[str, str], database: Database
) -> None:
    code, out, err = _run(
        env, "api-token", "create", "agent", "--scope", "tokens:read", "--account", "all",
        "--webex-scope", "spark:messages_write", "--expires", "30d",
    )  # fmt: skip
    token = out.strip()
    assert code == 0 and token.startswith("tbt_"), err
    client = AdminStore(database, clock=SystemClock()).authenticate_api_token(token)
    assert client is not None and client.scopes == ("tokens:read",) and client.accounts is None
    assert client.webex_scopes == ("spark:messages_write",) and client.expires_at is not None
    code, out, _ = _run(env, "api-token", "list")
    header, agent = out.splitlines()
    assert header.split()[-2:] == ["SCOPES", "ACCOUNTS"]
    assert agent.count(" UTC") == 3  # created, last used (just above), expires
    assert "tokens:read" in agent and "all (while granted spark:messages_write)" in agent
    database.dispose()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--scope", "tokens:read"], "needs the accounts it may read"),
        (["--account", "all"], "only apply to a token with the tokens:read scope"),
        (["--scope", "tokens:read", "--account", "7"], "there is no account 7"),
        (["--scope", "tokens:read", "--account", "x"], "is not an account id"),
        (["--scope", "tokens:read", "--account", "all", "--expires", "soon"], "is not a span"),
        (["--scope", "admin"], "'admin' is not one of"),
    ],
)
def test_api_token_create_refuses_a_bad_grant(
    env: dict[str, str], args: list[str], expected: str
) -> None:
    code, _, err = _run(env, "api-token", "create", "agent", *args)
    assert code != 0 and expected in err, err
