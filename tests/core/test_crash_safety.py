"""Crash safety with rotation on: SIGKILL a refreshing process at each point of the refresh.

A child process claims the due account and refreshes it, stopping dead (and then killed with
SIGKILL, so nothing in it cleans up) (a) before the token call, (b) between Webex's answer and
the commit, (c) after the commit. Afterwards the account must be usable again once the lease
lapses: no refresh token lost, no half-written row. In (b) Webex already rotated and the new
token died with the process: the account must end as needs_reauth with an event that says so,
never as a silent failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import SharedSetup
from tests.plugins.tokens import token_calls
from tests.plugins.tokens import wait_until
from tokenbot.core.clock import SystemClock
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.models import Account
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import EventKind
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.refresher import INTERRUPTED_REASON
from tokenbot.core.refresher import refresh_account
from tokenbot.core.store import TokenStore
from tokenbot.core.store import token_context

LEASE = 1.0


def _kill_at(setup: SharedSetup, emulator: EmulatorHandle, tmp_path: Path, point: str) -> None:
    marker = tmp_path / f"at-{point}"
    child = setup.spawn(
        tmp_path,
        f"crash-{point}",
        setup.child_config(
            emulator, mode="crash", point=point, marker=str(marker), lease_seconds=LEASE
        ),
    )
    try:
        wait_until(marker.exists, timeout=60, what=f"the child to reach {point}")
    finally:
        child.kill()
    assert child.process.returncode == -9


def _stored_refresh_token(store: TokenStore, account_id: int) -> str:
    """Decrypt the stored refresh token without claiming (a claim would hide the dead lease)."""
    with store.db.read() as session:
        row = session.get(Account, account_id)
        assert row is not None and row.refresh_token_enc is not None
        context = token_context(row.person_id, "refresh_token")
        return store.cipher.decrypt(row.refresh_token_enc, context=context)


def _lease_lapsed(store: TokenStore, account_id: int) -> bool:
    view = store.get(account_id)
    return view.lease_until is None or view.lease_until < SystemClock().now()


@pytest.mark.parametrize("point", ["before_call", "after_call", "after_commit"])
def test_a_killed_refresher_loses_nothing(
    shared_setup: SharedSetup, emulator: EmulatorHandle, tmp_path: Path, point: str
) -> None:
    emulator.settings(rotate_refresh_tokens=True)
    store, account_id = shared_setup.store, shared_setup.account_id
    before_rt = _stored_refresh_token(store, account_id)
    before_at = store.access_grant(account_id).access_token

    _kill_at(shared_setup, emulator, tmp_path, point)

    calls = token_calls(emulator, "refresh_token")
    assert len(calls) == (0 if point == "before_call" else 1)
    # Never half-written: both tokens decrypt and belong together (old pair, or new pair).
    wait_until(lambda: _lease_lapsed(store, account_id), timeout=10, what="the lease to lapse")
    stored_rt = _stored_refresh_token(store, account_id)
    stored_at = store.access_grant(account_id).access_token
    if point == "after_commit":
        assert stored_rt != before_rt and stored_at != before_at
    else:
        assert (stored_rt, stored_at) == (before_rt, before_at)

    # "Restart": a new process (here, the test) refreshes the account.
    outcome = refresh_account(
        store,
        shared_setup.client,
        account_id,
        clock=SystemClock(),
        policy=RefreshPolicy(),
        owner="restarted",
        force=True,
    )
    view = store.get(account_id)
    if point == "after_call":
        # Webex rotated, the child died with the new token: detected and explained.
        assert outcome.result == "needs_reauth"
        assert view.status is AccountStatus.NEEDS_REAUTH
        (event,) = [e for e in store.events(account_id) if e.kind is EventKind.NEEDS_REAUTH]
        assert event.detail == INTERRUPTED_REASON
        assert "interrupted after Webex rotated the token" in event.detail
    else:
        assert outcome.result == "refreshed"
        assert view.status is AccountStatus.ACTIVE
        token = store.access_grant(account_id).access_token
        assert shared_setup.client.identify(token).email == "alice@example.com"
        # Every refresh Webex answered used a live token: none was presented twice.
        assert [c["status"] for c in token_calls(emulator, "refresh_token")] == [200] * (
            1 if point == "before_call" else 2
        )


def test_a_killed_refresher_without_rotation_recovers(
    shared_setup: SharedSetup, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Case (b) when Webex does not rotate: the old refresh token still works."""
    store, account_id = shared_setup.store, shared_setup.account_id
    _kill_at(shared_setup, emulator, tmp_path, "after_call")
    wait_until(lambda: _lease_lapsed(store, account_id), timeout=10, what="the lease to lapse")
    cipher = TokenCipher.from_spec(shared_setup.key_spec)
    restarted = TokenStore(store.db, cipher, clock=SystemClock(), policy=RefreshPolicy())
    outcome = refresh_account(
        restarted,
        shared_setup.client,
        account_id,
        clock=SystemClock(),
        policy=RefreshPolicy(),
        owner="restarted",
    )
    assert outcome.result == "refreshed"
    assert store.get(account_id).status is AccountStatus.ACTIVE
