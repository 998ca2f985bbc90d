"""Migrations build the models' schema on both backends; the models keep time in UTC."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from tokenbot.core.db import Database
from tokenbot.core.db import alembic_config
from tokenbot.core.db import upgrade
from tokenbot.core.models import Account
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import UTCDateTime
from tokenbot.core.models import schema_metadata

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _schema_diff(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, schema_metadata()))


def _account(person_id: str, *, bot: bool = False) -> Account:
    return Account(
        person_id=person_id,
        email=f"{person_id}@example.com",
        display_name=person_id,
        scopes="spark:all",
        status=AccountStatus.ACTIVE,
        is_bot_identity=bot,
        created_at=NOW,
        updated_at=NOW,
    )


def test_upgrade_builds_exactly_the_models_schema(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)  # idempotent
    db = Database(database_url)
    try:
        assert _schema_diff(db) == []
        with db.read() as session:
            head = session.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
            assert list(head) == [ScriptDirectory.from_config(alembic_config()).get_current_head()]
        inspector = sa.inspect(db.engine)
        assert {"accounts", "token_events", "oauth_logins"} <= set(inspector.get_table_names())
        # The comparison is not vacuous: a missing index shows up as a difference.
        with db.write() as session:
            session.execute(sa.text("DROP INDEX ix_accounts_next_refresh_at"))
        assert any("ix_accounts_next_refresh_at" in repr(diff) for diff in _schema_diff(db))
    finally:
        db.dispose()


def test_upgrade_creates_the_sqlite_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'lib' / 'tokenbot.sqlite3'}"
    upgrade(url)
    assert (tmp_path / "var" / "lib" / "tokenbot.sqlite3").is_file()


def test_at_most_one_bot_identity_is_enforced_by_the_schema(database_url: str) -> None:
    upgrade(database_url)
    db = Database(database_url)
    try:
        with db.write() as session:
            session.add_all([_account("a", bot=True), _account("b"), _account("c")])
        with pytest.raises(sa.exc.IntegrityError), db.write() as session:
            session.add(_account("d", bot=True))
    finally:
        db.dispose()


def test_times_go_in_aware_and_come_back_aware_utc(database_url: str) -> None:
    upgrade(database_url)
    db = Database(database_url)
    try:
        plus_two = timezone(timedelta(hours=2))
        with db.write() as session:
            account = _account("tz")
            account.next_refresh_at = datetime(2026, 3, 1, 14, 0, tzinfo=plus_two)
            session.add(account)
        with db.read() as session:
            stored = session.execute(
                sa.select(Account.next_refresh_at).where(Account.person_id == "tz")
            ).scalar_one()
        assert stored == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        assert stored is not None and stored.utcoffset() == timedelta(0)
    finally:
        db.dispose()


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(
            datetime(2026, 1, 1), sa.create_engine("sqlite://").dialect
        )


def test_api_tokens_made_before_scopes_keep_reading_status_only(database_url: str) -> None:
    from alembic import command

    from tokenbot.core.api_tokens import ApiTokenStore
    from tokenbot.core.clock import FrozenClock
    from tokenbot.core.hashing import sha256_hex

    db = Database(database_url)
    try:
        with db.engine.begin() as connection:
            config = alembic_config(connection)
            command.upgrade(config, "0003")
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO api_tokens (name, token_hash, created_at) "
                    "VALUES ('grafana', :hash, :at)"
                ),
                {"hash": sha256_hex("tbt_old-token"), "at": NOW.replace(tzinfo=None)},
            )
        upgrade(database_url)
        client = ApiTokenStore(db, clock=FrozenClock()).authenticate("tbt_old-token")
        assert client is not None
        assert client.scopes == ("status:read",) and client.accounts == ()
        assert client.expires_at is None
    finally:
        db.dispose()
