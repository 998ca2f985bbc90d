"""One shared view of the token's Webex rate limit, for every worker and the poller.

Webex counts calls per token. When one call meets 429, every other call on that token would
meet it too: so the first 429 blocks every caller for its `Retry-After`, and after the wait
calls go one at a time (a single call in flight can meet at most one 429) until a quiet spell
without 429 has passed. Without this, each of N workers would spend its own 429 per window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tokenbot.core.errors import RateLimited

__all__ = ["WebexBudget"]

# After a 429, calls stay one at a time for this long once the wait is over.
_CAREFUL_SECONDS = 60.0


class WebexBudget:
    """Block every caller after a 429, then let calls through one at a time for a while.

    Args:
        careful_seconds: How long after a wait calls stay one at a time.
        monotonic: Injected for tests.
    """

    def __init__(
        self,
        *,
        careful_seconds: float = _CAREFUL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._careful_seconds = careful_seconds
        self._monotonic = monotonic
        self._condition = threading.Condition()
        self._blocked_until = 0.0
        self._careful_until = 0.0
        self._in_flight = 0
        self.rate_limited_total = 0

    def acquire(self, *, max_wait: float) -> float:
        """Wait for the right to make one call; return the seconds waited.

        Raises:
            RateLimited: The wait would exceed `max_wait` (0: the caller never waits).
        """
        started = self._monotonic()
        with self._condition:
            while True:
                now = self._monotonic()
                blocked = self._blocked_until - now
                if blocked > 0:
                    if now - started + blocked > max_wait:
                        raise RateLimited(
                            "Webex answered 429 Too Many Requests; waiting for Retry-After",
                            retry_after=blocked,
                        )
                    self._condition.wait(blocked)
                    continue
                if now < self._careful_until and self._in_flight > 0:
                    # One call at a time: the next waits until this one is answered.
                    self._condition.wait(max(0.01, self._careful_until - now))
                    continue
                self._in_flight += 1
                return now - started

    def release(self) -> None:
        """End a call made after `acquire`."""
        with self._condition:
            self._in_flight -= 1
            self._condition.notify_all()

    def rate_limited(self, retry_after: float) -> None:
        """Record a 429: every caller waits `retry_after` seconds, then goes one at a time."""
        with self._condition:
            now = self._monotonic()
            self._blocked_until = max(self._blocked_until, now + retry_after)
            self._careful_until = self._blocked_until + self._careful_seconds
            self.rate_limited_total += 1
            self._condition.notify_all()

    def blocked_for(self) -> float:
        """Return the seconds every caller must still wait (0 when calls may go)."""
        with self._condition:
            return max(0.0, self._blocked_until - self._monotonic())
