"""The server-rendered pictures: the account's token timeline and the dashboard's two charts."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from tests.admin.test_dashboard import seed
from tests.plugins.panel import PanelClient
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.models import EventKind


@pytest.fixture
def store(app: Flask) -> Any:
    return app.extensions["tokenbot"].store


def _page(client: PanelClient, path: str) -> str:
    """Fetch a page, logging in again first: the tests move the clock past the idle limit."""
    assert client.login().status_code == 303
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _svg(page: str, chart_id: str) -> str:
    match = re.search(rf'<svg class="chart" id="{chart_id}".*?</svg>', page, re.S)
    assert match, f"no #{chart_id} chart on the page"
    return match.group(0)


def test_timeline_marks_every_refresh_failure_and_reconnect(
    admin_client: PanelClient, store: Any, panel_clock: Any
) -> None:
    (account_id,) = seed(store, panel_clock, 1)
    for kind in (EventKind.REFRESHED, EventKind.REFRESH_FAILED, EventKind.REFRESHED):
        panel_clock.advance(86400)
        store.record_event(account_id, kind, detail="<b>hostile</b>")
    panel_clock.advance(86400)
    store.record_event(account_id, EventKind.RECONNECTED)
    svg = _svg(_page(admin_client, f"/accounts/{account_id}"), "timeline")
    kinds = re.findall(r'<g class="event" data-kind="(\w+)">', svg)
    assert kinds == ["connected", "refreshed", "refresh_failed", "refreshed", "reconnected"]
    # Lifetimes: one access bar per token issued (the failure issued none), each until the
    # next; the last one, issued now, lies wholly ahead.
    assert len(re.findall(r'class="bar access"', svg)) == 3
    assert 'class="bar access ahead"' in svg and 'class="bar refresh ahead"' in svg
    # The text equivalent says the same in words, for screen readers and below the picture.
    assert 'role="img"' in svg and 'aria-labelledby="timeline-title timeline-desc"' in svg
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg).group(1)  # type: ignore[union-attr]
    assert desc.startswith("In the last 30 days: 2 refreshes, 1 failure, 2 connect or reconnects.")
    assert "<b>" not in svg


def test_timeline_leaves_out_what_is_older_than_30_days(
    admin_client: PanelClient, store: Any, panel_clock: Any
) -> None:
    (account_id,) = seed(store, panel_clock, 1)
    store.record_event(account_id, EventKind.REFRESH_FAILED)
    panel_clock.advance(31 * 86400)
    store.record_event(account_id, EventKind.REFRESHED)
    svg = _svg(_page(admin_client, f"/accounts/{account_id}"), "timeline")
    assert re.findall(r'data-kind="(\w+)"', svg) == ["refreshed"]


def test_activity_chart_shows_commands_and_errors_per_hour(
    app: Flask, admin_client: PanelClient, panel_clock: Any
) -> None:
    state = BotStateStore(app.extensions["tokenbot"].runtime.database, panel_clock)
    state.add_counters({"commands_total": 3, "errors": 1})
    first_hour = panel_clock.now()
    panel_clock.advance(2 * 3600)
    state.add_counters({"commands_total": 4})
    svg = _svg(_page(admin_client, "/"), "activity")
    assert f"<title>3 commands at {first_hour:%H}:00 UTC</title>" in svg
    assert f"<title>1 errors at {first_hour:%H}:00 UTC</title>" in svg
    assert "Last 24 hours: 7 commands handled, 1 error." in svg
    # A day later the old hours have left the chart.
    panel_clock.advance(30 * 3600)
    later = _svg(_page(admin_client, "/"), "activity")
    assert "Last 24 hours: 0 commands handled, 0 errors." in later


def test_refresh_schedule_counts_what_falls_due_in_the_next_day(
    admin_client: PanelClient, store: Any, panel_clock: Any
) -> None:
    seed(store, panel_clock, 3)
    # Seeded tokens live 14 days: nothing is due today...
    page = _page(admin_client, "/")
    assert "Next 24 hours: 0 refreshes due." in _svg(page, "schedule")
    # ...until the keep-alive comes within a day.
    panel_clock.advance(12 * 3600)
    svg = _svg(_page(admin_client, "/"), "schedule")
    assert "Next 24 hours: 3 refreshes due." in svg
    assert len(re.findall(r'class="bar refreshes"', svg)) == 1


def test_hourly_buckets_stay_out_of_the_totals_and_are_pruned(app: Flask, panel_clock: Any) -> None:
    state = BotStateStore(app.extensions["tokenbot"].runtime.database, panel_clock)
    state.add_counters({"commands_total": 2})
    assert state.snapshot().counters == {"commands_total": 2}
    assert sum(state.hourly("commands_total", panel_clock.now()).values()) == 2
    panel_clock.advance(3 * 86400)
    state.prune(timedelta(days=7))
    assert state.hourly("commands_total", panel_clock.now() - timedelta(days=4)) == {}
    assert state.snapshot().counters == {"commands_total": 2}
