"""Exactly once through the broker: two panel processes, ten threads each, one refresh.

Each child runs its own runtime and Flask app over the shared database (SQLite file and
PostgreSQL in turn); all twenty threads ask the broker route for the token of an account that
is due. The emulator must see exactly one refresh (with rotation on, a second one with the
same refresh token would fail loudly), and every caller gets the one new token.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import SharedSetup
from tests.plugins.tokens import spawn_child
from tests.plugins.tokens import token_calls
from tests.plugins.tokens import wait_until
from tokenbot.core.admins import SCOPE_TOKENS
from tokenbot.core.admins import AdminStore
from tokenbot.core.clock import SystemClock
from tokenbot.core.db import Database
from tokenbot.core.db import upgrade
from tokenbot.core.logs import fingerprint
from tokenbot.core.models import EventKind


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A Database migrated to head on each backend in turn (what `shared_setup` builds on)."""
    upgrade(database_url)
    db = Database(database_url)
    try:
        yield db
    finally:
        db.dispose()


def test_twenty_threads_in_two_processes_get_one_refresh(
    shared_setup: SharedSetup, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    admins = AdminStore(shared_setup.store.db, clock=SystemClock())
    api_token = admins.create_api_token(
        "agent", scopes=[SCOPE_TOKENS], accounts=[shared_setup.account_id]
    )
    emulator.settings(rotate_refresh_tokens=True)
    # The token call is slow, so every thread arrives while it is in flight.
    emulator.fault("/v1/access_token", method="POST", delay_seconds=0.5)
    go = tmp_path / "go"
    children = [
        spawn_child(
            tmp_path,
            f"panel{n}",
            shared_setup.child_config(
                emulator, threads=10, go=str(go), ready=str(tmp_path / f"r{n}")
            ),
            key_spec=shared_setup.key_spec,
            client_secret=shared_setup.integration.client_secret,
            module="tests.admin._broker_child",
            extra_env={"TOKENBOT_TEST_API_TOKEN": api_token},
        )
        for n in range(2)
    ]
    try:
        wait_until(
            lambda: all((tmp_path / f"r{n}").exists() for n in range(2)),
            timeout=60,
            what="both panel processes to be ready",
        )
        go.touch()
        results = [item for child in children for item in child.result(timeout=90)["results"]]
    finally:
        for child in children:
            child.kill()

    assert [r["status"] for r in results] == [200] * 20, results
    refreshes = token_calls(emulator, "refresh_token")
    assert len(refreshes) == 1, refreshes
    assert [c["status"] for c in refreshes] == [200]
    current = shared_setup.store.access_grant(shared_setup.account_id).access_token
    assert {r["token"] for r in results} == {fingerprint(current)}
    assert shared_setup.client.identify(current).email == "alice@example.com"
    handouts = [
        e
        for e in shared_setup.store.events(shared_setup.account_id, limit=100)
        if e.kind is EventKind.TOKEN_HANDED_OUT
    ]
    assert len(handouts) == 20
