"""Flood control: token buckets per sender and per space, decided before any Webex call.

The bot spends a real person's Webex quota, and every answer is posted in their name. Anyone
else's messages pass a bucket for the sender, one for the space and one for everyone but the
user together before the bot fetches or answers anything; beyond them the bot stays silent
(counted in `tokenbot_bot_throttled_total{scope}`), so outsiders cannot spend the quota the
user's own commands need. The user is never throttled.

`Hints` remembers who already got the one short "unknown command" hint: people who may run no
restricted command get that hint once, then silence.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FloodControl", "Hints", "TokenBucket"]

# Buckets kept at most (least recently used dropped first): a flood of made-up senders must
# not grow memory without end. A dropped bucket comes back full, which only errs towards
# answering someone who was quiet for a long while.
_MAX_KEYS = 10_000


@dataclass(slots=True)
class TokenBucket:
    """`burst` tokens at most, refilled at `per_minute` a minute; one message costs one."""

    burst: float
    per_minute: float
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        """Spend a token if one is there (after refilling for the time passed)."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.per_minute / 60.0)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class _Buckets:
    def __init__(self, burst: float, per_minute: float) -> None:
        self.burst = burst
        self.per_minute = per_minute
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def get(self, key: str, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.burst, self.per_minute, self.burst, now)
            self._buckets[key] = bucket
            while len(self._buckets) > _MAX_KEYS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket


class FloodControl:
    """Decide whether someone else's message may cost a Webex call and an answer.

    Args:
        sender_burst: Messages one sender may send at once.
        sender_per_minute: The sender's bucket refills at this rate.
        space_burst: Messages all senders (but the user) may send at once in one space.
        space_per_minute: The space's bucket refills at this rate.
        others_burst: Messages everyone but the user may send at once, in all spaces.
        others_per_minute: That bucket refills at this rate.
        monotonic: Injected for tests.
    """

    def __init__(
        self,
        *,
        sender_burst: float,
        sender_per_minute: float,
        space_burst: float,
        space_per_minute: float,
        others_burst: float | None = None,
        others_per_minute: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._senders = _Buckets(sender_burst, sender_per_minute)
        self._spaces = _Buckets(space_burst, space_per_minute)
        self._others = _Buckets(
            others_burst if others_burst is not None else space_burst * 2,
            others_per_minute if others_per_minute is not None else space_per_minute * 2,
        )
        self._monotonic = monotonic
        self._lock = threading.Lock()

    def admit(self, sender: str, space: str) -> str | None:
        """Spend from every bucket; return None when admitted, else which one is empty.

        A message refused by a later bucket gets its token back from the earlier ones: each
        bucket only pays for messages that went through.
        """
        with self._lock:
            now = self._monotonic()
            buckets = (
                ("sender", self._senders.get(sender, now)),
                ("space", self._spaces.get(space, now)),
                ("others", self._others.get("*", now)),
            )
            taken: list[TokenBucket] = []
            for scope, bucket in buckets:
                if not bucket.take(now):
                    for paid in taken:
                        paid.tokens += 1.0
                    return scope
                taken.append(bucket)
            return None


class Hints:
    """Remember who got the one short hint (bounded; forgetting only repeats a hint)."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, sender: str) -> bool:
        """Return True the first time `sender` is seen (and remember them)."""
        with self._lock:
            if sender in self._seen:
                self._seen.move_to_end(sender)
                return False
            self._seen[sender] = None
            while len(self._seen) > _MAX_KEYS:
                self._seen.popitem(last=False)
            return True
