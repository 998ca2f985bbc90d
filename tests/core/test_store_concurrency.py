"""Racing refreshers: one claim wins, stale writers are fenced off, on both backends."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from tests.core.factories import identity
from tests.core.factories import tokens
from tokenbot.core.clock import FrozenClock
from tokenbot.core.errors import StaleWrite
from tokenbot.core.models import EventKind
from tokenbot.core.records import Claim
from tokenbot.core.store import TokenStore

T = TypeVar("T")


def _race(count: int, work: Callable[[int], T]) -> list[T | BaseException]:
    """Run `work(i)` in `count` threads released together; return results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[T | BaseException] = [RuntimeError("did not run")] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_twenty_threads_claiming_one_account_get_exactly_one_claim(
    store: TokenStore, clock: FrozenClock
) -> None:
    account = store.save_connected(identity(), ["spark:all"], tokens(), sent_at=clock.now())
    results = _race(20, lambda i: store.claim(account.id, owner=f"w{i}", lease_seconds=30))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    claims = [r for r in results if isinstance(r, Claim)]
    assert len(claims) == 1
    assert results.count(None) == 19
    view = store.get(account.id)
    assert view.lease_owner == claims[0].owner
    assert view.version == account.version + 1


def test_racing_completions_store_exactly_one_result(store: TokenStore, clock: FrozenClock) -> None:
    account = store.save_connected(identity(), ["spark:all"], tokens(), sent_at=clock.now())
    claim = store.claim(account.id, owner="w", lease_seconds=30)
    assert claim is not None
    answers = [tokens() for _ in range(8)]
    results = _race(
        8, lambda i: store.complete_refresh(claim, answers[i], sent_at=clock.now()).version
    )
    winners = [i for i, r in enumerate(results) if isinstance(r, int)]
    assert len(winners) == 1
    assert all(isinstance(r, StaleWrite) for i, r in enumerate(results) if i not in winners)
    assert store.access_grant(account.id).access_token == answers[winners[0]].access_token
    kinds = [event.kind for event in store.events(account.id)]
    assert kinds.count(EventKind.REFRESHED) == 1


def test_many_accounts_refreshed_by_many_threads_lose_nothing(
    store: TokenStore, clock: FrozenClock
) -> None:
    ids = [
        store.save_connected(identity(), ["spark:all"], tokens(), sent_at=clock.now()).id
        for _ in range(5)
    ]
    issued: dict[int, list[str]] = {account_id: [] for account_id in ids}
    lock = threading.Lock()

    def refresh_all(i: int) -> int:
        done = 0
        for account_id in ids:
            claim = store.claim(account_id, owner=f"w{i}", lease_seconds=30)
            if claim is None:
                continue
            answer = tokens()
            store.complete_refresh(claim, answer, sent_at=clock.now())
            with lock:
                assert answer.refresh_token is not None
                issued[account_id].append(answer.refresh_token)
            done += 1
        return done

    results = _race(6, refresh_all)
    assert not [r for r in results if isinstance(r, BaseException)]
    for account_id in ids:
        # The stored refresh token is the last one issued for that account: none lost.
        claim = store.claim(account_id, owner="check", lease_seconds=30)
        assert claim is not None
        assert issued[account_id] and claim.refresh_token == issued[account_id][-1]
