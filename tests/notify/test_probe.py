"""The health probe: a token Webex revoked while we thought it valid is caught in one run."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.notify.receiver import Receiver
from tests.plugins.emulator import EmulatorHandle
from tests.plugins.panel import PanelClient
from tests.plugins.panel import connect_account
from tests.plugins.tokens import connect
from tokenbot.core.clock import FrozenClock
from tokenbot.core.config import notify_secret_key
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import EventKind
from tokenbot.core.notify import Dispatcher
from tokenbot.core.notify import Outbox
from tokenbot.core.notify import Target
from tokenbot.core.notify import WebhookSender
from tokenbot.core.oauth import WebexOAuthClient
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.probe import probe_accounts
from tokenbot.core.runtime import Runtime
from tokenbot.core.store import TokenStore
from tokenbot.core.token_service import TokenService


def test_the_probe_verifies_and_catches_a_revoked_token_with_its_event(
    store: TokenStore,
    clock: FrozenClock,
    emulator: EmulatorHandle,
    oauth_client: WebexOAuthClient,
    receiver: Receiver,
    notify_secret: str,
) -> None:
    outbox = Outbox(store.db, [Target.webhook(receiver.url)], clock=clock)
    store.rows.on_event = outbox.on_account_event
    dispatcher = Dispatcher(
        outbox, {"webhook": WebhookSender(notify_secret_key(notify_secret))}, clock=clock, owner="t"
    )
    tokens = TokenService(store, oauth_client, clock=clock, policy=RefreshPolicy())
    alice = connect(store, oauth_client, emulator, clock)
    bob = connect(store, oauth_client, emulator, clock, email="bob@example.com")
    clock.advance(60)
    report = probe_accounts(store, tokens, oauth_client, clock=clock)
    assert (report.verified, report.rejected) == (2, 0)
    assert store.get(alice.id).last_verified_at == clock.now()
    calls = len(emulator.calls("/v1/people/me"))

    # Webex revokes alice's grant; the store still believes her token valid for days.
    assert emulator.revoke(email="alice@example.com") == 1
    assert store.get(alice.id).status is AccountStatus.ACTIVE
    clock.advance(60)
    report = probe_accounts(store, tokens, oauth_client, clock=clock)
    assert (report.verified, report.rejected) == (1, 1)
    assert len(emulator.calls("/v1/people/me")) == calls + 2  # one cheap call per account
    kinds = [e.kind for e in store.events(alice.id)]
    assert kinds[:3] == [EventKind.NEEDS_REAUTH, EventKind.TOKEN_REJECTED, EventKind.CONNECTED]
    assert store.get(alice.id).status is AccountStatus.NEEDS_REAUTH
    assert store.get(bob.id).status is AccountStatus.ACTIVE
    dispatcher.run()
    assert receiver.types(alice.id) == ["account.connected", "account.needs_reauth"]

    # Once broken, the probe leaves it alone: no call, no second event.
    probe_accounts(store, tokens, oauth_client, clock=clock)
    assert len(emulator.calls("/v1/people/me")) == calls + 3


def test_last_verified_at_shows_in_the_api_and_metrics(
    app: Flask, admin_client: PanelClient, panel_runtime: Runtime, emulator: Any
) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    assert panel_runtime.probe().verified == 1
    body = admin_client.client.get(f"/api/v1/accounts/{account_id}").get_json()
    assert body["account"]["last_verified_at"]
    page = admin_client.get(f"/accounts/{account_id}").get_data(as_text=True)
    assert 'data-field="last_verified_at"' in page
    metrics = admin_client.client.get("/metrics").get_data(as_text=True)
    assert f'tokenbot_token_last_verified_timestamp_seconds{{account_id="{account_id}"}}' in metrics
