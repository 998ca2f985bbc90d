"""`tokenbot db current | history | check` beside `upgrade`: read-only views of the schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.test_cli_config import UNSET
from tokenbot.cli import cli
from tokenbot.core.db import Database
from tokenbot.core.db import alembic_config
from tokenbot.core.db import schema_status


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("database:\n  url: sqlite:///tb.sqlite3\n", encoding="utf-8")
    return path


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["db", *args, "--config", str(config)], env=UNSET)
    return result.exit_code, result.output


def _database(config: Path) -> Path:
    return config.parent.resolve() / "tb.sqlite3"


def test_an_empty_database_is_empty_and_fails_the_check(config: Path) -> None:
    head = schema_status(f"sqlite:///{_database(config)}").head
    code, out = _run(config, "current")
    assert code == 0 and "is empty: no migration applied" in out
    code, out = _run(config, "check")
    assert code == 1 and "run `tokenbot db upgrade`" in out
    code, out = _run(config, "history")
    lines = out.strip().splitlines()
    assert lines[0].startswith("0001  pending") and lines[-1].startswith(f"{head}  pending")


def test_after_upgrade_everything_is_applied_and_the_check_passes(config: Path) -> None:
    assert _run(config, "upgrade")[0] == 0
    status = schema_status(f"sqlite:///{_database(config)}")
    assert status.up_to_date and status.pending == ()
    code, out = _run(config, "current")
    assert code == 0 and f"is at {status.head} (the newest)" in out
    assert _run(config, "check")[0] == 0
    lines = _run(config, "history")[1].strip().splitlines()
    assert all("  applied " in line for line in lines)
    assert lines[-1].endswith("<- current") and len(lines) == len(status.migrations)


def test_a_database_behind_lists_what_is_pending(config: Path) -> None:
    from alembic import command

    database = Database(f"sqlite:///{_database(config)}")
    try:
        with database.engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0003")
    finally:
        database.dispose()
    code, out = _run(config, "current")
    assert code == 0 and "is at 0003;" in out and "pending (0004, " in out
    code, out = _run(config, "check")
    assert code == 1 and "is at 0003;" in out


def test_a_revision_from_a_newer_tokenbot_is_named(config: Path) -> None:
    assert _run(config, "upgrade")[0] == 0
    with sqlite3.connect(_database(config)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    code, out = _run(config, "check")
    assert code == 1 and "9999, a revision this tokenbot does not ship" in out
    assert "db upgrade" not in out  # upgrading cannot help: a newer version migrated it
