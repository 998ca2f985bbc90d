"""One tokenbot process in-process: a command in flight when the stop comes is still answered."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.ports import free_port
from tests.plugins.tokens import connect_minted
from tests.plugins.tokens import wait_until
from tokenbot.core.config import Settings
from tokenbot.core.config import load_settings
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.runtime import Runtime
from tokenbot.core.runtime import build_runtime
from tokenbot.process import TokenbotProcess

SCOPES = ["spark:people_read", "spark:rooms_read", "spark:messages_read", "spark:messages_write"]


@pytest.fixture
def settings(emulator: EmulatorHandle, tmp_path: Path) -> Settings:
    port = free_port()
    client_id, client_secret = emulator.register_integration(
        [f"http://127.0.0.1:{port}/oauth/callback"], SCOPES
    )
    # Demo mode: Webex only delivers to https, but this test's webhook target is loopback http.
    return load_settings(
        "/dev/null",
        demo=True,
        env={
            "WEBEX_CLIENT_ID": client_id,
            "WEBEX_CLIENT_SECRET": client_secret,
            "TOKENBOT_SECRET_KEY": secrets.token_urlsafe(48),
            "TOKENBOT_ENCRYPTION_KEYS": TokenCipher.generate_key_spec("k1"),
            "TOKENBOT_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        },
        overrides={
            "webex": {
                "api_base_url": emulator.api_url,
                "redirect_uri": f"http://127.0.0.1:{port}/oauth/callback",
                "scopes": SCOPES,
            },
            "database": {"url": f"sqlite:///{tmp_path / 'tb.sqlite3'}"},
            "panel": {"port": port},
            "bot": {
                "intake": "webhook",
                "public_url": f"http://127.0.0.1:{port}",
                "allowed_emails": ["bob@example.com"],
            },
        },
    )


@pytest.fixture
def runtime(settings: Settings, emulator: EmulatorHandle) -> Iterator[Runtime]:
    runtime = build_runtime(settings)
    account = connect_minted(
        runtime.store,
        runtime.oauth,
        emulator,
        settings.webex.client_id.reveal(),
        "alice@example.com",
        SCOPES,
        sent_at=runtime.clock.now(),
    )
    runtime.store.set_bot_identity(account.id)
    try:
        yield runtime
    finally:
        runtime.close()


def test_stop_finishes_the_command_in_flight(
    settings: Settings, runtime: Runtime, emulator: EmulatorHandle
) -> None:
    process = TokenbotProcess(settings, runtime=runtime)
    process.start()
    try:
        assert requests.get(f"{process.url}/healthz", timeout=5).status_code == 200
        wait_until(
            lambda: emulator.control("GET", "webhooks")["items"], timeout=15, what="our webhook"
        )
        # Webex is slow to hand the message over: the command is mid-flight when we stop.
        emulator.fault("/v1/messages/*", method="GET", delay_seconds=1.5)
        room = emulator.room_id("Team Space")
        asked = emulator.post_message(room, "bob@example.com", text="/ping")["id"]
        assert process.bot is not None
        wait_until(lambda: process.bot.pool.pending() > 0, timeout=10, what="the command queued")
    finally:
        process.stop()
    replies = [
        m
        for m in emulator.control("GET", f"rooms/{room}/messages")["items"]
        if m.get("parentId") == asked
    ]
    assert len(replies) == 1 and "pong" in replies[0]["markdown"].lower()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{process.url}/healthz", timeout=2)
    assert process.scheduler is not None and not process.scheduler.running


def test_metrics_show_the_bot_commands_and_the_tokens(
    settings: Settings, runtime: Runtime, emulator: EmulatorHandle
) -> None:
    process = TokenbotProcess(settings, runtime=runtime)
    process.start()
    try:
        wait_until(
            lambda: emulator.control("GET", "webhooks")["items"], timeout=15, what="our webhook"
        )
        room = emulator.room_id("Team Space")
        asked = emulator.post_message(room, "bob@example.com", text="/ping")["id"]
        wait_until(
            lambda: any(
                m.get("parentId") == asked
                for m in emulator.control("GET", f"rooms/{room}/messages")["items"]
            ),
            timeout=15,
            what="the answer",
        )
        # The reply is posted before the command is counted: wait for the count.
        line = 'tokenbot_bot_commands_total{command="ping",outcome="ok"} 1.0'

        def counted() -> str | None:
            text = requests.get(f"{process.url}/metrics", timeout=5).text
            return text if line in text else None

        text = wait_until(counted, timeout=10, what="the command in /metrics")
    finally:
        process.stop()
    assert "tokenbot_bot_command_latency_seconds_count 1.0" in text
    assert "tokenbot_access_token_expiry_timestamp_seconds{" in text
    assert "tokenbot_build_info{" in text and "process_cpu_seconds_total" in text
    assert "alice@example.com" not in text


def test_stop_is_quick_with_an_idle_keep_alive_connection(
    settings: Settings, runtime: Runtime
) -> None:
    process = TokenbotProcess(settings, runtime=runtime, roles={"web"})
    process.start()
    held = requests.Session()  # keeps its connection open after the request
    try:
        assert held.get(f"{process.url}/healthz", timeout=5).status_code == 200
    finally:
        process.stop(timeout=10)
    assert process._server_thread is not None and not process._server_thread.is_alive()
    held.close()


def _failed_login(http: requests.Session, url: str, user: str, client: str) -> int:
    from tests.e2e.newcomer import hidden_fields

    form = hidden_fields(http.get(f"{url}/login", timeout=5).text)
    form.update(username=user, password="wrong password!")
    headers = {"X-Forwarded-For": client, "X-Forwarded-Proto": "http"}
    return http.post(f"{url}/login", data=form, headers=headers, timeout=10).status_code


def test_behind_a_trusted_proxy_throttling_is_per_client(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """With panel.trusted_proxies, one noisy client behind the proxy does not lock out others."""
    port = free_port()
    client_id, client_secret = emulator.register_integration(
        [f"http://127.0.0.1:{port}/oauth/callback"]
    )
    settings = load_settings(
        "/dev/null",
        env={
            "WEBEX_CLIENT_ID": client_id,
            "WEBEX_CLIENT_SECRET": client_secret,
            "TOKENBOT_SECRET_KEY": secrets.token_urlsafe(48),
            "TOKENBOT_ENCRYPTION_KEYS": TokenCipher.generate_key_spec("k1"),
        },
        overrides={
            "webex": {
                "api_base_url": emulator.api_url,
                "redirect_uri": f"http://127.0.0.1:{port}/oauth/callback",
            },
            "database": {"url": f"sqlite:///{tmp_path / 'tb.sqlite3'}"},
            "panel": {
                "port": port,
                "trusted_proxies": 1,
                "trusted_proxy_addresses": ["127.0.0.1"],
            },
        },
    )
    process = TokenbotProcess(settings, roles={"web"})
    process.start()
    try:
        http = requests.Session()
        # Different usernames, one client address: the per-address limit (50) is what trips.
        statuses = [_failed_login(http, process.url, f"user{n}", "203.0.113.7") for n in range(51)]
        assert statuses[-1] == 429 and 429 not in statuses[:50]
        assert _failed_login(http, process.url, "someone", "198.51.100.9") == 401
    finally:
        process.stop()


def test_stop_keeps_to_its_deadline_when_a_command_hangs(
    settings: Settings, runtime: Runtime, emulator: EmulatorHandle
) -> None:
    """A command stuck on a slow Webex call does not hold the stop past its budget."""
    process = TokenbotProcess(settings, runtime=runtime)
    process.start()
    try:
        wait_until(
            lambda: emulator.control("GET", "webhooks")["items"], timeout=15, what="our webhook"
        )
        emulator.fault("/v1/messages/*", method="GET", delay_seconds=8)
        room = emulator.room_id("Team Space")
        emulator.post_message(room, "bob@example.com", text="/ping")
        assert process.bot is not None
        bot = process.bot
        wait_until(lambda: bot.pool.pending() > 0, timeout=10, what="the command queued")
    finally:
        started = time.monotonic()
        process.stop(timeout=1.5)
        took = time.monotonic() - started
    # Web server, upkeep, pool and reminders share the 1.5 s; each used to get it afresh (and the
    # pool twice), so this stop took 3 s and more.
    assert took < 2.8, f"stop took {took:.1f} s with a 1.5 s budget"


def test_the_default_stop_budget_fits_docker_stop() -> None:
    from tokenbot.process import STOP_TIMEOUT_SECONDS

    assert STOP_TIMEOUT_SECONDS < 10  # `docker stop` sends SIGKILL 10 s after SIGTERM


def test_every_request_gets_one_access_line_without_its_query_string(
    settings: Settings, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    process = TokenbotProcess(settings, runtime=runtime)
    process.start()
    try:
        with caplog.at_level(logging.INFO, logger="tokenbot.access"):
            assert requests.get(f"{process.url}/healthz", timeout=5).status_code == 200
            callback = requests.get(
                f"{process.url}/oauth/callback",
                params={"code": "code-canary-7f3e", "state": "state-canary-91ab"},
                timeout=5,
                allow_redirects=False,
            )
            requests.get(f"{process.url}/no/such/page", timeout=5)
    finally:
        process.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "tokenbot.access"]
    assert len(lines) == 3, lines
    assert re.fullmatch(r'127\.0\.0\.1 "GET /healthz" 200 \d+ [0-9.]+ms', lines[0]), lines[0]
    assert f'"GET /oauth/callback" {callback.status_code} ' in lines[1]
    assert '"GET /no/such/page" 404 ' in lines[2]
    everything = "\n".join(lines)
    assert "canary" not in everything and "?" not in everything
