"""The real webexpythonsdk against the emulator: the shapes it parses, the pages it follows."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import pytest
from webexpythonsdk import ApiError
from webexpythonsdk import WebexAPI

from tests.plugins.emulator import EmulatorHandle

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _decoded(webex_id: str) -> str:
    assert "=" not in webex_id
    return base64.urlsafe_b64decode(webex_id + "=" * (-len(webex_id) % 4)).decode()


def test_people_me_and_lookup(alice: WebexAPI, emulator: EmulatorHandle) -> None:
    me = alice.people.me()
    assert me.emails == ["alice@example.com"]
    assert me.displayName == "Alice Andersen"
    assert me.type == "person"
    assert re.match(r"^ciscospark://us/PEOPLE/[0-9a-f-]{36}$", _decoded(me.id))
    assert me.created.year >= 2024  # parsed by the SDK's strptime: the .mmmZ format
    bob = list(alice.people.list(email="bob@example.com"))
    assert [p.displayName for p in bob] == ["Bob Baker"]
    assert alice.people.get(bob[0].id).emails == ["bob@example.com"]
    assert emulator.person("bob@example.com")["id"] == bob[0].id


def test_rooms_list_filter_sort_and_create(alice: WebexAPI) -> None:
    rooms = list(alice.rooms.list())
    titles = {r.title for r in rooms}
    assert {"Team Space", "Project X", "Bob Baker"} <= titles
    assert {r.type for r in rooms} == {"group", "direct"}
    direct = list(alice.rooms.list(type="direct"))
    assert [r.title for r in direct] == ["Bob Baker"]
    created = alice.rooms.create("Fresh Room")
    assert created.type == "group"
    assert TIMESTAMP.match(created.json_data["created"])
    newest = list(alice.rooms.list(sortBy="lastactivity", max=1))
    assert newest[0].id == created.id
    members = list(alice.memberships.list(roomId=created.id))
    assert [m.personEmail for m in members] == ["alice@example.com"]
    assert alice.rooms.get(created.id).title == "Fresh Room"


def test_memberships_list_create_and_duplicate(alice: WebexAPI) -> None:
    room = alice.rooms.create("Membership Room")
    added = alice.memberships.create(room.id, personEmail="dave@example.com")
    assert added.personEmail == "dave@example.com"
    assert added.roomId == room.id
    assert "MEMBERSHIP" in _decoded(added.id)
    emails = sorted(m.personEmail for m in alice.memberships.list(roomId=room.id))
    assert emails == ["alice@example.com", "dave@example.com"]
    only = list(alice.memberships.list(roomId=room.id, personEmail="dave@example.com"))
    assert [m.id for m in only] == [added.id]
    with pytest.raises(ApiError) as caught:
        alice.memberships.create(room.id, personEmail="dave@example.com")
    assert caught.value.status_code == 409
    assert caught.value.message == "Person is already in the room."


def test_messages_create_get_list_delete(alice: WebexAPI, emulator: EmulatorHandle) -> None:
    room_id = emulator.room_id("Team Space")
    sent = alice.messages.create(
        roomId=room_id, markdown="Hello **team**, ping <@personEmail:bob@example.com|Bob>"
    )
    assert sent.text == "Hello team, ping Bob"
    assert "<strong>team</strong>" in sent.html
    assert "spark-mention" in sent.html
    bob_id = emulator.person("bob@example.com")["id"]
    assert sent.mentionedPeople == [bob_id]
    assert alice.messages.get(sent.id).markdown.startswith("Hello **team**")
    reply = alice.messages.create(roomId=room_id, text="a reply", parentId=sent.id)
    assert reply.parentId == sent.id
    listed = [m.id for m in alice.messages.list(roomId=room_id)]
    assert listed == [reply.id, sent.id]  # newest first
    thread = [m.id for m in alice.messages.list(roomId=room_id, parentId=sent.id)]
    assert thread == [reply.id]
    alice.messages.delete(reply.id)
    with pytest.raises(ApiError) as caught:
        alice.messages.get(reply.id)
    assert caught.value.status_code == 404


def test_direct_messages_create_room_on_demand(
    alice: WebexAPI, api_for: Callable[..., WebexAPI]
) -> None:
    sent = alice.messages.create(toPersonEmail="dave@example.com", text="hi dave")
    assert sent.roomType == "direct"
    assert sent.toPersonEmail == "dave@example.com"
    dave = api_for("dave@example.com")
    assert [m.text for m in dave.messages.list_direct(personEmail="alice@example.com")] == [
        "hi dave"
    ]
    again = alice.messages.create(toPersonEmail="dave@example.com", text="second")
    assert again.roomId == sent.roomId
    direct_titles = sorted(r.title for r in dave.rooms.list(type="direct"))
    assert direct_titles == ["Alice Andersen"]


def test_listing_250_messages_pages_without_duplicates(
    alice: WebexAPI, emulator: EmulatorHandle
) -> None:
    room = alice.rooms.create("Busy Room")
    for number in range(250):
        emulator.post_message(room.id, "alice@example.com", text=f"m{number}")
    seen = [m.text for m in alice.messages.list(roomId=room.id, max=50)]
    assert seen == [f"m{n}" for n in reversed(range(250))]
    pages = emulator.calls(path="/v1/messages", method="GET")
    assert len(pages) == 5  # 250 / 50, and no extra call for an empty page


def test_max_before_and_mentions_combined_with_paging(
    alice: WebexAPI, api_for: Callable[..., WebexAPI], emulator: EmulatorHandle
) -> None:
    room_id = emulator.room_id("Team Space")
    created = []
    for number in range(30):
        markdown = f"n{number}" + (" <@personEmail:bob@example.com>" if number % 3 == 0 else "")
        created.append(emulator.post_message(room_id, "alice@example.com", markdown=markdown))
    bob = api_for("bob@example.com")
    mentions = [m.id for m in bob.messages.list(roomId=room_id, mentionedPeople="me", max=4)]
    assert mentions == [m["id"] for m in reversed(created) if m["text"].endswith("Bob Baker")]
    assert len(mentions) == 10
    # `before` a message's time and `beforeMessage` keep their meaning across pages.
    anchor = created[20]
    older = [m.text for m in bob.messages.list(roomId=room_id, beforeMessage=anchor["id"], max=7)]
    assert older == [m["text"] for m in reversed(created[:20])]
    before = [
        m.id for m in bob.messages.list(roomId=room_id, before="2999-01-01T00:00:00.000Z", max=8)
    ]
    assert before == [m["id"] for m in reversed(created)]
    assert list(bob.messages.list(roomId=room_id, before="2000-01-01T00:00:00.000Z")) == []
    # `max` bounds a page: one call with max=5 returns exactly five.
    first_page = bob._session.get("messages", params={"roomId": room_id, "max": 5})
    assert len(first_page["items"]) == 5


def test_webhooks_crud(alice: WebexAPI, emulator: EmulatorHandle) -> None:
    room_id = emulator.room_id("Team Space")
    hook = alice.webhooks.create(
        name="bot",
        targetUrl="http://127.0.0.1:9/hook",
        resource="messages",
        event="created",
        filter=f"roomId={room_id}",
        secret="s3cret",
    )
    assert hook.status == "active"
    assert hook.secret == "s3cret"
    assert hook.filter == f"roomId={room_id}"
    assert "WEBHOOK" in _decoded(hook.id)
    assert [w.id for w in alice.webhooks.list()] == [hook.id]
    assert alice.webhooks.get(hook.id).name == "bot"
    updated = alice.webhooks.update(hook.id, name="renamed", targetUrl="http://127.0.0.1:9/x")
    assert updated.name == "renamed"
    assert updated.targetUrl == "http://127.0.0.1:9/x"
    alice.webhooks.delete(hook.id)
    assert list(alice.webhooks.list()) == []


def test_non_member_cannot_read_or_post(
    api_for: Callable[..., WebexAPI], emulator: EmulatorHandle
) -> None:
    dave = api_for("dave@example.com")
    room_id = emulator.room_id("Team Space")  # alice, bob, carol
    with pytest.raises(ApiError) as read:
        list(dave.messages.list(roomId=room_id))
    assert read.value.status_code == 404
    with pytest.raises(ApiError) as post:
        dave.messages.create(roomId=room_id, text="let me in")
    assert post.value.status_code == 404
    assert post.value.tracking_id


def test_missing_scope_is_403(api_for: Callable[..., WebexAPI], emulator: EmulatorHandle) -> None:
    reader = api_for("alice@example.com", scopes=["spark:people_read", "spark:messages_read"])
    with pytest.raises(ApiError) as caught:
        reader.messages.create(roomId=emulator.room_id("Team Space"), text="nope")
    assert caught.value.status_code == 403
    assert caught.value.message == "Missing required scope: spark:messages_write"
    assert reader.people.me().emails == ["alice@example.com"]
