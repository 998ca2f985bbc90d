"""Fixtures of the core tests, chained: cipher + clock + database -> store.

`database` is migrated to head on `database_url`, so every test that uses it (or `store`) runs
once on a real SQLite file and once on the real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tokenbot.core.clock import FrozenClock
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.db import Database
from tokenbot.core.db import upgrade
from tokenbot.core.policy import RefreshPolicy

if TYPE_CHECKING:
    from tokenbot.core.store import TokenStore


@pytest.fixture
def cipher() -> TokenCipher:
    """A cipher with one fresh random key."""
    return TokenCipher.from_spec(TokenCipher.generate_key_spec("ktest"))


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock at 2026-01-01T00:00:00Z; tests move it with `advance`."""
    return FrozenClock()


@pytest.fixture
def policy() -> RefreshPolicy:
    """The default refresh policy."""
    return RefreshPolicy()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A Database migrated to head on each backend in turn."""
    upgrade(database_url)
    db = Database(database_url)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def store(
    database: Database, cipher: TokenCipher, clock: FrozenClock, policy: RefreshPolicy
) -> TokenStore:
    """A TokenStore over `database`, driven by the frozen clock."""
    from tokenbot.core.store import TokenStore

    return TokenStore(database, cipher, clock=clock, policy=policy)
