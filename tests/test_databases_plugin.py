"""The database fixtures give real, isolated backends."""

from __future__ import annotations

import sqlalchemy as sa


def test_database_url_is_a_working_isolated_backend(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE probe (id INTEGER PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO probe (id) VALUES (1)"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM probe")).scalar_one() == 1
    finally:
        engine.dispose()
