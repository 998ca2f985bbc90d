"""Probes, metrics, the status summary, and what create_app does (and does not do)."""

from __future__ import annotations

import dataclasses
import platform
import threading
from datetime import timedelta
from importlib import metadata
from typing import Any

import pytest
from flask import Flask
from prometheus_client import Counter
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from tests.admin.test_dashboard import seed
from tests.plugins.panel import PanelClient
from tests.plugins.panel import connect_account
from tokenbot.admin import PanelMetrics
from tokenbot.admin import create_app
from tokenbot.core.db import Database


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_healthz(client: PanelClient) -> None:
    response = client.client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_without_a_scheduler_in_this_process(client: PanelClient) -> None:
    response = client.client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "scheduler": "not_in_this_process"}


@pytest.mark.parametrize(("alive", "status"), [(True, 200), (False, 503)])
def test_readyz_follows_the_scheduler(
    panel_settings: Any, panel_runtime: Any, alive: bool, status: int
) -> None:
    app = create_app(panel_settings, panel_runtime, scheduler_alive=lambda: alive)
    response = app.test_client().get("/readyz")
    assert response.status_code == status
    assert response.json["checks"]["scheduler"] == ("ok" if alive else "stopped")


def test_readyz_fails_when_the_database_is_unreachable(
    panel_settings: Any, panel_runtime: Any
) -> None:
    broken = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    runtime = dataclasses.replace(panel_runtime, database=broken)
    try:
        app = create_app(panel_settings, runtime, scheduler_alive=lambda: True)
        response = app.test_client().get("/readyz")
    finally:
        broken.dispose()
    assert response.status_code == 503
    assert response.json == {
        "status": "not_ready",
        "checks": {"database": "unreachable", "scheduler": "ok"},
    }


def test_metrics(app: Flask, admin_client: PanelClient, emulator: Any, panel_clock: Any) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    panel_clock.advance(600)
    admin_client.get("/")
    admin_client.post(f"/accounts/{account_id}/refresh")
    metrics: PanelMetrics = app.extensions["tokenbot"].metrics
    # The bot registers its metrics in the panel's registry (as tokenbot.process wires it).
    commands = Counter(
        "tokenbot_bot_commands", "Commands.", ["command", "outcome"], registry=metrics.registry
    )
    commands.labels("help", "ok").inc()
    commands.labels("echo", "error").inc()

    response = admin_client.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.get_data(as_text=True))
    label = (("account_id", str(account_id)),)
    store = app.extensions["tokenbot"].store
    view = store.get(account_id)
    access_expiry = samples[("tokenbot_access_token_expiry_timestamp_seconds", label)]
    assert access_expiry == pytest.approx(view.access_expires_at.timestamp())
    refresh_expiry = samples[("tokenbot_refresh_token_expiry_timestamp_seconds", label)]
    assert refresh_expiry - panel_clock.now().timestamp() > 89 * 86400
    version = metadata.version("webex-tokenbot")
    build = (("python_version", platform.python_version()), ("version", version))
    assert samples[("tokenbot_build_info", build)] == 1
    assert samples[("process_resident_memory_bytes", ())] > 0
    assert any(name == "python_info" for name, _ in samples)
    assert samples[("tokenbot_refreshes_total", (("result", "refreshed"),))] >= 1
    assert ("tokenbot_refreshes_total", (("result", "needs_reauth"),)) in samples
    assert samples[("tokenbot_accounts", (("status", "healthy"),))] == 1
    assert samples[("tokenbot_bot_commands_total", (("command", "help"), ("outcome", "ok")))] == 1
    assert (
        samples[("tokenbot_bot_commands_total", (("command", "echo"), ("outcome", "error")))] == 1
    )
    # Metrics need no session (scrapers) and show no e-mail address.
    anonymous = app.test_client().get("/metrics").get_data(as_text=True)
    assert "alice@example.com" not in anonymous and "tokenbot_accounts" in anonymous


def test_two_apps_in_one_process_have_separate_registries(
    panel_settings: Any, panel_runtime: Any
) -> None:
    first = create_app(panel_settings, panel_runtime)
    second = create_app(panel_settings, panel_runtime)
    commands = Counter(
        "tokenbot_bot_commands",
        "Commands.",
        ["command", "outcome"],
        registry=first.extensions["tokenbot"].metrics.registry,
    )
    commands.labels("help", "ok").inc()
    text = second.test_client().get("/metrics").get_data(as_text=True)
    assert 'tokenbot_bot_commands_total{command="help"' not in text


def test_create_app_opens_no_connection_and_no_thread(
    panel_settings: Any, panel_runtime: Any
) -> None:
    connects = []
    event.listen(panel_runtime.database.engine, "connect", lambda *a: connects.append(a))
    panel_runtime.database.dispose()
    threads = threading.active_count()
    app = create_app(panel_settings, panel_runtime)
    assert connects == [] and threading.active_count() == threads
    assert app.config["DEBUG"] is False
    app.test_client().get("/healthz")
    assert connects == []  # the liveness probe does not touch the database either


def test_summary_agrees_with_account_health(panel_runtime: Any, panel_clock: Any) -> None:
    store = panel_runtime.store
    ids = seed(store, panel_clock, 6)
    store.disconnect(ids[0])
    claim = store.claim(ids[1], owner="test", lease_seconds=60)
    store.fail_refresh(
        claim,
        error_code="oauth_transient",
        message="boom",
        retry_at=panel_clock.now() + timedelta(hours=1),
    )
    store.mark_needs_reauth(ids[2], reason="revoked")
    for moment in (0, 12.5 * 86400, 14 * 86400, 100 * 86400):
        now = panel_clock.now() + timedelta(seconds=moment)
        expected: dict[str, int] = {}
        for view in store.list_accounts(limit=100):
            health = view.health(now)
            expected[health] = expected.get(health, 0) + 1
        assert store.account_summary(now) == {
            "total": 6,
            "by_health": expected,
        }, moment


def test_a_failing_bot_or_scheduler_probe_does_not_break_the_panel(
    panel_settings: Any, panel_runtime: Any, panel_admins: Any
) -> None:
    def broken() -> Any:
        raise RuntimeError("probe exploded")

    app = create_app(
        panel_settings,
        panel_runtime,
        admins=panel_admins,
        bot_status=broken,
        scheduler_alive=broken,
    )
    client = PanelClient(app.test_client())
    client.login()
    page = client.get("/")
    assert page.status_code == 200 and "scheduler stopped" in page.get_data(as_text=True)
    assert client.client.get("/api/v1/status").json["bot"]["running"] is False
    ready = client.client.get("/readyz")
    assert ready.status_code == 503 and ready.json["checks"]["scheduler"] == "stopped"
