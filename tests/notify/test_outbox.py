"""The outbox end to end: real store, real emulator, real HTTP receiver, both databases.

Signatures are checked by the receiver with the `standardwebhooks` package, an independent
implementation of the specification.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from tests.notify.receiver import Receiver
from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import connect
from tests.plugins.tokens import settle_faults
from tokenbot.core.clock import FrozenClock
from tokenbot.core.config import notify_secret_key
from tokenbot.core.models import AccountStatus
from tokenbot.core.notify import Dispatcher
from tokenbot.core.notify import NotifyDelivery
from tokenbot.core.notify import Outbox
from tokenbot.core.notify import Target
from tokenbot.core.notify import WebhookSender
from tokenbot.core.notify import sign
from tokenbot.core.oauth import WebexOAuthClient
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.store import TokenStore
from tokenbot.core.sweep import sweep

DAY = 86400
PEOPLE = ("alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com")


def _wire(
    store: TokenStore, clock: FrozenClock, receiver: Receiver, secret: str, **kwargs: object
) -> tuple[Outbox, Dispatcher]:
    outbox = Outbox(store.db, [Target.webhook(receiver.url)], clock=clock)
    store.rows.on_event = outbox.on_account_event
    sender = WebhookSender(notify_secret_key(secret), timeout_seconds=2)
    dispatcher = Dispatcher(
        outbox,
        {"webhook": sender},
        clock=clock,
        owner="test",
        **kwargs,  # type: ignore[arg-type]
    )
    return outbox, dispatcher


def _sweep(store: TokenStore, client: WebexOAuthClient, clock: FrozenClock) -> None:
    sweep(store, client, clock=clock, policy=RefreshPolicy(), owner="test")


def test_a_revoked_grant_notifies_needs_reauth_once_and_recovered_after_reconnect(
    store: TokenStore,
    clock: FrozenClock,
    emulator: EmulatorHandle,
    oauth_client: WebexOAuthClient,
    receiver: Receiver,
    notify_secret: str,
) -> None:
    _, dispatcher = _wire(store, clock, receiver, notify_secret)
    alice = connect(store, oauth_client, emulator, clock)
    bob = connect(store, oauth_client, emulator, clock, email="bob@example.com")
    dispatcher.run()
    assert receiver.types() == ["account.connected", "account.connected"]
    tokens = [store.access_grant(a.id).access_token for a in (alice, bob)]

    assert emulator.revoke(email="alice@example.com") == 1
    for _ in range(5):  # the refresher runs again and again while alice stays broken
        clock.advance(DAY + 1)
        _sweep(store, oauth_client, clock)
        dispatcher.run()
    assert store.get(alice.id).status is AccountStatus.NEEDS_REAUTH
    assert receiver.types(alice.id) == ["account.connected", "account.needs_reauth"]
    assert receiver.types(bob.id) == ["account.connected"]  # routine refreshes say nothing
    assert receiver.bad == []
    event = receiver.received[-1]
    assert event.data["email"] == "alice@example.com" and event.data["reason"]
    assert set(event.body) == {"type", "timestamp", "data"}
    assert event.headers["webhook-id"].startswith("msg_")
    # Never a token in a body.
    assert not any(t in json.dumps(r.body) for t in tokens for r in receiver.received)

    connect(store, oauth_client, emulator, clock)  # alice logs in again
    dispatcher.run()
    assert receiver.types(alice.id)[-1] == "account.recovered"
    assert len(receiver.received) == len(receiver.unique()) == 4


def test_a_failing_refresh_notifies_once_per_state_change(
    store: TokenStore,
    clock: FrozenClock,
    emulator: EmulatorHandle,
    oauth_client: WebexOAuthClient,
    receiver: Receiver,
    notify_secret: str,
) -> None:
    _, dispatcher = _wire(store, clock, receiver, notify_secret)
    alice = connect(store, oauth_client, emulator, clock)
    emulator.fault("/v1/access_token", method="POST", status=500, count=3)
    clock.advance(DAY + 1)
    for _ in range(3):
        _sweep(store, oauth_client, clock)
        dispatcher.run()
        clock.advance(3 * 3600)
    assert store.get(alice.id).failure_count == 3
    settle_faults(emulator)
    _sweep(store, oauth_client, clock)
    dispatcher.run()
    assert receiver.types(alice.id) == [
        "account.connected",
        "account.refresh_failed",
        "account.recovered",
    ]


def test_receiver_down_for_an_hour_gets_every_event_once_in_order(
    store: TokenStore,
    clock: FrozenClock,
    emulator: EmulatorHandle,
    oauth_client: WebexOAuthClient,
    receiver: Receiver,
    notify_secret: str,
) -> None:
    outbox, dispatcher = _wire(store, clock, receiver, notify_secret)
    receiver.up = False

    def an_hour_down(minutes: int) -> None:
        for _ in range(minutes):  # the notify job, one run a minute, receiver down
            dispatcher.run()
            clock.advance(60)

    first = connect(store, oauth_client, emulator, clock, email=PEOPLE[0])
    an_hour_down(30)  # its first event backs off further and further
    others = [connect(store, oauth_client, emulator, clock, email=e) for e in PEOPLE[1:3]]
    store.disconnect(first.id)
    store.disconnect(others[0].id)
    an_hour_down(25)
    connect(store, oauth_client, emulator, clock, email=PEOPLE[0])
    an_hour_down(5)
    expected = {
        first.id: [
            "account.connected",
            "account.disconnected",
            "account.connected",
            "account.disconnected",
        ],
        others[0].id: ["account.connected", "account.disconnected"],
        others[1].id: ["account.connected"],
    }
    assert receiver.refused >= 6 and receiver.received == []

    receiver.up = True
    store.disconnect(first.id)  # due at once, while the older events are backing off
    dispatcher.run()
    for account_id, types in expected.items():
        got = receiver.types(account_id)
        assert got == types[: len(got)], "a later event overtook an earlier one"
    clock.advance(2 * 3600)  # past the longest back-off reached so far
    dispatcher.run()
    for account_id, types in expected.items():
        assert receiver.types(account_id) == types
    assert len(receiver.received) == len(receiver.unique()) == 7
    assert {line.status for line in outbox.deliveries()} == {"sent"}


def test_a_delivery_is_dropped_after_a_day_and_says_so(
    store: TokenStore,
    clock: FrozenClock,
    emulator: EmulatorHandle,
    oauth_client: WebexOAuthClient,
    receiver: Receiver,
    notify_secret: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox, dispatcher = _wire(store, clock, receiver, notify_secret, give_up_hours=24)
    receiver.up = False
    connect(store, oauth_client, emulator, clock)
    for _ in range(30):
        dispatcher.run()
        clock.advance(3600)
    [line] = outbox.deliveries()
    assert line.status == "dropped" and line.attempts > 5
    assert "DROPPED account.connected" in caplog.text
    assert "s3cr3t" not in caplog.text  # the endpoint's query never reaches a log
    receiver.up = True
    dispatcher.run()
    assert receiver.received == []


def test_two_dispatchers_send_each_event_once(
    store: TokenStore,
    clock: FrozenClock,
    emulator: EmulatorHandle,
    oauth_client: WebexOAuthClient,
    receiver: Receiver,
    notify_secret: str,
) -> None:
    import threading

    outbox, first = _wire(store, clock, receiver, notify_secret)
    second = Dispatcher(
        outbox,
        {"webhook": WebhookSender(notify_secret_key(notify_secret))},
        clock=clock,
        owner="other",
    )
    for email in PEOPLE:
        account = connect(store, oauth_client, emulator, clock, email=email)
        store.disconnect(account.id)
    threads = [threading.Thread(target=d.run) for d in (first, second, first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(receiver.received) == len(receiver.unique()) == 8
    with store.db.read() as session:
        statuses = session.execute(sa.select(NotifyDelivery.status)).scalars().all()
    assert statuses == ["sent"] * 8


def test_signature_matches_the_specification_example() -> None:
    # The example of the Standard Webhooks specification (its reference test vector).
    key = notify_secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    body = b'{"test": 2432232314}'
    assert (
        sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_intake_down_and_up_are_told_once_per_change(
    store: TokenStore, clock: FrozenClock, receiver: Receiver, notify_secret: str
) -> None:
    outbox, dispatcher = _wire(store, clock, receiver, notify_secret)
    told = [
        outbox.emit_state("intake", state, f"intake.{state}", {"reason": "test"})
        for state in ("up", "down", "down", "down", "up", "up")
    ]
    assert told == [False, True, False, False, True, False]  # a first "up" is the normal start
    dispatcher.run()
    assert receiver.types() == ["intake.down", "intake.up"]
