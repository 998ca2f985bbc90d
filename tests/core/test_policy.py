"""The refresh policy's arithmetic, either side of every boundary (R-07, R-08, R-13, R-14)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

from tokenbot.core.policy import RefreshPolicy

T0 = datetime(2026, 1, 1, tzinfo=UTC)
S = timedelta(seconds=1)


def test_expiry_counts_from_the_sent_time_minus_the_skew() -> None:
    policy = RefreshPolicy(expiry_skew_seconds=30)
    assert policy.access_expires_at(T0, 3600) == T0 + timedelta(seconds=3570)
    assert policy.refresh_expires_at(T0, 7200) == T0 + timedelta(seconds=7170)
    assert policy.refresh_expires_at(T0, None) is None


def test_short_token_is_due_exactly_at_the_margin() -> None:
    # A 1 h token: 10 % is 6 min, so the 15 min margin wins.
    policy = RefreshPolicy(margin_seconds=900)
    expires = T0 + timedelta(hours=1)
    due = expires - timedelta(seconds=900)
    assert policy.refresh_due_at(T0, expires) == due
    assert not policy.is_due(due - S, T0, expires)
    assert policy.is_due(due, T0, expires)
    assert policy.is_due(due + S, T0, expires)


def test_ten_percent_of_the_lifetime_wins_for_long_tokens() -> None:
    # A 10 h token: 10 % is 1 h > 15 min; keep-alive pushed out of the way.
    policy = RefreshPolicy(margin_seconds=900, keepalive_hours=48)
    expires = T0 + timedelta(hours=10)
    due = expires - timedelta(hours=1)
    assert policy.refresh_due_at(T0, expires) == due
    assert not policy.is_due(due - S, T0, expires)
    assert policy.is_due(due + S, T0, expires)


def test_keepalive_wins_for_tokens_that_live_for_weeks() -> None:
    # Webex-like 14 day token: due after 24 h however long it still lives.
    policy = RefreshPolicy(keepalive_hours=24)
    expires = T0 + timedelta(days=14)
    due = T0 + timedelta(hours=24)
    assert policy.refresh_due_at(T0, expires) == due
    assert not policy.is_due(due - S, T0, expires)
    assert policy.is_due(due + S, T0, expires)
    # Refreshed 25 h ago: due now.
    assert policy.is_due(T0 + timedelta(hours=25), T0, expires)


def test_a_token_shorter_than_the_margin_is_due_at_once() -> None:
    policy = RefreshPolicy(margin_seconds=900)
    expires = T0 + timedelta(minutes=10)
    assert policy.is_due(T0, T0, expires)


def test_usable_means_at_least_the_minimum_validity_left() -> None:
    policy = RefreshPolicy(min_token_validity_seconds=60)
    expires = T0 + timedelta(seconds=60)
    assert policy.is_usable(T0, expires)
    assert not policy.is_usable(T0 + S, expires)
    assert not policy.is_usable(T0, None)


def test_refresh_token_warning_window_either_side() -> None:
    policy = RefreshPolicy(refresh_token_warning_days=14)
    rt_expires = T0 + timedelta(days=90)
    boundary = rt_expires - timedelta(days=14)
    assert not policy.refresh_token_warning(boundary - S, rt_expires)
    assert not policy.refresh_token_warning(boundary, rt_expires)
    assert policy.refresh_token_warning(boundary + S, rt_expires)
    assert not policy.refresh_token_warning(T0, None)


@pytest.mark.parametrize("failures", [1, 2, 3, 5, 8, 20, 1000])
def test_backoff_stays_within_its_bounds(failures: int) -> None:
    policy = RefreshPolicy(backoff_base_seconds=30, backoff_max_seconds=3600)
    ceiling = min(3600.0, 30 * 2.0 ** (failures - 1))
    low = policy.backoff_seconds(failures, rng=lambda: 0.0)
    high = policy.backoff_seconds(failures, rng=lambda: 0.999999)
    assert low == 15.0
    assert ceiling * 0.999 <= high <= ceiling
    for _ in range(200):
        assert 15.0 <= policy.backoff_seconds(failures) <= ceiling


def test_backoff_grows_then_caps() -> None:
    policy = RefreshPolicy(backoff_base_seconds=30, backoff_max_seconds=3600)
    highs = [policy.backoff_seconds(n, rng=lambda: 1.0) for n in range(1, 12)]
    assert highs[:4] == [30.0, 60.0, 120.0, 240.0]
    assert highs[-1] == 3600.0
    assert highs == sorted(highs)


def test_backoff_never_undercuts_retry_after() -> None:
    policy = RefreshPolicy(backoff_base_seconds=30, backoff_max_seconds=3600)
    assert policy.backoff_seconds(1, retry_after=120, rng=lambda: 0.5) == 120.0
    # Retry-After is honoured even above the cap: the server said so.
    assert policy.backoff_seconds(1, retry_after=7200, rng=lambda: 0.5) == 7200.0
    # A smaller Retry-After does not shorten our own back-off.
    assert policy.backoff_seconds(6, retry_after=1, rng=lambda: 1.0) == 960.0


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="backoff"):
        RefreshPolicy(backoff_base_seconds=0)
    with pytest.raises(ValueError, match="keepalive"):
        RefreshPolicy(keepalive_hours=0)
