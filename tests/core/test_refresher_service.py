"""TokenService, the on-demand path: inline refresh, single flight, waiting, 401 retry (R-17)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from tests.plugins.tokens import FakeOAuth
from tests.plugins.tokens import connect_fake
from tokenbot.core.clock import FrozenClock
from tokenbot.core.errors import FatalOAuthError
from tokenbot.core.errors import NeedsReauth
from tokenbot.core.errors import TransientOAuthError
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.store import TokenStore
from tokenbot.core.token_service import TokenService
from tokenbot.core.token_service import TokenUnavailable

FIRST = "first-access-token-xxxxxxxx"


def _service(
    store: TokenStore, client: FakeOAuth, clock: FrozenClock, policy: RefreshPolicy, **kw: float
) -> TokenService:
    return TokenService(
        store,
        client,
        clock=clock,
        policy=policy,
        owner_prefix="svc",
        **kw,  # type: ignore[arg-type]
    )


def test_a_token_that_is_not_due_is_handed_out_without_a_call(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3600 - 30 - policy.margin_seconds - 1)
    assert _service(store, fake_oauth, clock, policy).access_token(account.id) == FIRST
    assert fake_oauth.calls == 0


def test_a_due_token_is_refreshed_inline_once(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3600 - 30 - policy.margin_seconds + 1)  # no scheduler ran
    service = _service(store, fake_oauth, clock, policy)
    token = service.access_token(account.id)
    assert token == "fake-access-0001-xxxxxxxxxxxx"
    assert service.access_token(account.id) == token
    assert fake_oauth.calls == 1


class _ReadCounter:
    """The store, noting which threads read a grant, so a test can wait for every caller."""

    def __init__(self, store: TokenStore) -> None:
        self._store = store
        self._readers: set[int] = set()
        self.reads = 0
        self._cond = threading.Condition()

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def access_grant(self, account_id: int) -> object:
        with self._cond:
            self._readers.add(threading.get_ident())
            self.reads += 1
            self._cond.notify_all()
        return self._store.access_grant(account_id)

    def wait_for_reads(self, count: int) -> None:
        """Wait until `count` different threads have read the grant."""
        with self._cond:
            assert self._cond.wait_for(lambda: len(self._readers) >= count, timeout=15), len(
                self._readers
            )


def _hammer(services: list[TokenService], account_id: int, per_service: int) -> list[str]:
    start = threading.Barrier(len(services) * per_service)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(service: TokenService) -> None:
        try:
            start.wait(10)
            token = service.access_token(account_id)
            with lock:
                results.append(token)
        except BaseException as exc:  # collected and re-raised by the test
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(s,)) for s in services for _ in range(per_service)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not [t for t in threads if t.is_alive()]
    assert not errors, errors
    return results


def test_many_threads_and_two_services_cause_one_refresh_and_share_its_token(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3600)  # past expiry: nobody may use the old token
    client = FakeOAuth(rotate=True)
    watched = _ReadCounter(store)
    # The token call is held until all 20 callers (threads) have read the expired token, so
    # every one of them really arrives while the refresh is in flight.
    client.script.append(lambda: watched.wait_for_reads(20))
    # Two services over one store stand for two processes: each has its own in-process locks.
    services = [_service(watched, client, clock, policy) for _ in range(2)]  # type: ignore[arg-type]
    results = _hammer(services, account.id, per_service=10)
    assert client.calls == 1
    assert set(results) == {"fake-access-0001-xxxxxxxxxxxx"}


def test_after_401_refreshes_once_and_not_again_for_an_old_token(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    service = _service(store, fake_oauth, clock, policy)
    seen = service.access_token(account.id)
    assert seen == FIRST and fake_oauth.calls == 0
    fresh = service.after_401(account.id, seen)
    assert fresh != seen and fake_oauth.calls == 1
    # A second thread that also saw the old token gets the new one, without a second refresh.
    assert service.after_401(account.id, seen) == fresh
    assert fake_oauth.calls == 1


def test_force_refresh_refreshes_a_token_that_is_not_due(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    outcome = _service(store, fake_oauth, clock, policy).force_refresh(account.id)
    assert outcome.result == "refreshed" and fake_oauth.calls == 1
    assert store.access_grant(account.id).access_token != FIRST


def test_a_dead_grant_raises_needs_reauth(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3000)
    fake_oauth.script.append(FatalOAuthError("invalid_grant", "revoked"))
    service = _service(store, fake_oauth, clock, policy)
    with pytest.raises(NeedsReauth):
        service.access_token(account.id)
    with pytest.raises(NeedsReauth):
        service.access_token(account.id)
    assert fake_oauth.calls == 1


def test_a_transient_failure_falls_back_to_a_still_valid_token_else_fails_clearly(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    service = _service(store, fake_oauth, clock, policy)
    clock.advance(3000)  # due, but 570 s of validity left
    fake_oauth.script.append(TransientOAuthError("Webex is down"))
    assert service.access_token(account.id) == FIRST
    clock.advance(600 - 60 + 1)  # under a minute left: not sendable
    fake_oauth.script.append(TransientOAuthError("Webex is still down"))
    with pytest.raises(TokenUnavailable):
        service.access_token(account.id)
    assert fake_oauth.calls == 2


def test_waiting_for_a_holder_is_bounded(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3000)
    # Someone holds the lease and never finishes (the frozen clock never lets it lapse).
    assert store.claim(account.id, owner="stuck", lease_seconds=600) is not None
    service = _service(store, fake_oauth, clock, policy, wait_seconds=0.3)
    assert service.access_token(account.id) == FIRST  # still valid: used (the wait ended)
    clock.advance(600 - 60 - 1)
    assert store.get(account.id).lease_until > clock.now()  # type: ignore[operator]
    with pytest.raises(TokenUnavailable):
        service.access_token(account.id)
    assert fake_oauth.calls == 0


def test_a_holder_that_died_is_replaced_once_its_lease_lapses(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    clock.advance(3000)
    assert store.claim(account.id, owner="dead", lease_seconds=60) is not None
    clock.advance(61)
    token = _service(store, fake_oauth, clock, policy).access_token(account.id)
    assert token == "fake-access-0001-xxxxxxxxxxxx" and fake_oauth.calls == 1
    view = store.get(account.id)
    assert view.access_expires_at is not None
    assert view.access_expires_at - clock.now() > timedelta(seconds=3000)


def test_a_token_read_is_reused_briefly_and_a_401_or_forget_reads_again(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    watched = _ReadCounter(store)
    service = _service(watched, fake_oauth, clock, policy, cache_seconds=60)  # type: ignore[arg-type]
    reads = watched.reads
    assert service.access_token(account.id) == FIRST
    assert service.access_token(account.id) == FIRST
    assert watched.reads == reads + 1  # the second call used the token read by the first
    # Due (the frozen clock moved on): the cache never hands out a token inside the margin.
    clock.advance(3600 - 30 - policy.margin_seconds + 1)
    renewed = service.access_token(account.id)
    assert renewed != FIRST and fake_oauth.calls == 1
    before = watched.reads
    service.forget(account.id)
    assert service.access_token(account.id) == renewed
    assert watched.reads == before + 1
    # A 401 never trusts the cache: it reads the store (and refreshes once).
    assert service.after_401(account.id, renewed) != renewed
    assert fake_oauth.calls == 2


def test_a_reused_token_read_expires_after_cache_seconds(
    store: TokenStore, clock: FrozenClock, policy: RefreshPolicy, fake_oauth: FakeOAuth
) -> None:
    account = connect_fake(store, clock)
    watched = _ReadCounter(store)
    ticks = [1000.0]
    service = TokenService(
        watched,  # type: ignore[arg-type]
        fake_oauth,
        clock=clock,
        policy=policy,
        cache_seconds=2,
        cache_clock=lambda: ticks[0],
    )
    reads = watched.reads
    assert service.access_token(account.id) == FIRST
    store.disconnect(account.id)  # another process: this one only sees it in the store
    ticks[0] += 1.9
    assert service.access_token(account.id) == FIRST  # read 1.9 s ago: reused
    assert watched.reads == reads + 1
    ticks[0] += 0.2
    # 2.1 s after the read: the cache has expired, the store is read and the disconnect seen.
    with pytest.raises(NeedsReauth):
        service.access_token(account.id)
    assert watched.reads == reads + 2
