"""The refresher over real HTTP: emulator faults, revocation and rotation, on both databases.

Each test connects an account through the full code flow, moves the frozen clock past the
keep-alive so the account is due, and sweeps.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import Integration
from tests.plugins.tokens import connect
from tests.plugins.tokens import make_client
from tests.plugins.tokens import settle_faults
from tests.plugins.tokens import token_calls
from tests.plugins.tokens import wait_until
from tokenbot.core.clock import FrozenClock
from tokenbot.core.errors import FatalOAuthError
from tokenbot.core.errors import NeedsReauth
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import EventKind
from tokenbot.core.oauth import WebexOAuthClient
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.refresher import LOST_ANSWER_REASON
from tokenbot.core.refresher import REAUTH_REASON
from tokenbot.core.store import TokenStore
from tokenbot.core.sweep import SweepReport
from tokenbot.core.sweep import sweep

DAY = 86400


def _sweep(
    store: TokenStore, client: WebexOAuthClient, clock: FrozenClock, policy: RefreshPolicy
) -> SweepReport:
    return sweep(store, client, clock=clock, policy=policy, owner="test")


def _stored_refresh_token(store: TokenStore, account_id: int) -> str:
    claim = store.claim(account_id, owner="peek", lease_seconds=5)
    assert claim is not None
    store.release(claim)
    return claim.refresh_token


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 429, "retry_after": 900},
        {"delay_seconds": 1.5},
        {"drop": True},
    ],
    ids=["500", "429", "hang", "drop"],
)
def test_a_failed_refresh_keeps_the_token_and_recovers_later(
    store: TokenStore,
    clock: FrozenClock,
    policy: RefreshPolicy,
    emulator: EmulatorHandle,
    integration: Integration,
    fault: dict[str, Any],
) -> None:
    client = make_client(emulator, integration, timeout=1.0)
    account = connect(store, client, emulator, clock)
    old_token = store.access_grant(account.id).access_token
    clock.advance(DAY + 1)
    emulator.fault("/v1/access_token", method="POST", **fault)

    report = _sweep(store, client, clock, policy)
    assert report.count("failed") == 1
    view = store.get(account.id)
    assert view.status is AccountStatus.REFRESH_FAILING
    assert view.failure_count == 1 and view.has_tokens
    assert view.next_refresh_at is not None and view.next_refresh_at > clock.now()
    if "retry_after" in fault:
        assert view.next_refresh_at >= clock.now() + timedelta(seconds=900)
    assert store.access_grant(account.id).access_token == old_token
    # Not before the back-off ends.
    clock.set(view.next_refresh_at - timedelta(seconds=1))
    assert _sweep(store, client, clock, policy).due == 0

    clock.set(view.next_refresh_at)
    assert _sweep(store, client, clock, policy).count("refreshed") == 1
    healed = store.get(account.id)
    assert healed.status is AccountStatus.ACTIVE and healed.failure_count == 0
    new_token = store.access_grant(account.id).access_token
    assert new_token != old_token
    assert client.identify(new_token).email == "alice@example.com"
    kinds = [e.kind for e in store.events(account.id)][:2]
    assert kinds == [EventKind.REFRESHED, EventKind.REFRESH_FAILED]
    settle_faults(emulator)


def test_a_revoked_grant_ends_in_needs_reauth(
    store: TokenStore,
    clock: FrozenClock,
    policy: RefreshPolicy,
    emulator: EmulatorHandle,
    oauth_client: WebexOAuthClient,
) -> None:
    account = connect(store, oauth_client, emulator, clock)
    assert emulator.revoke(email="alice@example.com") == 1
    clock.advance(DAY + 1)
    report = _sweep(store, oauth_client, clock, policy)
    assert report.count("needs_reauth") == 1
    view = store.get(account.id)
    assert view.status is AccountStatus.NEEDS_REAUTH and not view.has_tokens
    events = [e for e in store.events(account.id) if e.kind is EventKind.NEEDS_REAUTH]
    assert [e.detail for e in events] == [REAUTH_REASON]
    with pytest.raises(NeedsReauth):
        store.access_grant(account.id)
    clock.advance(DAY)
    assert _sweep(store, oauth_client, clock, policy).due == 0
    assert len(token_calls(emulator)) == 1


@pytest.mark.parametrize("rotate", [True, False], ids=["rotation-on", "rotation-off"])
def test_rotation_on_and_off(
    store: TokenStore,
    clock: FrozenClock,
    policy: RefreshPolicy,
    emulator: EmulatorHandle,
    oauth_client: WebexOAuthClient,
    rotate: bool,
) -> None:
    emulator.settings(rotate_refresh_tokens=rotate)
    account = connect(store, oauth_client, emulator, clock)
    first = _stored_refresh_token(store, account.id)
    for _ in range(3):
        clock.advance(DAY + 1)
        assert _sweep(store, oauth_client, clock, policy).count("refreshed") == 1
    last = _stored_refresh_token(store, account.id)
    grant = store.access_grant(account.id)
    assert oauth_client.identify(grant.access_token).email == "alice@example.com"
    assert [c["status"] for c in token_calls(emulator)] == [200, 200, 200]
    if rotate:
        assert last != first
        with pytest.raises(FatalOAuthError) as caught:
            oauth_client.refresh(first)  # the old one is dead
        assert caught.value.error == "invalid_grant"
    else:
        assert last == first
        assert oauth_client.refresh(first).access_token


def test_a_lost_answer_under_rotation_ends_in_needs_reauth_that_says_why(
    store: TokenStore,
    clock: FrozenClock,
    policy: RefreshPolicy,
    emulator: EmulatorHandle,
    integration: Integration,
) -> None:
    """F-8: Webex rotated, but its answer never reached us. Detected, explained, not looped."""
    emulator.settings(rotate_refresh_tokens=True)
    client = make_client(emulator, integration, timeout=0.5)
    account = connect(store, client, emulator, clock)
    clock.advance(DAY + 1)
    emulator.fault("/v1/access_token", method="POST", delay_seconds=1.0)
    assert _sweep(store, client, clock, policy).count("failed") == 1
    # The emulator finishes the delayed request (and rotates) after we gave up.
    wait_until(
        lambda: any(c["status"] == 200 for c in token_calls(emulator)),
        what="the emulator to process the delayed refresh",
    )
    view = store.get(account.id)
    assert view.next_refresh_at is not None
    clock.set(view.next_refresh_at)
    assert _sweep(store, client, clock, policy).count("needs_reauth") == 1
    assert store.get(account.id).last_error == LOST_ANSWER_REASON
    clock.advance(DAY)
    assert _sweep(store, client, clock, policy).due == 0
