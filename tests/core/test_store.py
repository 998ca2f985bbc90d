"""The token store's contract, on SQLite and PostgreSQL: connect, read, claim, complete, fail."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.core.factories import DAY
from tests.core.factories import HOUR
from tests.core.factories import identity
from tests.core.factories import tokens
from tokenbot.core.clock import FrozenClock
from tokenbot.core.db import Database
from tokenbot.core.errors import AccountNotFound
from tokenbot.core.errors import NeedsReauth
from tokenbot.core.errors import PersistenceFailed
from tokenbot.core.errors import StaleWrite
from tokenbot.core.errors import StoreError
from tokenbot.core.models import Account
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import EventKind
from tokenbot.core.store import TokenStore


def _kinds(store: TokenStore, account_id: int) -> list[EventKind]:
    return [event.kind for event in store.events(account_id)]


def _connect(store: TokenStore, clock: FrozenClock, **kwargs: object) -> int:
    return store.save_connected(
        identity(),
        ["spark:all"],
        tokens(**kwargs),
        sent_at=clock.now(),  # type: ignore[arg-type]
    ).id


def test_connect_stores_a_new_active_account(store: TokenStore, clock: FrozenClock) -> None:
    person = identity("alice")
    sent = clock.now()
    clock.advance(2)  # the response arrives later than the request was sent
    view = store.save_connected(person, ["spark:all", "spark:people_read"], tokens(), sent_at=sent)
    assert view.person_id == person.person_id
    assert view.email == "alice@example.com"
    assert view.scopes == ("spark:all", "spark:people_read")
    assert view.status is AccountStatus.ACTIVE
    assert view.has_tokens and view.version == 1 and view.failure_count == 0
    # Expiries count from the sent time minus the skew, the keep-alive sets the refresh.
    assert view.access_expires_at == sent + timedelta(days=14, seconds=-30)
    assert view.refresh_expires_at == sent + timedelta(days=90, seconds=-30)
    assert view.obtained_at == sent
    assert view.next_refresh_at == sent + timedelta(hours=24)
    assert view.health(clock.now()) == "healthy"
    assert store.get(view.id) == view
    assert store.get_by_person(person.person_id) == view
    assert store.get_by_person("nobody") is None
    assert _kinds(store, view.id) == [EventKind.CONNECTED]


def test_connect_without_a_refresh_token_is_refused(store: TokenStore, clock: FrozenClock) -> None:
    with pytest.raises(StoreError, match="no refresh token"):
        store.save_connected(identity(), ["spark:all"], tokens(refresh=None), sent_at=clock.now())
    assert store.count_accounts() == 0


def test_reconnect_replaces_tokens_and_heals_the_account(
    store: TokenStore, clock: FrozenClock
) -> None:
    person = identity()
    first = store.save_connected(person, ["spark:all"], tokens(), sent_at=clock.now())
    store.mark_needs_reauth(first.id, reason="invalid_grant")
    clock.advance(HOUR)
    new = tokens()
    again = store.save_connected(person, ["spark:all"], new, sent_at=clock.now())
    assert again.id == first.id
    assert again.status is AccountStatus.ACTIVE
    assert again.failure_count == 0 and again.last_error is None
    assert again.version == first.version + 2
    assert store.access_grant(first.id).access_token == new.access_token
    assert _kinds(store, first.id) == [
        EventKind.RECONNECTED,
        EventKind.NEEDS_REAUTH,
        EventKind.CONNECTED,
    ]
    assert store.count_accounts() == 1


def test_unknown_account_ids_raise(store: TokenStore) -> None:
    for call in (store.get, store.access_grant, store.disconnect, store.set_bot_identity):
        with pytest.raises(AccountNotFound):
            call(9999)
    with pytest.raises(AccountNotFound):
        store.claim(9999, owner="w", lease_seconds=30)


def test_access_grant_hands_out_the_access_token_only(
    store: TokenStore, clock: FrozenClock
) -> None:
    sent = tokens()
    account = store.save_connected(identity(), ["spark:all"], sent, sent_at=clock.now())
    grant = store.access_grant(account.id)
    assert grant.access_token == sent.access_token
    assert grant.expires_at == account.access_expires_at
    assert grant.version == account.version
    assert grant.status is AccountStatus.ACTIVE
    assert not hasattr(grant, "refresh_token")
    assert sent.access_token not in repr(grant)
    assert sent.refresh_token and sent.refresh_token not in repr(account)


def test_list_search_and_count(store: TokenStore, clock: FrozenClock) -> None:
    for name in ("carol", "alice", "bob", "alina"):
        store.save_connected(identity(name), ["spark:all"], tokens(), sent_at=clock.now())
    assert [a.email for a in store.list_accounts()] == [
        "alice@example.com",
        "alina@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    assert [a.display_name for a in store.list_accounts(search="ALI")] == ["Alice", "Alina"]
    assert store.count_accounts("ali") == 2
    assert store.count_accounts() == 4
    assert [a.email for a in store.list_accounts(offset=1, limit=2)] == [
        "alina@example.com",
        "bob@example.com",
    ]
    # LIKE wildcards in the search are literal.
    assert store.count_accounts("%") == 0


def test_bot_identity_is_unique_and_moves(store: TokenStore, clock: FrozenClock) -> None:
    first, second = _connect(store, clock), _connect(store, clock)
    assert store.bot_identity() is None
    assert store.set_bot_identity(first).is_bot_identity
    store.set_bot_identity(second)
    bot = store.bot_identity()
    assert bot is not None and bot.id == second
    assert not store.get(first).is_bot_identity
    assert EventKind.BOT_IDENTITY_SET in _kinds(store, second)
    store.disconnect(second)
    assert store.bot_identity() is None
    with pytest.raises(StoreError, match="disconnected"):
        store.set_bot_identity(second)


def test_a_second_claim_while_leased_gets_none(store: TokenStore, clock: FrozenClock) -> None:
    account = store.save_connected(identity(), ["spark:all"], tokens(), sent_at=clock.now())
    claim = store.claim(account.id, owner="a", lease_seconds=30)
    assert claim is not None
    assert claim.version == account.version + 1
    assert claim.obtained_at == account.obtained_at
    assert claim.lease_until == clock.now() + timedelta(seconds=30)
    assert store.claim(account.id, owner="b", lease_seconds=30) is None
    clock.advance(29)
    assert store.claim(account.id, owner="b", lease_seconds=30) is None
    assert claim.refresh_token not in repr(claim)


def test_a_lapsed_lease_can_be_taken_over_and_fences_the_old_holder(
    store: TokenStore, clock: FrozenClock
) -> None:
    account_id = _connect(store, clock)
    old = store.claim(account_id, owner="slow", lease_seconds=30)
    assert old is not None
    clock.advance(31)
    new = store.claim(account_id, owner="fresh", lease_seconds=30)
    assert new is not None and new.version == old.version + 1
    before = store.get(account_id)
    late = tokens()
    with pytest.raises(StaleWrite):
        store.complete_refresh(old, late, sent_at=clock.now())
    with pytest.raises(StaleWrite):
        store.fail_refresh(old, error_code="x", message="y", retry_at=clock.now())
    with pytest.raises(StaleWrite):
        store.mark_needs_reauth(old, reason="invalid_grant")
    store.release(old)  # not ours any more: no effect
    after = store.get(account_id)
    assert after == before
    assert store.access_grant(account_id).access_token != late.access_token
    assert store.claim(account_id, owner="third", lease_seconds=30) is None
    assert EventKind.REFRESHED not in _kinds(store, account_id)


def test_complete_refresh_stores_everything_in_one_go(
    store: TokenStore, clock: FrozenClock
) -> None:
    account_id = _connect(store, clock)
    clock.advance(DAY)
    claim = store.claim(account_id, owner="w", lease_seconds=30)
    assert claim is not None
    sent = clock.now()
    new = tokens(expires_in=14 * DAY, refresh_expires_in=90 * DAY)
    clock.advance(1)
    view = store.complete_refresh(claim, new, sent_at=sent, duration_ms=123)
    assert view.status is AccountStatus.ACTIVE
    assert view.version == claim.version + 1
    assert view.access_expires_at == sent + timedelta(days=14, seconds=-30)
    assert view.refresh_expires_at == sent + timedelta(days=90, seconds=-30)
    assert view.obtained_at == view.last_refreshed_at == sent
    assert view.next_refresh_at == sent + timedelta(hours=24)
    assert view.lease_owner is None and view.lease_until is None
    assert store.access_grant(account_id).access_token == new.access_token
    again = store.claim(account_id, owner="w2", lease_seconds=30)
    assert again is not None and again.refresh_token == new.refresh_token
    event = store.events(account_id)[0]
    assert event.kind is EventKind.REFRESHED
    assert event.duration_ms == 123 and event.owner == "w"


def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one(
    store: TokenStore, clock: FrozenClock
) -> None:
    account_id = _connect(store, clock)
    first = store.claim(account_id, owner="w", lease_seconds=30)
    assert first is not None
    store.complete_refresh(first, tokens(refresh=None), sent_at=clock.now())
    second = store.claim(account_id, owner="w", lease_seconds=30)
    assert second is not None
    assert second.refresh_token == first.refresh_token
    assert store.get(account_id).has_tokens
    assert store.events(account_id)[0].detail == "refresh token kept"


def test_fail_refresh_backs_off_and_keeps_the_tokens(store: TokenStore, clock: FrozenClock) -> None:
    account_id = _connect(store, clock)
    grant = store.access_grant(account_id)
    claim = store.claim(account_id, owner="w", lease_seconds=30)
    assert claim is not None
    retry_at = clock.now() + timedelta(minutes=5)
    view = store.fail_refresh(
        claim,
        error_code="server_error",
        message=f"HTTP 503 while sending {claim.refresh_token}",
        retry_at=retry_at,
    )
    assert view.status is AccountStatus.REFRESH_FAILING
    assert view.failure_count == 1
    assert view.next_refresh_at == retry_at
    assert view.lease_owner is None
    assert view.last_error is not None and view.last_error.startswith("server_error: HTTP 503")
    assert claim.refresh_token not in view.last_error
    assert view.health(clock.now()) == "failing"
    assert store.access_grant(account_id).access_token == grant.access_token
    event = store.events(account_id)[0]
    assert event.kind is EventKind.REFRESH_FAILED
    assert claim.refresh_token not in event.detail
    # Not due until the retry time; then due, claimable, and a success heals it.
    assert account_id not in store.due_account_ids(clock.now())
    assert account_id in store.due_account_ids(retry_at)
    clock.set(retry_at)
    again = store.claim(account_id, owner="w", lease_seconds=30)
    assert again is not None
    healed = store.complete_refresh(again, tokens(), sent_at=clock.now())
    assert healed.failure_count == 0 and healed.last_error is None
    assert healed.status is AccountStatus.ACTIVE


def test_needs_reauth_stops_refreshing_for_good(store: TokenStore, clock: FrozenClock) -> None:
    account_id = _connect(store, clock)
    claim = store.claim(account_id, owner="w", lease_seconds=30)
    assert claim is not None
    view = store.mark_needs_reauth(claim, reason="invalid_grant: refresh token revoked")
    assert view.status is AccountStatus.NEEDS_REAUTH
    assert view.next_refresh_at is None and view.lease_owner is None
    assert view.health(clock.now()) == "needs_reauth"
    with pytest.raises(NeedsReauth):
        store.access_grant(account_id)
    clock.advance(400 * DAY)
    assert store.due_account_ids(clock.now()) == []
    assert store.claim(account_id, owner="w", lease_seconds=30) is None
    event = store.events(account_id)[0]
    assert event.kind is EventKind.NEEDS_REAUTH
    assert event.detail == "invalid_grant: refresh token revoked"


def test_release_drops_only_our_lease(store: TokenStore, clock: FrozenClock) -> None:
    account_id = _connect(store, clock)
    claim = store.claim(account_id, owner="w", lease_seconds=30)
    assert claim is not None
    store.release(claim)
    view = store.get(account_id)
    assert view.lease_owner is None and view.version == claim.version
    assert store.claim(account_id, owner="other", lease_seconds=30) is not None
    # The released claim cannot write any more: the lease is someone else's.
    with pytest.raises(StaleWrite):
        store.complete_refresh(claim, tokens(), sent_at=clock.now())


def test_due_accounts_follow_next_refresh_at(store: TokenStore, clock: FrozenClock) -> None:
    short = _connect(store, clock, expires_in=HOUR)  # due at 45 min (15 min margin)
    long = _connect(store, clock)  # due at 24 h (keep-alive)
    now = clock.now()
    assert store.due_account_ids(now) == []
    assert store.due_account_ids(now + timedelta(minutes=45)) == [short]
    assert store.due_account_ids(now + timedelta(hours=25)) == [short, long]
    assert store.due_account_ids(now + timedelta(hours=25), limit=1) == [short]
    # A leased account is not due until its lease lapses.
    clock.advance(45 * 60)
    assert store.claim(short, owner="w", lease_seconds=60) is not None
    assert store.due_account_ids(clock.now()) == []
    assert store.due_account_ids(clock.now() + timedelta(seconds=61)) == [short]
    assert store.get(short).health(clock.now()) == "refresh_due"


def test_disconnect_wipes_token_material(
    store: TokenStore, database: Database, clock: FrozenClock
) -> None:
    account_id = _connect(store, clock)
    store.set_bot_identity(account_id)
    view = store.disconnect(account_id)
    assert view.status is AccountStatus.DISCONNECTED
    assert not view.has_tokens and not view.is_bot_identity
    assert view.health(clock.now()) == "disconnected"
    with database.read() as session:
        row = session.execute(
            sa.select(
                Account.access_token_enc,
                Account.refresh_token_enc,
                Account.access_expires_at,
                Account.refresh_expires_at,
                Account.next_refresh_at,
            ).where(Account.id == account_id)
        ).one()
    assert tuple(row) == (None, None, None, None, None)
    with pytest.raises(NeedsReauth):
        store.access_grant(account_id)
    assert store.due_account_ids(clock.now() + timedelta(days=1000)) == []
    assert store.claim(account_id, owner="w", lease_seconds=30) is None
    assert _kinds(store, account_id)[0] is EventKind.DISCONNECTED


def test_refresh_token_warning_fires_once_per_token(store: TokenStore, clock: FrozenClock) -> None:
    account_id = _connect(store, clock, refresh_expires_in=30 * DAY)
    assert not store.note_refresh_token_warning(account_id)
    clock.advance(16 * DAY + 60)  # 14 days minus skew left: inside the window
    assert store.note_refresh_token_warning(account_id)
    assert not store.note_refresh_token_warning(account_id)
    assert _kinds(store, account_id)[0] is EventKind.REFRESH_TOKEN_EXPIRING
    # A refresh that brings a new refresh token re-arms the warning.
    claim = store.claim(account_id, owner="w", lease_seconds=30)
    assert claim is not None
    store.complete_refresh(claim, tokens(refresh_expires_in=30 * DAY), sent_at=clock.now())
    assert store.get(account_id).refresh_warned_at is None
    assert not store.note_refresh_token_warning(account_id)


def test_events_page_newest_first(store: TokenStore, clock: FrozenClock) -> None:
    account_id = _connect(store, clock)
    for n in range(5):
        clock.advance(1)
        store.record_event(account_id, EventKind.TESTED, detail=f"test {n}", duration_ms=n)
    newest = store.events(account_id, limit=2)
    assert [e.detail for e in newest] == ["test 4", "test 3"]
    older = store.events(account_id, limit=10, before_id=newest[-1].id)
    assert [e.detail for e in older] == ["test 2", "test 1", "test 0", "scopes: spark:all"]
    with pytest.raises(AccountNotFound):
        store.record_event(9999, EventKind.TESTED)


def test_record_event_redacts_token_shaped_detail(store: TokenStore, clock: FrozenClock) -> None:
    account_id = _connect(store, clock)
    event = store.record_event(
        account_id, EventKind.TESTED, detail="sent Authorization: Bearer abcdefghijklmnop1234"
    )
    assert "abcdefghijklmnop1234" not in event.detail


def test_a_database_failure_on_complete_is_an_alarm(
    store: TokenStore, database: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = _connect(store, clock)
    claim = store.claim(account_id, owner="w", lease_seconds=30)
    assert claim is not None
    before = store.get(account_id)

    def broken(*args: object, **kwargs: object) -> None:
        raise sa.exc.OperationalError("UPDATE accounts", {}, Exception("disk I/O error"))

    monkeypatch.setattr("tokenbot.core.rows.RowAccess.fenced_update", staticmethod(broken))
    with pytest.raises(PersistenceFailed) as caught:
        store.complete_refresh(claim, tokens(), sent_at=clock.now())
    assert isinstance(caught.value.__cause__, sa.exc.OperationalError)
    monkeypatch.undo()
    after = store.get(account_id)
    assert after == before  # nothing stored, still leased: not reported healthy-and-refreshed
    assert EventKind.REFRESHED not in _kinds(store, account_id)
