"""Prometheus metrics of the panel's process, in a registry of their own.

One `PanelMetrics` per app (tests build many apps; a global registry would refuse the second
set of names). Token gauges are read from the store at scrape time, so they are right in every
process whichever one refreshed. Refresh counts are read at scrape time from the refresher's
process-wide counters (`core.refresher.refresh_counters`): the sweep, the on-demand path and
the panel's "refresh now" all go through that one routine; access-token handouts likewise
come from `core.broker.handout_counters`. The bot registers its own metrics
(`bot.BotMetrics`: commands by name and outcome, latency, deliveries, queue depth) into
`PanelMetrics.registry`, which the wiring hands it, so `/metrics` shows them too.

Token series are labelled by account id only: one series per connected account (bounded by
the accounts table) and no e-mail address on an endpoint a scraper reads without logging in.

Names follow Prometheus conventions: the unit as a suffix, expiries as `_timestamp_seconds`
gauges (Unix time; alert on `tokenbot_access_token_expiry_timestamp_seconds - time() < 3600`),
`tokenbot_build_info` carrying the version as labels, and the standard `process_*` and
`python_info` collectors.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata

from prometheus_client import CollectorRegistry
from prometheus_client import Info
from prometheus_client import PlatformCollector
from prometheus_client import ProcessCollector
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "PanelMetrics", "TokenSample"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_ACCESS_EXPIRY = "tokenbot_access_token_expiry_timestamp_seconds"
_REFRESH_EXPIRY = "tokenbot_refresh_token_expiry_timestamp_seconds"
_HANDOUTS = "tokenbot_access_token_handouts"
_VERIFIED = "tokenbot_token_last_verified_timestamp_seconds"


@dataclass(frozen=True, slots=True)
class TokenSample:
    """One account as the token gauges see it: expiries as Unix timestamps."""

    account_id: int
    health: str
    access_expires_at: float | None
    refresh_expires_at: float | None
    last_verified_at: float | None = None


class _TokenCollector(Collector):
    def __init__(self, sample: Callable[[], Iterable[TokenSample]]) -> None:
        self._sample = sample

    def describe(self) -> Iterator[Metric]:
        # Registration asks for the names; answering from collect() would query the database
        # inside create_app.
        yield GaugeMetricFamily(_ACCESS_EXPIRY, "", labels=["account_id"])
        yield GaugeMetricFamily(_REFRESH_EXPIRY, "", labels=["account_id"])
        yield GaugeMetricFamily(_VERIFIED, "", labels=["account_id"])
        yield GaugeMetricFamily("tokenbot_accounts", "", labels=["status"])

    def collect(self) -> Iterator[Metric]:
        access = GaugeMetricFamily(
            _ACCESS_EXPIRY,
            "When the account's access token expires, as a Unix timestamp.",
            labels=["account_id"],
        )
        refresh = GaugeMetricFamily(
            _REFRESH_EXPIRY,
            "When the account's refresh token expires, as a Unix timestamp.",
            labels=["account_id"],
        )
        verified = GaugeMetricFamily(
            _VERIFIED,
            "When the health probe last saw Webex accept the account's token (Unix time).",
            labels=["account_id"],
        )
        by_health: dict[str, int] = {}
        for item in self._sample():
            label = [str(item.account_id)]
            if item.access_expires_at is not None:
                access.add_metric(label, item.access_expires_at)
            if item.refresh_expires_at is not None:
                refresh.add_metric(label, item.refresh_expires_at)
            if item.last_verified_at is not None:
                verified.add_metric(label, item.last_verified_at)
            by_health[item.health] = by_health.get(item.health, 0) + 1
        accounts = GaugeMetricFamily(
            "tokenbot_accounts", "Connected accounts by status badge.", labels=["status"]
        )
        for health in ("healthy", "refresh_due", "failing", "needs_reauth", "disconnected"):
            accounts.add_metric([health], by_health.pop(health, 0))
        for health, count in sorted(by_health.items()):
            accounts.add_metric([health], count)
        yield access
        yield refresh
        yield verified
        yield accounts


class _RefreshCollector(Collector):
    def __init__(self, counts: Callable[[], Mapping[str, int]], results: Iterable[str]) -> None:
        self._counts = counts
        self._results = tuple(results)

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily("tokenbot_refreshes", "", labels=["result"])

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "tokenbot_refreshes",
            "Refresh attempts in this process by result (refreshed, fresh, busy, failed, "
            "needs_reauth, stale, persist_failed).",
            labels=["result"],
        )
        counts = dict(self._counts())
        # Every result from the start, so rate() over a first failure works.
        for result in self._results:
            family.add_metric([result], counts.pop(result, 0))
        for result, count in sorted(counts.items()):
            family.add_metric([result], count)
        yield family


class _HandoutCollector(Collector):
    def __init__(self, counts: Callable[[], Mapping[str, int]], results: Iterable[str]) -> None:
        self._counts = counts
        self._results = tuple(results)

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily(_HANDOUTS, "", labels=["result"])

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            _HANDOUTS,
            "Access-token broker answers in this process by result (handed_out, forbidden, "
            "needs_reauth, unavailable, rate_limited, unauthorized).",
            labels=["result"],
        )
        counts = dict(self._counts())
        for result in self._results:
            family.add_metric([result], counts.pop(result, 0))
        for result, count in sorted(counts.items()):
            family.add_metric([result], count)
        yield family


_INTAKE_STATES = ("up", "down", "silent")


class _IntakeCollector(Collector):
    def __init__(self, read: Callable[[], tuple[str | None, int]]) -> None:
        self._read = read

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("tokenbot_bot_intake_state", "", labels=["state"])
        yield CounterMetricFamily("tokenbot_bot_intake_missed", "")

    def collect(self) -> Iterator[Metric]:
        state, missed = self._read()
        gauge = GaugeMetricFamily(
            "tokenbot_bot_intake_state",
            "1 for the bot intake's current state (up; down: webhook inactive or missing; "
            "silent: active at Webex, yet messages reach only the reconciliation).",
            labels=["state"],
        )
        for name in _INTAKE_STATES:
            gauge.add_metric([name], 1.0 if state == name else 0.0)
        yield gauge
        yield CounterMetricFamily(
            "tokenbot_bot_intake_missed",
            "Messages the intake should have delivered that only the reconciliation found.",
            value=missed,
        )


class PanelMetrics:
    """Token gauges and refresh counts in `self.registry`, where the bot adds its metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._token_collector: _TokenCollector | None = None
        self._refresh_collector: _RefreshCollector | None = None
        self._handout_collector: _HandoutCollector | None = None
        self._intake_collector: _IntakeCollector | None = None
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        build = Info("tokenbot_build", "The running tokenbot build.", registry=self.registry)
        build.info({"version": _version(), "python_version": platform.python_version()})

    def watch_tokens(self, sample: Callable[[], Iterable[TokenSample]]) -> None:
        """Publish the token gauges from `sample()`, called at each scrape."""
        if self._token_collector is not None:
            self.registry.unregister(self._token_collector)
        self._token_collector = _TokenCollector(sample)
        self.registry.register(self._token_collector)

    def watch_refreshes(
        self, counts: Callable[[], Mapping[str, int]], results: Iterable[str] = ()
    ) -> None:
        """Publish refresh counts from `counts()` (result -> total), read at each scrape."""
        if self._refresh_collector is not None:
            self.registry.unregister(self._refresh_collector)
        self._refresh_collector = _RefreshCollector(counts, results)
        self.registry.register(self._refresh_collector)

    def watch_handouts(
        self, counts: Callable[[], Mapping[str, int]], results: Iterable[str] = ()
    ) -> None:
        """Publish the access-token broker's answers from `counts()`, read at each scrape."""
        if self._handout_collector is not None:
            self.registry.unregister(self._handout_collector)
        self._handout_collector = _HandoutCollector(counts, results)
        self.registry.register(self._handout_collector)

    def watch_intake(self, read: Callable[[], tuple[str | None, int]]) -> None:
        """Publish the bot intake's state and misses from `read()` (the bot state), per scrape."""
        if self._intake_collector is not None:
            self.registry.unregister(self._intake_collector)
        self._intake_collector = _IntakeCollector(read)
        self.registry.register(self._intake_collector)

    def render(self) -> bytes:
        """Return the Prometheus text exposition of everything in the registry."""
        return generate_latest(self.registry)


def _version() -> str:
    try:
        return metadata.version("webex-tokenbot")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"
