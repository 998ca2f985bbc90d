"""The shared rate view of the token (bot/budget.py), on an injected clock.

The last test runs workers against a model of Webex's limit (a sliding window per token, the
emulator's `RateLimiter`), so "one 429 per window" and "paced, not one at a time" are checked
on the whole loop, not on one method.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections import deque

import pytest

from tokenbot.bot.budget import WebexBudget
from tokenbot.core.errors import RateLimited


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _answered(budget: WebexBudget, calls: int) -> None:
    for _ in range(calls):
        budget.acquire(max_wait=0)
        budget.release()


def _refused(budget: WebexBudget, retry_after: float) -> None:
    budget.acquire(max_wait=0)
    budget.rate_limited(retry_after)
    budget.release(refused=True)


def test_without_a_429_calls_go_at_full_speed() -> None:
    clock = Clock()
    budget = WebexBudget(window_seconds=60, monotonic=clock)
    for _ in range(1000):
        assert budget.acquire(max_wait=0) == 0
    assert budget.limit is None


def test_a_429_blocks_every_caller_for_its_retry_after() -> None:
    clock = Clock()
    budget = WebexBudget(window_seconds=60, monotonic=clock)
    _answered(budget, 10)
    _refused(budget, retry_after=5)
    assert budget.blocked_for() == 5
    with pytest.raises(RateLimited) as raised:
        budget.acquire(max_wait=4.9)
    assert raised.value.retry_after == 5
    clock.now += 5
    assert budget.blocked_for() == 0
    budget.acquire(max_wait=0)


def test_after_a_429_calls_are_paced_to_what_the_window_held_not_one_at_a_time() -> None:
    clock = Clock()
    budget = WebexBudget(window_seconds=60, monotonic=clock)
    _answered(budget, 10)
    clock.now += 1
    _refused(budget, retry_after=59)
    assert budget.limit == 10
    assert budget.span == 60  # from the oldest call to the end of the wait
    clock.now += 59  # the wait is over, and so is the window that held the 10 calls
    # Ten calls start at once (all workers keep going), none after them within the window.
    for _ in range(10):
        budget.acquire(max_wait=0)
    with pytest.raises(RateLimited) as raised:
        budget.acquire(max_wait=0)
    assert raised.value.retry_after == 60  # all ten in flight: room a window after an answer
    for _ in range(10):
        budget.release()
    clock.now += 30
    with pytest.raises(RateLimited) as raised:
        budget.acquire(max_wait=0)
    assert raised.value.retry_after == pytest.approx(30)  # the oldest answer leaves the window
    clock.now += 30
    budget.acquire(max_wait=0)


def test_a_refused_call_does_not_count_and_each_refusal_lowers_the_budget() -> None:
    clock = Clock()
    budget = WebexBudget(window_seconds=60, monotonic=clock)
    _answered(budget, 8)
    for _ in range(3):
        budget.acquire(max_wait=0)  # three in flight when Webex starts refusing
    budget.rate_limited(2)
    budget.release(refused=True)
    assert budget.limit == 10  # 8 answered + 2 still in flight
    budget.rate_limited(2)
    budget.release(refused=True)
    assert budget.limit == 9
    budget.release()  # the third got through: it counts, the budget stays
    assert budget.limit == 9
    assert budget.rate_limited_total == 2


def test_a_429_before_a_whole_window_teaches_the_rate_before_it() -> None:
    clock = Clock()
    budget = WebexBudget(window_seconds=60, monotonic=clock)
    for _ in range(10):  # 20 calls in 10 s, then a 429 that says "1 s"
        _answered(budget, 2)
        clock.now += 1
    _refused(budget, retry_after=1)
    assert (budget.limit, budget.span) == (20, 11)
    clock.now += 1
    # Paced to 20 calls per 11 s: the rate before the 429, not 20 per minute.
    for _ in range(11):
        _answered(budget, 1)
        clock.now += 0.6
    assert budget.limit == 20


def test_the_budget_is_forgotten_after_a_window_that_never_used_it_up() -> None:
    clock = Clock()
    budget = WebexBudget(window_seconds=60, monotonic=clock)
    _answered(budget, 5)
    clock.now += 50
    _refused(budget, retry_after=10)
    assert (budget.limit, budget.span) == (5, 60)
    clock.now += 10 + 59.9  # less than a window after the wait
    budget.acquire(max_wait=0)
    budget.release()
    assert budget.limit == 5
    clock.now += 0.2
    budget.acquire(max_wait=0)
    assert budget.limit is None


def test_a_budget_that_is_used_up_is_kept() -> None:
    clock = Clock()
    budget = WebexBudget(window_seconds=60, monotonic=clock)
    _answered(budget, 2)
    clock.now += 1
    _refused(budget, retry_after=59)
    for _ in range(5):  # every window uses the budget up: it is never forgotten
        clock.now += 60
        _answered(budget, 2)
        with pytest.raises(RateLimited):
            budget.acquire(max_wait=0)
    assert budget.limit == 2


def test_threads_share_the_budget_and_run_side_by_side() -> None:
    budget = WebexBudget(window_seconds=0.5)
    _answered(budget, 3)
    time.sleep(0.3)
    _refused(budget, retry_after=0.2)
    assert budget.limit == 3
    time.sleep(0.2)  # the wait is over, and so is the window that taught the budget
    lock = threading.Lock()
    running = [0]
    most = [0]
    gate = threading.Barrier(3, timeout=5)

    def call() -> None:
        budget.acquire(max_wait=5)
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            gate.wait()  # only passes with three calls in flight at once
        except threading.BrokenBarrierError:
            pass
        with lock:
            running[0] -= 1
        budget.release()

    threads = [threading.Thread(target=call) for _ in range(6)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    # Three at once, never more, and the next three only after the window freed room.
    assert most[0] == 3
    assert time.monotonic() - started >= 0.45


class SlidingWindow:
    """Webex's limit as the emulator models it: `limit` calls per `window` per token."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.times: deque[float] = deque()

    def check(self, now: float) -> int | None:
        """Count one call arriving now; return its Retry-After when refused, else None."""
        while self.times and now - self.times[0] >= self.window:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return max(1, math.ceil(self.window - (now - self.times[0])))
        self.times.append(now)
        return None


