"""Webhook delivery: envelope, signature, filters, retries, disabling and re-activation."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator

import pytest
from webexpythonsdk import WebexAPI

from tests.emulator.receiver import Receiver
from tests.plugins.emulator import EmulatorHandle


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started


def test_delivery_is_signed_and_has_the_webex_envelope(
    alice: WebexAPI, emulator: EmulatorHandle, receiver: Receiver
) -> None:
    room_id = emulator.room_id("Team Space")
    hook = alice.webhooks.create(
        name="team hook",
        targetUrl=receiver.url,
        resource="messages",
        event="created",
        filter=f"roomId={room_id}",
        secret="webhook-secret",
    )
    sent = emulator.post_message(
        room_id, "bob@example.com", markdown="hi <@personEmail:alice@example.com>"
    )
    (delivery,) = receiver.wait_for(1)
    expected = hmac.new(b"webhook-secret", delivery.body, hashlib.sha1).hexdigest()
    assert delivery.headers["X-Spark-Signature"] == expected
    envelope = json.loads(delivery.body)
    alice_id = emulator.person("alice@example.com")["id"]
    bob_id = emulator.person("bob@example.com")["id"]
    assert envelope["id"] == hook.id
    assert envelope["name"] == "team hook"
    assert envelope["targetUrl"] == receiver.url
    assert (envelope["resource"], envelope["event"], envelope["status"]) == (
        "messages",
        "created",
        "active",
    )
    assert envelope["filter"] == f"roomId={room_id}"
    assert envelope["createdBy"] == alice_id
    assert envelope["actorId"] == bob_id
    assert envelope["ownedBy"] == "creator"
    assert envelope["appId"] and envelope["orgId"] and envelope["created"]
    assert "secret" not in envelope
    data = envelope["data"]
    assert data["id"] == sent["id"]
    assert data["roomId"] == room_id and data["roomType"] == "group"
    assert data["personEmail"] == "bob@example.com"
    assert data["mentionedPeople"] == [alice_id]
    assert not {"text", "markdown", "html"} & set(data)
    # The receiver fetches the text with its own token, as a real bot must.
    assert alice.messages.get(data["id"]).text == "hi Alice Andersen"


def test_unsigned_without_secret_and_no_filter_key(
    alice: WebexAPI, emulator: EmulatorHandle, receiver: Receiver
) -> None:
    alice.webhooks.create(name="h", targetUrl=receiver.url, resource="messages", event="all")
    emulator.post_message(emulator.room_id("Project X"), "dave@example.com", text="hello")
    (delivery,) = receiver.wait_for(1)
    assert "X-Spark-Signature" not in delivery.headers
    assert "filter" not in json.loads(delivery.body)


def test_filters_and_room_membership_decide_who_hears_what(
    api_for: Callable[..., WebexAPI], emulator: EmulatorHandle, receiver: Receiver
) -> None:
    team = emulator.room_id("Team Space")
    project = emulator.room_id("Project X")
    alice = api_for("alice@example.com")
    dave = api_for("dave@example.com")
    alice.webhooks.create(
        name="mentions",
        targetUrl=receiver.url + "?who=alice-mentions",
        resource="messages",
        event="created",
        filter="mentionedPeople=me",
    )
    alice.webhooks.create(
        name="from carol",
        targetUrl=receiver.url + "?who=alice-carol",
        resource="messages",
        event="created",
        filter="personEmail=carol@example.com",
    )
    # Dave is not in Team Space: his firehose hears only Project X.
    dave.webhooks.create(
        name="dave all", targetUrl=receiver.url + "?who=dave", resource="all", event="all"
    )
    emulator.post_message(team, "bob@example.com", text="plain, nobody mentioned")
    emulator.post_message(team, "bob@example.com", markdown="<@personEmail:alice@example.com> look")
    emulator.post_message(team, "carol@example.com", text="carol speaks")
    emulator.post_message(project, "bob@example.com", text="project news")
    deliveries = receiver.wait_for(3)
    got = sorted(
        (d.path.split("=", 1)[1], json.loads(d.body)["data"]["personEmail"]) for d in deliveries
    )
    assert got == [
        ("alice-carol", "carol@example.com"),
        ("alice-mentions", "bob@example.com"),
        ("dave", "bob@example.com"),
    ]


def test_deleted_and_membership_events(
    alice: WebexAPI, emulator: EmulatorHandle, receiver: Receiver
) -> None:
    alice.webhooks.create(name="all", targetUrl=receiver.url, resource="all", event="all")
    room = alice.rooms.create("Events Room")
    alice.memberships.create(room.id, personEmail="carol@example.com")
    message = alice.messages.create(roomId=room.id, text="to delete")
    alice.messages.delete(message.id)
    events = [json.loads(d.body) for d in receiver.wait_for(5)]
    kinds = sorted((e["resource"], e["event"]) for e in events)
    assert kinds == [
        ("memberships", "created"),
        ("memberships", "created"),
        ("messages", "created"),
        ("messages", "deleted"),
        ("rooms", "created"),
    ]
    deleted = next(e for e in events if e["event"] == "deleted")
    assert deleted["data"]["id"] == message.id
    member = next(
        e
        for e in events
        if e["resource"] == "memberships" and e["data"]["personEmail"] == "carol@example.com"
    )
    assert member["data"]["roomId"] == room.id


def test_failing_receiver_gets_retries_then_the_webhook_is_disabled(
    alice: WebexAPI, emulator: EmulatorHandle
) -> None:
    emulator.settings(
        webhook_retries=2,
        webhook_retry_backoff=0.05,
        webhook_disable_threshold=3,
        webhook_disable_window=60,
    )
    room_id = emulator.room_id("Team Space")
    with Receiver(status=500) as failing:
        hook = alice.webhooks.create(
            name="flaky", targetUrl=failing.url, resource="messages", event="created"
        )
        emulator.post_message(room_id, "bob@example.com", text="one")
        attempts = failing.wait_for(3)
        assert len({d.body for d in attempts}) == 1  # the same envelope, retried
        deadline = time.monotonic() + 5
        while alice.webhooks.get(hook.id).status != "inactive":
            assert time.monotonic() < deadline, "webhook was not disabled"
            time.sleep(0.02)
        log = emulator.control("GET", f"deliveries?webhookId={hook.id}")["items"]
        assert [d["status"] for d in log] == [500, 500, 500]
        # Disabled: the next message is not sent at all.
        emulator.post_message(room_id, "bob@example.com", text="two")
        assert emulator.control("GET", "webhooks")["items"][0]["failures"] == 3
        failing.status = 200
        again = alice.webhooks.update(hook.id, name="flaky", targetUrl=failing.url, status="active")
        assert again.status == "active"
        emulator.post_message(room_id, "bob@example.com", text="three")
        deliveries = failing.wait_for(4)
        assert json.loads(deliveries[3].body)["data"]["roomId"] == room_id
        assert len(deliveries) == 4


def test_delivery_never_blocks_the_message_create(
    alice: WebexAPI, emulator: EmulatorHandle
) -> None:
    gate = threading.Event()
    with Receiver(gate=gate) as stuck:
        alice.webhooks.create(
            name="slow", targetUrl=stuck.url, resource="messages", event="created"
        )
        post = threading.Thread(
            target=alice.messages.create,
            kwargs={"roomId": emulator.room_id("Team Space"), "text": "fast please"},
        )
        post.start()
        stuck.wait_started(1)  # the delivery is in flight and held by the receiver...
        post.join(10)
        # ...yet the create has returned: delivery does not run in the request.
        assert not post.is_alive() and stuck.deliveries == []
        gate.set()
        stuck.wait_for(1)


def test_webhook_validation(alice: WebexAPI, emulator: EmulatorHandle) -> None:
    from webexpythonsdk import ApiError

    with pytest.raises(ApiError) as bad_resource:
        alice.webhooks.create(
            name="x", targetUrl="http://127.0.0.1:9/", resource="nope", event="created"
        )
    assert bad_resource.value.status_code == 400
    outside = alice.rooms.create("Alice only")
    bob_token = emulator.mint_token(
        emulator.control("GET", "integrations")["items"][0]["client_id"],
        "bob@example.com",
        ["spark:messages_read"],
    )["access_token"]
    bob = WebexAPI(access_token=bob_token, base_url=emulator.api_url)
    with pytest.raises(ApiError) as bad_filter:
        bob.webhooks.create(
            name="x",
            targetUrl="http://127.0.0.1:9/",
            resource="messages",
            event="created",
            filter=f"roomId={outside.id}",
        )
    assert bad_filter.value.message == "invalid value for filter: roomId"
    assert list(bob.webhooks.list()) == []
