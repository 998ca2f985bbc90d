"""Database URLs for the store's contract tests: a real SQLite file and the real PostgreSQL.

`database_url` is parametrized over both backends, so every test that takes it runs twice.
PostgreSQL comes from `TOKENBOT_TEST_POSTGRES_URL` (`.ci/run` sets it); each test gets its own
schema, dropped afterwards. Without the variable the PostgreSQL half is skipped locally, and
fails under CI (CI=true), where it must run.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

POSTGRES_ENV = "TOKENBOT_TEST_POSTGRES_URL"


def postgres_base_url() -> str | None:
    """Return the PostgreSQL URL from the environment, or skip/fail when it is missing."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{POSTGRES_ENV} is not set, but CI requires the PostgreSQL tests to run")
    pytest.skip(f"set {POSTGRES_ENV} to run the PostgreSQL half of this test")
    return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    import psycopg

    base = postgres_base_url()
    assert base is not None
    schema = f"tb_test_{secrets.token_hex(6)}"
    plain = base.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    options = quote(f"-csearch_path={schema}")
    try:
        yield f"{base}{separator}options={options}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL of a real SQLite file in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'tokenbot.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: run the same contract against SQLite and PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))
