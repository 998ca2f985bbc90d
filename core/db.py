"""Engines and transactions for SQLite and PostgreSQL, and migrating a database to head.

SQLite gets WAL, `synchronous=FULL` and a long busy timeout on every connection, and the
documented SQLAlchemy recipe that takes transaction control away from pysqlite: we emit
`BEGIN` for reads and `BEGIN IMMEDIATE` for writes ourselves, because a deferred transaction
that reads and then writes fails at once with "database is locked", whatever the timeout
(docs/requirements.md R-15, F-10). PostgreSQL runs the same code; writers there rely on
conditional UPDATEs and `SELECT ... FOR UPDATE` instead.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

__all__ = ["Database", "Migration", "SchemaStatus", "alembic_config", "schema_status", "upgrade"]

# Execution option that tells the `begin` hook which BEGIN a SQLite transaction needs.
log = logging.getLogger(__name__)
_BEGIN_OPTION = "tokenbot_sqlite_begin"
_MIGRATIONS = "tokenbot.core:migrations"
# Any constant works; it only has to be the same in every process of one deployment.
_MIGRATION_LOCK = 0x746F6B656E626F74  # "tokenbot"


class Database:
    """One database: an engine plus read and write transactions as context managers.

    Args:
        url: A SQLAlchemy URL, `sqlite:///path/to/file.sqlite3` or
            `postgresql+psycopg://user@host/db`.
        busy_timeout_seconds: How long a SQLite writer waits for the lock (at least 15 s
            recommended; R-15).
        echo: Log every SQL statement (debugging only).
    """

    def __init__(self, url: str, *, busy_timeout_seconds: float = 15.0, echo: bool = False) -> None:
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.busy_timeout_seconds = busy_timeout_seconds
        if self.is_sqlite:
            _ensure_sqlite_folder(parsed.database)
            self.engine: Engine = sa.create_engine(
                parsed,
                echo=echo,
                connect_args={"timeout": busy_timeout_seconds, "check_same_thread": False},
            )
            _install_sqlite_hooks(self.engine, busy_ms=int(busy_timeout_seconds * 1000))
            self._write_engine: Engine = self.engine.execution_options(
                **{_BEGIN_OPTION: "BEGIN IMMEDIATE"}
            )
            # Bookkeeping (see `write(durable=False)`) on connections of its own, whose commits
            # are not flushed to disk one by one.
            self._bookkeeping_engine: Engine = sa.create_engine(
                parsed,
                echo=echo,
                connect_args={"timeout": busy_timeout_seconds, "check_same_thread": False},
            )
            _install_sqlite_hooks(
                self._bookkeeping_engine,
                busy_ms=int(busy_timeout_seconds * 1000),
                synchronous="NORMAL",
            )
            self._bookkeeping_engine = self._bookkeeping_engine.execution_options(
                **{_BEGIN_OPTION: "BEGIN IMMEDIATE"}
            )
            # SQLite has one writer at a time. Writers of this process queue here, woken the
            # moment the lock is free, instead of in SQLite's busy handler, which polls with
            # growing sleeps (up to 100 ms) and left the write lock idle most of the time
            # under load (refresher at 8 workers: 57 % of its time in BEGIN IMMEDIATE).
            # Other processes still meet the busy timeout; durability is unchanged.
            self._writers: threading.RLock | None = threading.RLock()
        else:
            self.engine = sa.create_engine(parsed, echo=echo, pool_pre_ping=True)
            self._write_engine = self.engine
            self._bookkeeping_engine = self.engine
            self._writers = None  # row locks: PostgreSQL writers do not exclude each other

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Open a plain transaction; commit when the block ends, roll back on error."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Session]:
        """Open a read-then-write transaction (`BEGIN IMMEDIATE` on SQLite).

        On SQLite the write lock is taken at the start, so a writer that finds the database
        busy waits up to the busy timeout instead of failing half-way. On PostgreSQL this is an
        ordinary transaction: callers lock rows or use conditional UPDATEs.

        Args:
            durable: True (always, for token material): the commit is on disk when this
                returns (SQLite `synchronous=FULL`, R-15; PostgreSQL `synchronous_commit`).
                False, for the bot's bookkeeping only (message claims, own posts, cursors,
                counters): the commit is atomic and survives a crash of the process, but the
                last ones may be lost if the machine loses power (SQLite `synchronous=NORMAL`
                in WAL; PostgreSQL `synchronous_commit = off`). Three flushes per chat command
                were the bot's largest cost.
        """
        writers = self._writers
        # Past the busy timeout, go on to BEGIN IMMEDIATE anyway: SQLite then fails the
        # transaction as it did before (never a wait without end).
        queued = writers is not None and writers.acquire(timeout=self.busy_timeout_seconds)
        engine = self._write_engine if durable else self._bookkeeping_engine
        try:
            with Session(engine, expire_on_commit=False) as session, session.begin():
                if not durable and not self.is_sqlite:
                    session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
                yield session
        finally:
            if queued:
                assert writers is not None
                writers.release()

    def ping(self) -> None:
        """Run ``SELECT 1``: return when the database answers, raise what the driver raised."""
        with self.read() as session:
            session.execute(sa.text("SELECT 1"))

    def checkpoint(self) -> bool:
        """Move SQLite's WAL into the main file and truncate it; return whether it completed.

        Called after token material is replaced or wiped (key rotation, disconnect): until the
        WAL is checkpointed the main file still holds the old pages, and the WAL the new ones
        next to older frames. With `secure_delete` the freed space is zeroed as the pages are
        written back. A reader still in a transaction can hold the checkpoint back (then False,
        and SQLite's automatic checkpoints finish the job later). PostgreSQL: nothing to do
        here; its dead rows stay in the table files until VACUUM (see README).
        """
        if not self.is_sqlite:
            return True
        # The raw connection: SQLAlchemy would open a transaction first (our BEGIN hook), and
        # a checkpoint from inside a read transaction cannot finish.
        raw = self._write_engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                row = cursor.fetchone()
            finally:
                cursor.close()
        finally:
            raw.close()
        busy = bool(row[0]) if row is not None else True
        if busy:
            log.warning("the WAL checkpoint was held back by a reader; SQLite retries it later")
        return not busy

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self._bookkeeping_engine is not self.engine:
            self._bookkeeping_engine.dispose()


def upgrade(url: str) -> None:
    """Migrate the database at `url` to the newest schema; a no-op when already there.

    The migration scripts ship inside the package (core/migrations), so an installed wheel
    can migrate without an alembic.ini. Several processes may start at once (two instances,
    `serve` and `db upgrade`): the whole migration runs under a database-wide lock taken
    before Alembic reads the current version, so the second one waits and then finds nothing
    to do instead of creating the same tables twice.
    """
    from alembic import command

    database = Database(url)
    try:
        with database.engine.connect() as connection:
            if database.is_sqlite:
                # The transaction Alembic starts takes SQLite's write lock first.
                connection.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
            else:
                # Held until this transaction (the migration) commits or rolls back.
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            config = alembic_config(connection)
            command.upgrade(config, "head")
            connection.commit()
    finally:
        database.dispose()


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration script: its revision id and the first line of its docstring."""

    revision: str
    title: str


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a database's schema stands against the migrations this tokenbot ships.

    `current` is the revision recorded in the database (None: never migrated); `migrations`
    lists every shipped migration, oldest first; `pending` those not applied yet. `unknown`
    is true when the database records a revision this code does not ship (a newer tokenbot
    migrated it).
    """

    current: str | None
    head: str
    migrations: tuple[Migration, ...]
    pending: tuple[Migration, ...]
    unknown: bool

    @property
    def up_to_date(self) -> bool:
        """Tell whether the database is at the newest shipped revision."""
        return self.current == self.head


def schema_status(url: str) -> SchemaStatus:
    """Read the database's schema revision and compare it with the shipped migrations.

    Read-only: it takes no lock and changes nothing (`upgrade` does the changing).
    """
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    ordered = list(reversed(list(scripts.walk_revisions())))
    migrations = tuple(
        Migration(script.revision, (script.doc or "").strip().splitlines()[0] if script.doc else "")
        for script in ordered
    )
    head = scripts.get_current_head() or ""
    database = Database(url)
    try:
        with database.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    finally:
        database.dispose()
    known = [m.revision for m in migrations]
    unknown = current is not None and current not in known
    applied = known.index(current) + 1 if current in known else 0
    pending = () if unknown else migrations[applied:]
    return SchemaStatus(current, head, migrations, tuple(pending), unknown)


def alembic_config(connection: Connection | None = None) -> Any:
    """Build the Alembic configuration in code, optionally bound to an open connection."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _ensure_sqlite_folder(database: str | None) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _enable_wal(cursor: Any, busy_ms: int) -> None:
    """Switch the file to WAL (persistent), retrying while another process does the same.

    On a brand-new file, two processes switching at once can get "database is locked" at once:
    SQLite skips the busy handler where waiting could deadlock. WAL, once set, stays set.
    """
    deadline = time.monotonic() + busy_ms / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _install_sqlite_hooks(engine: Engine, *, busy_ms: int, synchronous: str = "FULL") -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from pysqlite so that `_on_begin` decides DEFERRED vs IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # The busy timeout first: switching a new file to WAL takes a lock, and without
            # the timeout a second process starting at the same moment fails at once.
            cursor.execute(f"PRAGMA busy_timeout={busy_ms:d}")
            _enable_wal(cursor, busy_ms)
            # FULL: a commit in WAL with NORMAL can roll back after power loss. Only
            # the bot's bookkeeping connections use NORMAL (Database.write(durable=False)).
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Freed space is zeroed: an old ciphertext (before a key rotation, a disconnect or
            # a refresh) must not linger in the file's free pages or cells.
            cursor.execute("PRAGMA secure_delete=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        begin = connection.get_execution_options().get(_BEGIN_OPTION, "BEGIN")
        connection.exec_driver_sql(begin)