def _simulate(
    *, workers: int, limit: int, window: float, assumed: float, latency: float, calls: int
) -> tuple[list[float], list[float]]:
    """Run `workers` callers on one budget against the window; return (answers, 429 times)."""
    clock = Clock()
    budget = WebexBudget(window_seconds=assumed, monotonic=clock)
    webex = SlidingWindow(limit, window)
    events = [(clock.now, worker, "try") for worker in range(workers)]
    heapq.heapify(events)
    answers: list[float] = []
    refusals: list[float] = []
    retry_afters: dict[int, float] = {}
    started = 0
    while events and len(answers) < calls:
        clock.now, worker, kind = heapq.heappop(events)
        if kind == "try":
            try:
                budget.acquire(max_wait=0)
            except RateLimited as error:  # the real client waits; here: come back then
                heapq.heappush(events, (clock.now + error.retry_after, worker, "try"))
                continue
            started += 1
            # Webex counts the call half way, the answer comes back at the end.
            retry_after = webex.check(clock.now + latency / 2)
            outcome = "refused" if retry_after else "answered"
            heapq.heappush(events, (clock.now + latency, worker, outcome))
            if retry_after:
                retry_afters[worker] = retry_after
        elif kind == "refused":
            refusals.append(clock.now)
            budget.rate_limited(retry_afters.pop(worker))
            budget.release(refused=True)
            heapq.heappush(events, (clock.now, worker, "try"))
        else:
            answers.append(clock.now)
            budget.release()
            heapq.heappush(events, (clock.now, worker, "try"))
    assert started < calls * 2  # bounded: the loop always ends
    return answers, refusals


@pytest.mark.parametrize("assumed", [15.0, 60.0], ids=["window-known", "window-learned"])
def test_workers_meet_one_429_per_window_at_most_and_keep_near_the_budget(
    assumed: float,
) -> None:
    # Webex's window here is 15 s; the budget assumes it, or assumes a minute and learns it
    # from the first Retry-After.
    window, limit, workers = 15.0, 300, 8
    answers, refusals = _simulate(
        workers=workers, limit=limit, window=window, assumed=assumed, latency=0.1, calls=3000
    )
    elapsed = answers[-1] - answers[0]
    windows = math.ceil(elapsed / window)
    # The first 429 finds every worker's call in flight; after it, none in the whole run.
    first = refusals[0]
    assert all(t - first <= 0.1 + 1e-6 for t in refusals), refusals
    assert len(refusals) <= workers
    assert windows >= 9
    # Paced to the window, every worker going: close to the budget (one call at a time would
    # make 10 calls a second, half the budget of 20). A learned window is up to a second longer
    # (Retry-After is whole seconds, rounded up): ~0.94 of the budget, ~0.99 when known.
    after = [t for t in answers if t > first]
    rate = len(after) / (after[-1] - first)
    assert rate >= (0.97 if assumed == window else 0.9) * limit / window, rate
