"""Events as Webex messages, posted by a healthy identity, never by the failing one."""

from __future__ import annotations

import pytest

from tests.notify.receiver import Receiver
from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import connect
from tokenbot.core.clock import FrozenClock
from tokenbot.core.config import notify_secret_key
from tokenbot.core.notify import Dispatcher
from tokenbot.core.notify import Outbox
from tokenbot.core.notify import Target
from tokenbot.core.notify import WebhookSender
from tokenbot.core.notify import targets_from
from tokenbot.core.notify_webex import WebexSender
from tokenbot.core.oauth import WebexOAuthClient
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.settings import NotifyWebex
from tokenbot.core.store import TokenStore
from tokenbot.core.sweep import sweep
from tokenbot.core.token_service import TokenService

DAY = 86400
ROOM = "Team Space"


def _wire(
    store: TokenStore,
    clock: FrozenClock,
    emulator: EmulatorHandle,
    oauth_client: WebexOAuthClient,
    receiver: Receiver,
    secret: str,
) -> Dispatcher:
    room_id = emulator.room_id(ROOM)
    targets = [Target.webhook(receiver.url), *targets_from((), NotifyWebex(room_id=room_id))]
    outbox = Outbox(store.db, targets, clock=clock)
    store.rows.on_event = outbox.on_account_event
    tokens = TokenService(store, oauth_client, clock=clock, policy=RefreshPolicy())
    webex = WebexSender(
        store,
        tokens,
        api_base_url=emulator.api_url,
        room_id=room_id,
        person_email=None,
        clock=clock,
    )
    return Dispatcher(
        outbox,
        {"webhook": WebhookSender(notify_secret_key(secret)), "webex": webex},
        clock=clock,
        owner="test",
    )


def _room_texts(emulator: EmulatorHandle) -> list[tuple[str, str]]:
    items = emulator.control("GET", f"rooms/{emulator.room_id(ROOM)}/messages")["items"]
    return [(m["personEmail"], m.get("text", "")) for m in items]


def test_needs_reauth_is_posted_by_another_healthy_identity_once(
    store: TokenStore,
    clock: FrozenClock,
    emulator: EmulatorHandle,
    oauth_client: WebexOAuthClient,
    receiver: Receiver,
    notify_secret: str,
) -> None:
    dispatcher = _wire(store, clock, emulator, oauth_client, receiver, notify_secret)
    alice = connect(store, oauth_client, emulator, clock)
    connect(store, oauth_client, emulator, clock, email="bob@example.com")
    dispatcher.run()
    before = len(_room_texts(emulator))
    assert emulator.revoke(email="alice@example.com") == 1
    for _ in range(3):
        clock.advance(DAY + 1)
        sweep(store, oauth_client, clock=clock, policy=RefreshPolicy(), owner="test")
        dispatcher.run()
    assert receiver.types(alice.id) == ["account.connected", "account.needs_reauth"]
    posted = _room_texts(emulator)[before:]
    assert len(posted) == 1, posted
    author, text = posted[0]
    assert author == "bob@example.com"  # never the failing account
    assert "needs a new Webex login" in text and "alice@example.com" in text


def test_no_healthy_identity_is_a_clear_log_line_and_a_retry(
    store: TokenStore,
    clock: FrozenClock,
    emulator: EmulatorHandle,
    oauth_client: WebexOAuthClient,
    receiver: Receiver,
    notify_secret: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dispatcher = _wire(store, clock, emulator, oauth_client, receiver, notify_secret)
    alice = connect(store, oauth_client, emulator, clock)
    dispatcher.run()  # alice may post her own "connected"
    assert emulator.revoke(email="alice@example.com") == 1
    clock.advance(DAY + 1)
    sweep(store, oauth_client, clock=clock, policy=RefreshPolicy(), owner="test")
    dispatcher.run()  # ... but not her own "needs a login", and nobody else can
    assert "no healthy connected identity can post account.needs_reauth" in caplog.text
    assert receiver.types(alice.id) == ["account.connected", "account.needs_reauth"]
    connect(store, oauth_client, emulator, clock, email="bob@example.com")
    clock.advance(60)
    dispatcher.run()
    posted = [(a, t) for a, t in _room_texts(emulator) if "tokenbot:" in t]
    assert [a for a, t in posted if "needs a new Webex login" in t] == ["bob@example.com"]
    assert [a for a, t in posted if "alice" in t and "is connected" in t] == ["alice@example.com"]
