"""refresh_account and sweep over the real store (SQLite and PostgreSQL), with a scripted client.

The scripted client (`FakeOAuth`) lets each test decide what "Webex" answers and what happens
while the call is in flight; test_refresher_emulator.py repeats the important cases over HTTP.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.plugins.tokens import FakeOAuth
from tests.plugins.tokens import connect_fake
from tokenbot.core.clock import FrozenClock
from tokenbot.core.db import Database
from tokenbot.core.errors import FatalOAuthError
from tokenbot.core.errors import NeedsReauth
from tokenbot.core.errors import OAuthError
from tokenbot.core.errors import PersistenceFailed
from tokenbot.core.errors import TransientOAuthError
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import EventKind
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.refresher import INTERRUPTED_REASON
from tokenbot.core.refresher import REAUTH_REASON
from tokenbot.core.refresher import refresh_account
from tokenbot.core.refresher import refresh_counters
from tokenbot.core.store import TokenStore
from tokenbot.core.sweep import sweep
from tokenbot.core.tokens import TokenSet

OWNER = "test:owner"


def _refresh(
    store: TokenStore,
    client: Any,
    account_id: int,
    clock: FrozenClock,
    policy: RefreshPolicy,
    **kwargs: Any,
) -> Any:
    kwargs.setdefault("owner", OWNER)
    return refresh_account(store, client, account_id, clock=clock, policy=policy, **kwargs)


def _sweep(store: TokenStore, client: Any, clock: FrozenClock, policy: RefreshPolicy) -> Any:
    return sweep(store, client, clock=clock, policy=policy, owner=OWNER, max_workers=4)


def _kinds(store: TokenStore, account_id: int) -> list[EventKind]:
    return [e.kind for e in reversed(store.events(account_id))]


# -- when --------------------------------------------------------------------------------------


def test_sweep_respects_the_margin_to_the_second(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    # One hour tokens: 10 % is 6 min, so the 15 min margin decides.
    account = connect_fake(store, clock, expires_in=3600)
    assert account.access_expires_at is not None and account.obtained_at is not None
    due_at = account.access_expires_at - timedelta(seconds=policy.margin_seconds)
    assert policy.refresh_due_at(account.obtained_at, account.access_expires_at) == due_at

    clock.set(due_at - timedelta(seconds=1))
    report = _sweep(store, fake_oauth, clock, policy)
    assert report.due == 0 and fake_oauth.calls == 0

    clock.set(due_at + timedelta(seconds=1))
    report = _sweep(store, fake_oauth, clock, policy)
    assert report.due == 1
    assert report.count("refreshed") == 1
    assert fake_oauth.seen == ["first-refresh-token-xxxxxxx"]
    assert store.access_grant(account.id).access_token == "fake-access-0001-xxxxxxxxxxxx"


def test_keepalive_refreshes_a_long_lived_token_after_a_day(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    connect_fake(store, clock, expires_in=90 * 86400)
    clock.advance(24 * 3600 - 1)
    assert _sweep(store, fake_oauth, clock, policy).due == 0
    clock.advance(2)
    assert _sweep(store, fake_oauth, clock, policy).count("refreshed") == 1


def test_a_sweep_with_nothing_due_makes_exactly_one_query(
    store: TokenStore, database: Database, clock: FrozenClock, policy: RefreshPolicy
) -> None:
    for n in range(5):
        connect_fake(store, clock, email=f"user{n}@example.com")
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", count)
    try:
        report = _sweep(store, FakeOAuth(), clock, policy)
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", count)
    assert report.due == 0
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, statements
    assert "next_refresh_at" in selects[0]


# -- success -----------------------------------------------------------------------------------


def test_rotation_replaces_the_refresh_token_and_its_absence_keeps_it(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy
) -> None:
    account = connect_fake(store, clock)
    client = FakeOAuth(rotate=True)
    clock.advance(3000)
    assert _refresh(store, client, account.id, clock, policy).result == "refreshed"
    clock.advance(3000)
    assert _refresh(store, client, account.id, clock, policy).result == "refreshed"
    assert client.seen == ["first-refresh-token-xxxxxxx", "fake-refresh-0001-xxxxxxxxxxxx"]

    keeping = FakeOAuth(rotate=False)
    clock.advance(3000)
    _refresh(store, keeping, account.id, clock, policy)
    clock.advance(3000)
    _refresh(store, keeping, account.id, clock, policy)
    # No refresh token in the answer: the stored one stays (R-11, F-6).
    assert keeping.seen == ["fake-refresh-0002-xxxxxxxxxxxx"] * 2


def test_expiry_counts_from_the_time_the_request_was_sent(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3000)
    sent = clock.now()
    client = FakeOAuth()
    # The answer takes 5 s to arrive.
    client.script.append(lambda: clock.advance(5) and None)
    _refresh(store, client, account.id, clock, policy)
    view = store.get(account.id)
    assert view.access_expires_at == sent + timedelta(seconds=3600 - policy.expiry_skew_seconds)
    assert view.obtained_at == sent


def test_not_due_after_the_claim_means_no_call(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3000)
    assert _refresh(store, fake_oauth, account.id, clock, policy).result == "refreshed"
    # A second refresher that decided before the first finished: it claims, sees, skips.
    outcome = _refresh(store, fake_oauth, account.id, clock, policy, owner="late")
    assert outcome.result == "fresh"
    assert fake_oauth.calls == 1
    assert store.get(account.id).lease_owner is None
    forced = _refresh(store, fake_oauth, account.id, clock, policy, force=True)
    assert forced.result == "refreshed" and fake_oauth.calls == 2


def test_a_held_claim_makes_others_busy(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3000)
    inner: list[Any] = []

    def meanwhile() -> None:
        inner.append(_refresh(store, fake_oauth, account.id, clock, policy, owner="other"))

    outcome = _refresh(store, fake_oauth, account.id, clock, policy, _before_call=meanwhile)
    assert outcome.result == "refreshed"
    assert inner[0].result == "busy"
    assert fake_oauth.calls == 1


# -- transient failures ------------------------------------------------------------------------


def test_transient_failure_keeps_the_token_backs_off_and_recovers(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3000)
    failed_at = clock.now()
    fake_oauth.script.append(TransientOAuthError("Webex rate-limited", retry_after=600))
    outcome = _refresh(store, fake_oauth, account.id, clock, policy)
    assert outcome.result == "failed" and outcome.error_code == "oauth_transient"
    view = store.get(account.id)
    assert view.status is AccountStatus.REFRESH_FAILING
    assert view.failure_count == 1
    assert view.next_refresh_at is not None
    assert view.next_refresh_at >= failed_at + timedelta(seconds=600)  # Retry-After honoured
    assert view.lease_owner is None
    assert store.access_grant(account.id).access_token == "first-access-token-xxxxxxxx"

    clock.advance(599)
    assert _sweep(store, fake_oauth, clock, policy).due == 0
    assert fake_oauth.calls == 1
    clock.set(view.next_refresh_at)
    report = _sweep(store, fake_oauth, clock, policy)
    assert report.count("refreshed") == 1
    healed = store.get(account.id)
    assert healed.status is AccountStatus.ACTIVE and healed.failure_count == 0
    assert _kinds(store, account.id)[-2:] == [EventKind.REFRESH_FAILED, EventKind.REFRESHED]


def test_backoff_grows_with_each_failure(
    store: TokenStore, clock: FrozenClock, fake_oauth: FakeOAuth
) -> None:
    policy = RefreshPolicy(backoff_base_seconds=30, backoff_max_seconds=3600)
    account = connect_fake(store, clock)
    clock.advance(3000)
    delays = []
    for _ in range(4):
        fake_oauth.script.append(TransientOAuthError("down"))
        now = clock.now()
        _refresh(store, fake_oauth, account.id, clock, policy)
        view = store.get(account.id)
        assert view.next_refresh_at is not None
        delays.append((view.next_refresh_at - now).total_seconds())
        clock.set(view.next_refresh_at)
    assert store.get(account.id).failure_count == 4
    # Full jitter, but each ceiling doubles: failure n waits at most 30 * 2**(n-1).
    assert all(15 <= d <= 30 * 2**i for i, d in enumerate(delays))


def test_an_unclassified_error_is_recorded_and_retried(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3000)
    fake_oauth.script.append(OAuthError("Webex answered 200 without a token"))
    outcome = _refresh(store, fake_oauth, account.id, clock, policy)
    assert outcome.result == "failed" and outcome.error_code == "oauth_error"
    view = store.get(account.id)
    assert view.status is AccountStatus.REFRESH_FAILING and view.has_tokens


# -- fatal failures ----------------------------------------------------------------------------


def test_invalid_grant_marks_needs_reauth_with_its_event(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3000)
    fake_oauth.script.append(FatalOAuthError("invalid_grant", "Webex rejected the token"))
    outcome = _refresh(store, fake_oauth, account.id, clock, policy)
    assert outcome.result == "needs_reauth" and outcome.error_code == "invalid_grant"
    view = store.get(account.id)
    assert view.status is AccountStatus.NEEDS_REAUTH
    assert view.last_error == REAUTH_REASON
    (event,) = [e for e in store.events(account.id) if e.kind is EventKind.NEEDS_REAUTH]
    assert event.detail == REAUTH_REASON
    with pytest.raises(NeedsReauth):
        store.access_grant(account.id)
    # Taken out of the loop: no further automatic attempt.
    clock.advance(10 * 86400)
    assert _sweep(store, fake_oauth, clock, policy).due == 0
    assert fake_oauth.calls == 1


def test_invalid_grant_after_someone_else_rotated_uses_theirs(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy
) -> None:
    """F-7: our lease lapsed mid-call, another process refreshed; its token wins."""
    account = connect_fake(store, clock)
    clock.advance(3000)
    winner = FakeOAuth(rotate=True)
    loser = FakeOAuth(rotate=True)

    def overtaken() -> Exception:
        clock.advance(61)  # past our 60 s lease
        assert _refresh(store, winner, account.id, clock, policy, owner="winner").ok
        return FatalOAuthError("invalid_grant", "already used")

    loser.script.append(overtaken)
    outcome = _refresh(store, loser, account.id, clock, policy)
    assert outcome.result == "fresh"
    view = store.get(account.id)
    assert view.status is AccountStatus.ACTIVE
    assert store.access_grant(account.id).access_token == "fake-access-0001-xxxxxxxxxxxx"
    assert EventKind.NEEDS_REAUTH not in _kinds(store, account.id)


def test_invalid_grant_after_an_interrupted_refresh_says_so(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3000)
    # A process claimed, called Webex (which rotated) and died before its commit.
    assert store.claim(account.id, owner="dead", lease_seconds=60) is not None
    clock.advance(61)
    fake_oauth.script.append(FatalOAuthError("invalid_grant", "rotated away"))
    outcome = _refresh(store, fake_oauth, account.id, clock, policy)
    assert outcome.result == "needs_reauth"
    assert store.get(account.id).last_error == INTERRUPTED_REASON
    (event,) = [e for e in store.events(account.id) if e.kind is EventKind.NEEDS_REAUTH]
    assert "interrupted after Webex rotated the token" in event.detail


def test_invalid_client_is_loud_and_keeps_the_grant(
    store: TokenStore,
    clock: FrozenClock,
    policy: RefreshPolicy,
    fake_oauth: FakeOAuth,
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3000)
    fake_oauth.script.append(FatalOAuthError("invalid_client", "wrong secret"))
    with caplog.at_level(logging.CRITICAL, logger="tokenbot.core.refresher"):
        outcome = _refresh(store, fake_oauth, account.id, clock, policy)
    assert outcome.result == "failed" and outcome.error_code == "invalid_client"
    view = store.get(account.id)
    assert view.status is AccountStatus.REFRESH_FAILING and view.has_tokens
    assert view.next_refresh_at == clock.now() + timedelta(seconds=policy.backoff_max_seconds)
    assert "client id and secret" in (view.last_error or "")
    assert any(r.levelno == logging.CRITICAL for r in caplog.records)
    failed = [e for e in store.events(account.id) if e.kind is EventKind.REFRESH_FAILED]
    assert failed and failed[0].detail.startswith("permanent")


# -- persistence -------------------------------------------------------------------------------


def test_a_failed_write_after_success_is_an_alarm_never_a_success(
    store: TokenStore,
    clock: FrozenClock,
    policy: RefreshPolicy,
    fake_oauth: FakeOAuth,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3000)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise PersistenceFailed("disk full")

    monkeypatch.setattr(store, "complete_refresh", broken)
    before = refresh_counters()["persist_failed"]
    with caplog.at_level(logging.CRITICAL, logger="tokenbot.core.refresher"):
        outcome = _refresh(store, fake_oauth, account.id, clock, policy)
    assert outcome.result == "persist_failed" and not outcome.ok
    assert refresh_counters()["persist_failed"] == before + 1
    assert any("ALARM" in r.getMessage() for r in caplog.records)
    # The new token was not stored, and the account is not reported fresh.
    assert store.access_grant(account.id).access_token == "first-access-token-xxxxxxxx"
    assert store.get(account.id).last_refreshed_at is None


def test_a_writer_that_lost_its_lease_is_rejected(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3000)

    def taken_over() -> None:
        clock.advance(61)
        assert store.claim(account.id, owner="usurper", lease_seconds=60) is not None

    outcome = _refresh(store, fake_oauth, account.id, clock, policy, _after_call=taken_over)
    assert outcome.result == "stale"
    assert store.access_grant(account.id).access_token == "first-access-token-xxxxxxxx"
    assert store.get(account.id).lease_owner == "usurper"


# -- sweep -------------------------------------------------------------------------------------


def test_sweep_refreshes_every_due_account_and_skips_the_rest(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    due = [connect_fake(store, clock, email=f"due{n}@example.com") for n in range(6)]
    clock.advance(3000)
    fresh = connect_fake(store, clock, email="fresh@example.com")
    gone = connect_fake(store, clock, email="gone@example.com")
    store.disconnect(gone.id)
    clock.advance(10)
    report = _sweep(store, fake_oauth, clock, policy)
    assert report.due == 6 and report.count("refreshed") == 6
    assert sorted(o.account_id for o in report.outcomes) == sorted(a.id for a in due)
    assert fresh.id not in {o.account_id for o in report.outcomes}
    assert fake_oauth.calls == 6  # none for the disconnected account


def test_a_stop_during_a_sweep_starts_no_new_refresh(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy
) -> None:
    for n in range(6):
        connect_fake(store, clock, email=f"due{n}@example.com")
    clock.advance(3000)
    stop = threading.Event()
    client = FakeOAuth()
    client.script.append(stop.set)  # the shutdown arrives while the first refresh runs
    report = sweep(store, client, clock=clock, policy=policy, owner=OWNER, max_workers=1, stop=stop)
    assert client.calls == 1 and report.count("refreshed") == 1
    # The rest stay due, unclaimed, for the next sweep (here or in another process).
    left = store.due_account_ids(clock.now())
    assert len(left) == 5
    assert all(store.get(account_id).lease_owner is None for account_id in left)


def test_one_broken_account_does_not_stop_the_sweep(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy
) -> None:
    for n in range(3):
        connect_fake(store, clock, email=f"user{n}@example.com")
    clock.advance(3000)
    client = FakeOAuth()
    client.script.append(RuntimeError("a bug"))
    report = _sweep(store, client, clock, policy)
    assert report.count("refreshed") == 2
    (broken,) = [o for o in report.outcomes if o.result == "failed"]
    assert broken.error_code == "internal"


def test_sweep_warns_once_about_an_expiring_refresh_token(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy
) -> None:
    account = connect_fake(store, clock, refresh_token_expires_in=10 * 86400)
    clock.advance(3000)
    client = FakeOAuth()
    # Webex keeps the refresh token and reports its countdown (no reset).
    client.script.append(
        TokenSet(
            access_token="renewed-access-xxxxxxxx",
            expires_in=3600,
            refresh_token_expires_in=10 * 86400 - 3000,
        )
    )
    report = _sweep(store, client, clock, policy)
    assert report.warnings == 1
    clock.advance(3000)
    assert _sweep(store, client, clock, policy).warnings == 0
    warnings = [e for e in store.events(account.id) if e.kind is EventKind.REFRESH_TOKEN_EXPIRING]
    assert len(warnings) == 1


def test_a_forced_refresh_uses_a_token_replaced_since_the_caller_looked(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    seen = store.access_grant(account.id)  # a 401 on this token, then, before our claim...
    clock.advance(5)
    assert _refresh(store, fake_oauth, account.id, clock, policy, force=True).result == "refreshed"
    replaced = store.access_grant(account.id).access_token
    # ...another process replaced it: ours must not refresh a second time.
    outcome = _refresh(
        store, fake_oauth, account.id, clock, policy, force=True, unless_replaced=seen.expires_at
    )
    assert outcome.result == "fresh" and fake_oauth.calls == 1
    assert store.access_grant(account.id).access_token == replaced
    assert store.get(account.id).lease_owner is None


def test_an_account_that_breaks_before_its_claim_shows_failing_and_waits(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    import sqlalchemy as sa

    from tokenbot.core.models import Account

    good = connect_fake(store, clock, email="good@example.com")
    broken = connect_fake(store, clock, email="broken@example.com")
    with store.db.write() as session:  # a ciphertext moved from another row: it cannot open
        moved = session.execute(
            sa.select(Account.refresh_token_enc).where(Account.id == good.id)
        ).scalar_one()
        session.execute(
            sa.update(Account).where(Account.id == broken.id).values(refresh_token_enc=moved)
        )
    clock.advance(3000)
    report = _sweep(store, fake_oauth, clock, policy)
    assert report.count("refreshed") == 1 and report.count("failed") == 1
    view = store.get(broken.id)
    assert view.status.value == "refresh_failing"
    assert view.last_error is not None and view.last_error.startswith("crypto_failed")
    assert view.next_refresh_at is not None and view.next_refresh_at > clock.now()
    assert _kinds(store, broken.id)[-1] == EventKind.REFRESH_FAILED
    # Not retried every sweep: the next one leaves it alone until its back-off ends.
    assert _sweep(store, fake_oauth, clock, policy).due == 0
