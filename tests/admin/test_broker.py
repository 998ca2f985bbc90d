"""The access-token broker: who gets a live token, who does not, and what is written down.

Each test runs on a real SQLite file and on the real PostgreSQL (`database_url`), with the
panel app over a real runtime pointed at the emulator, the clock frozen. Accounts get their
grant minted in the emulator, so a handed-out token is checked against the emulator's
``people/me``: it must work there, not just look right.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.panel import CHEAP_HASHER
from tests.plugins.panel import PANEL_SCOPES
from tests.plugins.panel import make_settings
from tests.plugins.panel import panel_env
from tests.plugins.tokens import connect_minted
from tests.plugins.tokens import token_calls
from tokenbot.core.admins import SCOPE_STATUS
from tokenbot.core.admins import SCOPE_TOKENS
from tokenbot.core.admins import AdminStore
from tokenbot.core.broker import handout_counters
from tokenbot.core.clock import FrozenClock
from tokenbot.core.logs import configure_logging
from tokenbot.core.logs import forget_secret
from tokenbot.core.models import EventKind
from tokenbot.core.runtime import Runtime
from tokenbot.core.runtime import build_runtime

DAY = 86400


@dataclass
class Broker:
    """A panel app with the broker on, its runtime and two connected accounts."""

    app: Flask
    runtime: Runtime
    admins: AdminStore
    clock: FrozenClock
    emulator: EmulatorHandle
    alice: int
    bob: int

    @property
    def client(self) -> FlaskClient:
        return self.app.test_client()

    def token_for(
        self, *accounts: int, scopes: tuple[str, ...] = (SCOPE_TOKENS,), **kw: Any
    ) -> str:
        """Create an API token for `accounts` ("all" when none are named)."""
        name = f"agent-{len(self.admins.list_api_tokens())}"
        covered: Any = list(accounts) or "all"
        return self.admins.create_api_token(name, scopes=scopes, accounts=covered, **kw)

    def ask(self, token: str, account_id: int, **kwargs: Any) -> Any:
        return self.client.post(
            f"/api/v1/accounts/{account_id}/access-token",
            headers={"Authorization": f"Bearer {token}"},
            **kwargs,
        )


@pytest.fixture
def make_broker(
    emulator: EmulatorHandle,
    panel_integration: tuple[str, str],
    database_url: str,
) -> Iterator[Callable[..., Broker]]:
    """Build the broker app; keyword arguments go into the `broker` settings section."""
    runtimes: list[Runtime] = []
    env = panel_env()  # one set of keys: a second app opens the first one's tokens

    def build(**broker: Any) -> Broker:
        client_id, client_secret = panel_integration
        settings = make_settings(
            emulator_url=emulator.url,
            client_id=client_id,
            client_secret=client_secret,
            database_url=database_url,
            env=env,
            extra={"broker": {"enabled": True, **broker}},
        )
        clock = FrozenClock()
        runtime = build_runtime(settings, clock=clock)
        runtimes.append(runtime)
        admins = AdminStore(runtime.database, clock=clock, hasher=CHEAP_HASHER)
        from tokenbot.admin import create_app

        app = create_app(settings, runtime, admins=admins)
        app.config["TESTING"] = True
        ids = [
            connect_minted(
                runtime.store,
                runtime.oauth,
                emulator,
                client_id,
                email,
                PANEL_SCOPES,
                sent_at=clock.now(),
            ).id
            for email in ("alice@example.com", "bob@example.com")
        ]
        return Broker(app, runtime, admins, clock, emulator, *ids)

    try:
        yield build
    finally:
        for runtime in runtimes:
            runtime.close()


@pytest.fixture
def broker(make_broker: Callable[..., Broker]) -> Broker:
    """The broker with default settings (loopback only, 30 requests a minute)."""
    return make_broker()


def _people_me(emulator: EmulatorHandle, token: str) -> Any:
    return requests.get(
        f"{emulator.url}/v1/people/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def test_a_tokens_read_token_gets_a_working_access_token(broker: Broker) -> None:
    token = broker.token_for(broker.alice)
    answer = broker.ask(token, broker.alice)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.json
    assert set(body) == {"access_token", "expires_at", "scopes", "account"}
    assert body["account"] == {"id": broker.alice, "email": "alice@example.com"}
    assert body["scopes"] == list(broker.runtime.store.get(broker.alice).scopes)
    assert body["expires_at"] == "2026-01-14T23:59:29Z"  # 14 days less the 30 s skew
    assert answer.headers["Cache-Control"] == "no-store"
    me = _people_me(broker.emulator, body["access_token"])
    assert me.status_code == 200 and me.json()["emails"] == ["alice@example.com"]
    # Neither the refresh token's name nor its value appears anywhere in the answer.
    text = answer.get_data(as_text=True)
    assert "refresh" not in text
    claim = broker.runtime.store.claim(broker.alice, owner="test", lease_seconds=30)
    assert claim is not None
    broker.runtime.store.release(claim)
    assert claim.refresh_token not in text


def test_other_accounts_status_tokens_and_unknown_accounts_get_the_same_403(
    broker: Broker,
) -> None:
    token = broker.token_for(broker.alice)
    for_bob = broker.ask(token, broker.bob)
    missing = broker.ask(token, 999)
    assert for_bob.status_code == missing.status_code == 403
    assert for_bob.json == missing.json  # no hint whether account 999 exists
    status_only = broker.admins.create_api_token("grafana")
    assert broker.ask(status_only, broker.alice).status_code == 403
    everyone = broker.token_for()
    assert broker.ask(everyone, broker.bob).status_code == 200
    assert broker.ask(everyone, 999).json == missing.json
    # A broker-only token reads no metadata; the status scope is its own.
    assert broker.client.get(
        "/api/v1/status", headers={"Authorization": f"Bearer {token}"}
    ).status_code == (403)
    both = broker.token_for(broker.alice, scopes=(SCOPE_STATUS, SCOPE_TOKENS))
    assert broker.ask(both, broker.alice).status_code == 200
    assert (
        broker.client.get("/api/v1/status", headers={"Authorization": f"Bearer {both}"}).status_code
        == 200
    )


def test_required_webex_scopes_must_be_in_the_grant(broker: Broker) -> None:
    held = broker.token_for(broker.alice, webex_scopes=["spark:messages_write"])
    assert broker.ask(held, broker.alice).status_code == 200
    lacking = broker.token_for(broker.alice, webex_scopes=["spark:rooms_write"])
    assert broker.ask(lacking, broker.alice).status_code == 403


def test_revoked_expired_and_missing_api_tokens_get_401(broker: Broker) -> None:
    revoked = broker.admins.create_api_token("old", scopes=[SCOPE_TOKENS], accounts=[broker.alice])
    assert broker.admins.revoke_api_token("old")
    assert broker.ask(revoked, broker.alice).status_code == 401
    expiring = broker.token_for(broker.alice, expires_at=broker.clock.now() + timedelta(days=30))
    assert broker.ask(expiring, broker.alice).status_code == 200
    broker.clock.advance(30 * DAY)
    assert broker.ask(expiring, broker.alice).status_code == 401
    assert broker.client.post(f"/api/v1/accounts/{broker.alice}/access-token").status_code == 401


def test_disabled_broker_answers_404(
    emulator: EmulatorHandle, panel_integration: tuple[str, str], database_url: str
) -> None:
    from tokenbot.admin import create_app

    client_id, client_secret = panel_integration
    settings = make_settings(
        emulator_url=emulator.url,
        client_id=client_id,
        client_secret=client_secret,
        database_url=database_url,
    )
    assert settings.broker.enabled is False
    runtime = build_runtime(settings, clock=FrozenClock())
    try:
        admins = AdminStore(runtime.database, clock=runtime.clock, hasher=CHEAP_HASHER)
        token = admins.create_api_token("agent", scopes=[SCOPE_TOKENS], accounts="all")
        app = create_app(settings, runtime, admins=admins)
        answer = app.test_client().post(
            "/api/v1/accounts/1/access-token", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 404
    finally:
        runtime.close()


def test_only_allowed_networks_may_ask(make_broker: Callable[..., Broker]) -> None:
    broker = make_broker()
    token = broker.token_for(broker.alice)
    away = broker.ask(token, broker.alice, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert away.status_code == 403 and away.json["error"]["code"] == "address_refused"
    lan = make_broker(allowed_networks=["192.0.2.0/24"])
    lan_token = lan.token_for(lan.alice)
    assert lan.ask(lan_token, lan.alice, environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == (
        200
    )
    assert lan.ask(lan_token, lan.alice).status_code == 403  # loopback is no longer listed


def test_asking_while_due_refreshes_once(broker: Broker) -> None:
    token = broker.token_for(broker.alice)
    first = broker.ask(token, broker.alice).json["access_token"]
    broker.clock.advance(14 * DAY - 600)  # inside the 15-minute margin
    answers = [broker.ask(token, broker.alice).json for _ in range(3)]
    assert len(token_calls(broker.emulator, "refresh_token")) == 1
    fresh = {a["access_token"] for a in answers}
    assert len(fresh) == 1 and first not in fresh
    assert answers[0]["expires_at"] == "2026-01-28T23:49:29Z"
    assert _people_me(broker.emulator, fresh.pop()).status_code == 200


def test_needs_reauth_answers_409_with_the_relink_hint(broker: Broker) -> None:
    token = broker.token_for(broker.alice)
    broker.runtime.store.mark_needs_reauth(broker.alice, reason="revoked in test")
    answer = broker.ask(token, broker.alice)
    assert answer.status_code == 409
    error = answer.json["error"]
    assert error["code"] == "needs_reauth"
    assert error["hint"].endswith(f"/accounts/{broker.alice}")


def test_webex_failing_answers_503_with_retry_after(broker: Broker) -> None:
    token = broker.token_for(broker.alice)
    broker.clock.advance(14 * DAY - 30)  # under the 60 s minimum validity
    broker.emulator.fault("/v1/access_token", method="POST", status=500, count=10)
    answer = broker.ask(token, broker.alice)
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert int(answer.headers["Retry-After"]) >= 1
    assert "access_token" not in answer.json


def test_each_handout_is_in_the_history_and_in_metrics(broker: Broker) -> None:
    token = broker.token_for(broker.alice)
    before = handout_counters()
    for _ in range(2):
        assert broker.ask(token, broker.alice).status_code == 200
    assert broker.ask(token, broker.bob).status_code == 403
    events = [
        e for e in broker.runtime.store.events(broker.alice) if e.kind is EventKind.TOKEN_HANDED_OUT
    ]
    assert len(events) == 2
    assert "agent-0" in events[0].detail and "127.0.0.1" in events[0].detail
    assert broker.runtime.store.events(broker.bob)[0].kind is not EventKind.TOKEN_HANDED_OUT
    viewer = broker.admins.create_api_token("viewer")  # the history as the panel shows it
    shown = broker.client.get(
        f"/api/v1/accounts/{broker.alice}", headers={"Authorization": f"Bearer {viewer}"}
    ).json["account"]["events"]
    assert [e["kind"] for e in shown[:2]] == ["token_handed_out"] * 2
    after = handout_counters()
    assert after["handed_out"] - before["handed_out"] == 2
    assert after["forbidden"] - before["forbidden"] == 1
    metrics = broker.client.get("/metrics").get_data(as_text=True)
    line = f'tokenbot_access_token_handouts_total{{result="handed_out"}} {after["handed_out"]}.0'
    assert line in metrics
    handed = broker.ask(token, broker.alice).json["access_token"]
    assert handed not in metrics
    assert all(handed not in e.detail for e in broker.runtime.store.events(broker.alice))


def test_the_rate_limit_answers_429_with_retry_after(make_broker: Callable[..., Broker]) -> None:
    broker = make_broker(requests_per_minute=2)
    token = broker.token_for(broker.alice)
    other = broker.token_for(broker.alice)
    assert [broker.ask(token, broker.alice).status_code for _ in range(2)] == [200, 200]
    limited = broker.ask(token, broker.alice)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    assert broker.ask(other, broker.alice).status_code == 200  # per API token
    broker.clock.advance(61)
    assert broker.ask(token, broker.alice).status_code == 200


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Install the real logging setup at DEBUG into a StringIO; restore the root afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    forget_secret()
    stream = io.StringIO()
    configure_logging("DEBUG", "text", stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


def test_a_whole_run_at_debug_logs_no_handed_out_token(
    log_stream: io.StringIO, make_broker: Callable[..., Broker]
) -> None:
    raw: list[str] = []

    class Raw(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raw.append(record.getMessage())

    ours = logging.getLogger("tokenbot")
    handler = Raw(logging.DEBUG)
    ours.addHandler(handler)
    try:
        broker = make_broker(requests_per_minute=5)
        token = broker.token_for(broker.alice)
        handed = [broker.ask(token, broker.alice).json["access_token"]]
        broker.clock.advance(14 * DAY - 600)
        handed.append(broker.ask(token, broker.alice).json["access_token"])
        assert broker.ask(token, broker.bob).status_code == 403
        for _ in range(4):
            broker.ask(token, broker.alice)
        broker.runtime.store.mark_needs_reauth(broker.alice, reason="test")
        broker.clock.advance(61)
        assert broker.ask(token, broker.alice).status_code == 409
    finally:
        ours.removeHandler(handler)
    text = log_stream.getvalue()
    assert "handed to API token" in text  # the run did log, at DEBUG
    for secret in [*handed, token]:
        assert secret not in text
        assert not any(secret in line for line in raw)  # not even before redaction


def test_a_panel_session_alone_gets_no_token(broker: Broker) -> None:
    from tests.plugins.panel import ADMIN_PASSWORD
    from tests.plugins.panel import ADMIN_USERNAME
    from tests.plugins.panel import PanelClient

    broker.admins.create_admin(ADMIN_USERNAME, ADMIN_PASSWORD)
    browser = PanelClient(broker.app.test_client())
    assert browser.login().status_code == 303
    assert browser.client.get("/").status_code == 200  # logged in
    # The route is CSRF-exempt because it never honours the cookie: a session is not enough.
    answer = browser.client.post(f"/api/v1/accounts/{broker.alice}/access-token")
    assert answer.status_code == 401 and "access_token" not in answer.json
