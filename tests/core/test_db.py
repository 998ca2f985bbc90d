"""Engines and transactions: SQLite pragmas, BEGIN IMMEDIATE writers that wait, both backends."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tokenbot.core.db import Database


def _sqlite_path(url: str) -> str:
    path = make_url(url).database
    assert path
    return path


def _make_counter(db: Database) -> None:
    with db.write() as session:
        session.execute(sa.text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        session.execute(sa.text("INSERT INTO counter (id, n) VALUES (1, 0)"))


def _increment(db: Database, times: int) -> None:
    """Read, then write: loses updates unless the write transaction excludes other writers."""
    lock = "" if db.is_sqlite else " FOR UPDATE"
    for _ in range(times):
        with db.write() as session:
            n = session.execute(sa.text(f"SELECT n FROM counter WHERE id = 1{lock}")).scalar_one()
            session.execute(sa.text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})


def _increment_in_process(url: str, times: int) -> None:
    db = Database(url)
    try:
        _increment(db, times)
    finally:
        db.dispose()


def test_every_sqlite_connection_gets_the_durability_pragmas(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'folder' / 'db.sqlite3'}"
    db = Database(url)
    try:
        assert Path(_sqlite_path(url)).parent.is_dir()
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 15000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        db.dispose()


def test_busy_timeout_follows_the_setting(sqlite_url: str) -> None:
    db = Database(sqlite_url, busy_timeout_seconds=20)
    try:
        with db.read() as session:
            assert session.execute(sa.text("PRAGMA busy_timeout")).scalar_one() == 20000
    finally:
        db.dispose()


def test_write_takes_the_sqlite_write_lock_at_its_start(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    _make_counter(db)
    other = sqlite3.connect(_sqlite_path(sqlite_url), timeout=0, isolation_level=None)
    try:
        with db.read() as session:
            session.execute(sa.text("SELECT n FROM counter")).scalar_one()
            # A reader leaves the write lock free ...
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        with db.write() as session:
            session.execute(sa.text("SELECT n FROM counter")).scalar_one()
            # ... a writer holds it from its first statement, even a SELECT.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
        db.dispose()


def test_a_writer_that_finds_the_database_locked_waits(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    _make_counter(db)
    holder = sqlite3.connect(
        _sqlite_path(sqlite_url), isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")
    hold_seconds = 0.4
    release = threading.Timer(hold_seconds, lambda: holder.execute("COMMIT"))
    try:
        release.start()
        started = time.monotonic()
        _increment(db, 1)
        waited = time.monotonic() - started
    finally:
        release.join()
        holder.close()
    with db.read() as session:
        assert session.execute(sa.text("SELECT n FROM counter")).scalar_one() == 1
    db.dispose()
    assert waited >= hold_seconds * 0.8


def test_read_then_write_loses_no_update_across_threads(database_url: str) -> None:
    db = Database(database_url)
    _make_counter(db)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            _increment(db, 15)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    with db.read() as session:
        assert session.execute(sa.text("SELECT n FROM counter")).scalar_one() == 8 * 15
    db.dispose()


def test_read_then_write_loses_no_update_across_processes(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    _make_counter(db)
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_increment_in_process, args=(sqlite_url, 20)) for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    with db.read() as session:
        assert session.execute(sa.text("SELECT n FROM counter")).scalar_one() == 60
    db.dispose()


def test_an_error_rolls_the_transaction_back(database_url: str) -> None:
    db = Database(database_url)
    _make_counter(db)
    with pytest.raises(RuntimeError), db.write() as session:
        session.execute(sa.text("UPDATE counter SET n = 99"))
        raise RuntimeError("boom")
    with db.read() as session:
        assert session.execute(sa.text("SELECT n FROM counter")).scalar_one() == 0
    db.dispose()


def test_repr_hides_the_password() -> None:
    db = Database("postgresql+psycopg://user:hunter2@127.0.0.1:1/db")
    assert "hunter2" not in repr(db)
    db.dispose()


def test_bookkeeping_writes_are_atomic_but_not_flushed_one_by_one(database_url: str) -> None:
    """Token material is durable per commit (R-15); the bot's bookkeeping is not (NORMAL)."""
    from tokenbot.core.db import Database

    database = Database(database_url)
    try:
        with database.write() as session:
            durable = session.execute(
                sa.text("PRAGMA synchronous" if database.is_sqlite else "SHOW synchronous_commit")
            ).scalar_one()
        with database.write(durable=False) as session:
            relaxed = session.execute(
                sa.text("PRAGMA synchronous" if database.is_sqlite else "SHOW synchronous_commit")
            ).scalar_one()
        with database.write() as session:
            again = session.execute(
                sa.text("PRAGMA synchronous" if database.is_sqlite else "SHOW synchronous_commit")
            ).scalar_one()
    finally:
        database.dispose()
    if database.is_sqlite:
        assert (durable, relaxed, again) == (2, 1, 2)  # FULL, NORMAL, FULL
    else:
        assert (durable, relaxed, again) == ("on", "off", "on")
