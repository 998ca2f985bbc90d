"""One shared view of the token's Webex rate limit, for every worker and the poller.

Webex counts calls per token within a rate window (about a minute: "around 300 requests per
minute"). When one call meets 429, every other call on that token would meet it too. So:

- The first 429 blocks every caller for its `Retry-After`.
- It also teaches the budget. The window: Webex has room again after `Retry-After`, when the
  oldest call it counted leaves its window, so the window is taken to reach from the oldest call
  answered here (within `window_seconds`, the longest assumed) to the end of the wait. The
  budget: the calls answered in that window. From then on a call starts only while fewer than
  that many fall in the last window, so every worker keeps going, as fast as the window frees
  room, and no call goes out that Webex would refuse. A 429 that comes before a whole window of
  calls (an injected one, a burst) so teaches the rate of the calls before it, not less.
- A later 429 teaches both again from what the window holds then (someone else spent part of
  the budget with the same token, or Webex lowered it).
- A whole window in which the learned budget was never used up (demand fell below it) forgets
  it: full speed again, and the next 429 teaches the budget afresh.

A call counts from when its answer came back, not when it left: Webex counted it somewhere in
between, so this view frees room a little after Webex does, never before. A call answered 429
does not count (Webex refused it).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from tokenbot.core.errors import RateLimited

__all__ = ["WebexBudget"]

# Webex's rate window: its limits are per minute.
_WINDOW_SECONDS = 60.0


class WebexBudget:
    """Block every caller after a 429, then pace every caller to the budget it taught.

    Args:
        window_seconds: The longest rate window assumed at Webex (a minute): how far back the
            calls are remembered; a 429's `Retry-After` may teach a shorter one.
        monotonic: Injected for tests.
    """

    def __init__(
        self,
        *,
        window_seconds: float = _WINDOW_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window_seconds
        self._monotonic = monotonic
        self._condition = threading.Condition()
        self._blocked_until = 0.0
        # When each counted call of the last window was answered, oldest first.
        self._answered: deque[float] = deque()
        self._in_flight = 0
        self._limit: int | None = None
        self._span = window_seconds  # the window the learned budget counts in
        # The last moment the window held all the learned budget (or a 429's wait ended).
        self._full_at = 0.0
        self.rate_limited_total = 0

    @property
    def limit(self) -> int | None:
        """Return the calls per window learned from a 429, or None (full speed)."""
        with self._condition:
            return self._limit

    @property
    def span(self) -> float:
        """Return the seconds of the window the learned budget counts in."""
        with self._condition:
            return self._span

    def acquire(self, *, max_wait: float) -> float:
        """Wait for the right to make one call; return the seconds waited.

        Raises:
            RateLimited: The wait would exceed `max_wait` (0: the caller never waits).
        """
        started = self._monotonic()
        with self._condition:
            while True:
                now = self._monotonic()
                wait = self._wait_needed(now)
                if wait is None:
                    self._in_flight += 1
                    return now - started
                if now - started + wait > max_wait:
                    raise RateLimited(
                        "Webex answered 429 Too Many Requests; waiting for room in its window",
                        retry_after=wait,
                    )
                # Woken early by an answer or a 429 (notify_all), then looks again.
                self._condition.wait(wait)

    def release(self, *, refused: bool = False) -> None:
        """End a call made after `acquire`; `refused`: Webex answered it 429 (not counted)."""
        with self._condition:
            self._in_flight -= 1
            if not refused:
                now = self._monotonic()
                self._answered.append(now)
                self._forget_before(now - (self._span if self._limit else self._window))
            self._condition.notify_all()

    def rate_limited(self, retry_after: float) -> None:
        """Record a 429 (before `release` of that call): every caller waits, then is paced."""
        with self._condition:
            now = self._monotonic()
            self._forget_before(now - self._window)
            self._blocked_until = max(self._blocked_until, now + retry_after)
            oldest = self._answered[0] if self._answered else now
            self._span = min(self._window, max(retry_after, self._blocked_until - oldest))
            self._forget_before(now - self._span)
            # What Webex let through in the window: the calls answered, and those still in
            # flight but this one (each of them that is refused lowers it again).
            self._limit = max(1, len(self._answered) + self._in_flight - 1)
            self._full_at = self._blocked_until
            self.rate_limited_total += 1
            self._condition.notify_all()

    def blocked_for(self) -> float:
        """Return the seconds every caller must still wait (0 when calls may go)."""
        with self._condition:
            return max(0.0, self._blocked_until - self._monotonic())

    def _wait_needed(self, now: float) -> float | None:
        """Return None when a call may start now, else how long to wait at least."""
        self._forget_before(now - (self._span if self._limit else self._window))
        if self._blocked_until > now:
            return self._blocked_until - now
        if self._limit is None:
            return None
        if now - self._full_at > self._span:
            # A whole window in which the budget was never used up: demand is below it.
            self._limit = None
            self._span = self._window
            return None
        used = len(self._answered) + self._in_flight
        if used + 1 >= self._limit:
            self._full_at = now  # this call uses the window up, or the window is full
        if used < self._limit:
            return None
        if not self._answered:
            # All of the window's budget is in flight: room comes a window after an answer.
            return self._span
        return max(0.001, self._answered[0] + self._span - now)

    def _forget_before(self, horizon: float) -> None:
        while self._answered and self._answered[0] <= horizon:
            self._answered.popleft()
