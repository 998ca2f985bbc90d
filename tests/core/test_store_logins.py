"""Pending OAuth logins: single use, ten minutes, one browser, and only hashes at rest (R-01)."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tokenbot.core.clock import FrozenClock
from tokenbot.core.db import Database
from tokenbot.core.errors import LoginStateInvalid
from tokenbot.core.models import OAuthLogin
from tokenbot.core.store import TokenStore

VERIFIER = "v" * 43


def _reason(store: TokenStore, state: str, binding: str = "browser-1") -> str:
    with pytest.raises(LoginStateInvalid) as caught:
        store.consume_login(state, session_binding=binding)
    return caught.value.reason


def test_a_login_is_consumed_once_and_returns_its_verifier(
    store: TokenStore, database: Database
) -> None:
    state = store.begin_login(session_binding="browser-1", verifier=VERIFIER)
    assert len(state) >= 43
    with database.read() as session:
        row = session.execute(sa.select(OAuthLogin)).scalar_one()
        assert row.state_hash == hashlib.sha256(state.encode()).hexdigest()
        assert state not in repr(row.__dict__)
        assert row.verifier_enc is not None and VERIFIER not in row.verifier_enc
        assert "browser-1" not in row.session_binding
    assert store.consume_login(state, session_binding="browser-1") == VERIFIER
    with database.read() as session:
        row = session.execute(sa.select(OAuthLogin)).scalar_one()
        assert row.used_at is not None and row.verifier_enc is None
    assert _reason(store, state) == "replayed"


def test_states_are_unique(store: TokenStore) -> None:
    states = {store.begin_login(session_binding="b", verifier=VERIFIER) for _ in range(50)}
    assert len(states) == 50


@pytest.mark.parametrize("state", ["", "not-a-state-we-issued"])
def test_missing_and_unknown_states(store: TokenStore, state: str) -> None:
    store.begin_login(session_binding="browser-1", verifier=VERIFIER)
    assert _reason(store, state) == ("missing" if not state else "unknown")


def test_another_browsers_state_is_foreign_and_stays_usable(store: TokenStore) -> None:
    state = store.begin_login(session_binding="browser-1", verifier=VERIFIER)
    assert _reason(store, state, binding="browser-2") == "foreign"
    assert store.consume_login(state, session_binding="browser-1") == VERIFIER


def test_an_old_state_is_expired(store: TokenStore, clock: FrozenClock) -> None:
    state = store.begin_login(session_binding="browser-1", verifier=VERIFIER)
    clock.advance(599)
    fresh = store.begin_login(session_binding="browser-1", verifier=VERIFIER)
    clock.advance(2)
    assert _reason(store, state) == "expired"
    assert store.consume_login(fresh, session_binding="browser-1") == VERIFIER


def test_two_racing_callbacks_exactly_one_wins(store: TokenStore) -> None:
    state = store.begin_login(session_binding="browser-1", verifier=VERIFIER)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def callback() -> None:
        barrier.wait(timeout=30)
        try:
            outcome = store.consume_login(state, session_binding="browser-1")
        except LoginStateInvalid as exc:
            outcome = exc.reason
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=callback) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == sorted([VERIFIER] + ["replayed"] * 7)


def test_purge_removes_old_logins(store: TokenStore, clock: FrozenClock) -> None:
    old = store.begin_login(session_binding="b", verifier=VERIFIER)
    clock.advance(3600)
    kept = store.begin_login(session_binding="b", verifier=VERIFIER)
    assert store.purge_logins(clock.now() - timedelta(minutes=30)) == 1
    assert _reason(store, old, binding="b") == "unknown"
    assert store.consume_login(kept, session_binding="b") == VERIFIER


def test_begin_needs_a_binding_and_a_verifier(store: TokenStore) -> None:
    with pytest.raises(ValueError):
        store.begin_login(session_binding="", verifier=VERIFIER)
    with pytest.raises(ValueError):
        store.begin_login(session_binding="b", verifier="")
