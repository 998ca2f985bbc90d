"""When to refresh a token, and how long to back off after a failure: pure arithmetic, no I/O.

Rules (docs/requirements.md R-07, R-08, R-13, R-14): expiry instants are computed from the
time the request was *sent*, minus a skew; a token is due when less than max(margin, 10 % of
its lifetime) remains, or when it was obtained longer ago than the keep-alive period; failures
back off exponentially with full jitter, capped, and never sooner than a `Retry-After`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

__all__ = ["RefreshPolicy"]


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    """The refresh-ahead and back-off settings, with the arithmetic that applies them.

    Attributes:
        margin_seconds: Refresh when less than this much access-token life remains.
        keepalive_hours: Refresh at least this often, whatever the expiry (sliding refresh
            tokens lapse when unused).
        refresh_token_warning_days: Warn when the refresh token has less than this left.
        backoff_base_seconds: First retry delay bound after a transient failure.
        backoff_max_seconds: Upper bound of any retry delay (a Retry-After may exceed it).
        min_token_validity_seconds: Never hand out an access token with less life than this.
        expiry_skew_seconds: Subtracted from every expiry to absorb clock skew and latency.
    """

    margin_seconds: float = 900
    keepalive_hours: float = 24
    refresh_token_warning_days: float = 14
    backoff_base_seconds: float = 30
    backoff_max_seconds: float = 3600
    min_token_validity_seconds: float = 60
    expiry_skew_seconds: float = 30

    def __post_init__(self) -> None:
        if self.margin_seconds < 0 or self.expiry_skew_seconds < 0:
            raise ValueError("margin_seconds and expiry_skew_seconds must not be negative")
        if self.keepalive_hours <= 0:
            raise ValueError("keepalive_hours must be positive")
        if not 0 < self.backoff_base_seconds <= self.backoff_max_seconds:
            raise ValueError("need 0 < backoff_base_seconds <= backoff_max_seconds")

    def access_expires_at(self, sent_at: datetime, expires_in: float | None) -> datetime:
        """Return when an access token issued for a request sent at `sent_at` expires (R-14).

        An unknown lifetime (no ``expires_in``) counts as one keep-alive period: the token is
        refreshed on the keep-alive schedule, and sooner when Webex answers 401.
        """
        if expires_in is None:
            expires_in = self.keepalive_hours * 3600
        return sent_at + timedelta(seconds=expires_in - self.expiry_skew_seconds)

    def refresh_expires_at(
        self, sent_at: datetime, refresh_token_expires_in: float | None
    ) -> datetime | None:
        """Return when the refresh token expires, or None when Webex did not say."""
        if refresh_token_expires_in is None:
            return None
        return sent_at + timedelta(seconds=refresh_token_expires_in - self.expiry_skew_seconds)

    def refresh_due_at(self, obtained_at: datetime, access_expires_at: datetime) -> datetime:
        """Return the moment a token obtained at `obtained_at` should be refreshed.

        The earlier of: expiry minus max(margin, 10 % of the lifetime), and obtained_at plus
        the keep-alive period (R-07, R-08).
        """
        lifetime = max(access_expires_at - obtained_at, timedelta(0))
        lead = max(timedelta(seconds=self.margin_seconds), lifetime / 10)
        keepalive = obtained_at + timedelta(hours=self.keepalive_hours)
        return min(access_expires_at - lead, keepalive)

    def is_due(self, now: datetime, obtained_at: datetime, access_expires_at: datetime) -> bool:
        """Tell whether the token should be refreshed at `now`."""
        return now >= self.refresh_due_at(obtained_at, access_expires_at)

    def is_usable(self, now: datetime, access_expires_at: datetime | None) -> bool:
        """Tell whether an access token still has the minimum validity left to be sent."""
        if access_expires_at is None:
            return False
        return access_expires_at - now >= timedelta(seconds=self.min_token_validity_seconds)

    def refresh_token_warning(self, now: datetime, refresh_expires_at: datetime | None) -> bool:
        """Tell whether the refresh token has less than the warning window left."""
        if refresh_expires_at is None:
            return False
        return refresh_expires_at - now < timedelta(days=self.refresh_token_warning_days)

    def backoff_seconds(
        self,
        failure_count: int,
        retry_after: float | None = None,
        rng: Callable[[], float] = random.random,
    ) -> float:
        """Return how long to wait before retry number `failure_count` (1 = first failure).

        Full jitter (AWS architecture blog): uniform in [0, min(max, base * 2**(n-1))], but
        never below `base / 2`, so a failing grant cannot spin, and never below `retry_after`
        when the server sent one.
        """
        exponent = min(max(failure_count, 1) - 1, 32)
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2.0**exponent)
        floor = min(self.backoff_base_seconds / 2, ceiling)
        delay = floor + (ceiling - floor) * rng()
        if retry_after is not None and retry_after > delay:
            return float(retry_after)
        return delay
