"""The gaps an audit against Webex's OpenAPI spec found: events, moderation, markdown, limits,
teams and the simulated network, each answered as the spec describes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.emulator.receiver import Receiver
from tests.plugins.emulator import EmulatorHandle
from tokenbot.emulator import SEED_CLIENT_ID

SDK_JSON = "application/json;charset=utf-8"


class Client:
    """Raw REST calls as one sandbox person (the SDK hides statuses and headers)."""

    def __init__(self, emu: EmulatorHandle, email: str) -> None:
        token = emu.mint_token(SEED_CLIENT_ID, email, ["spark:all"])["access_token"]
        self.base = emu.api_url
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": SDK_JSON}

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
        data = None if body is None else json.dumps(body)
        return requests.request(
            method, self.base + path, data=data, params=params, headers=self.headers, timeout=10
        )

    def ok(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.call(method, path, body, **params)
        assert response.ok, (response.status_code, response.text)
        return response.json() if response.content else None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started


def _events(receiver: Receiver, count: int) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for delivery in receiver.wait_for(count):
        envelope = json.loads(delivery.body)
        found.append((envelope["resource"], envelope["event"], envelope["data"]))
    return found


def test_room_and_membership_changes_are_delivered(
    emulator: EmulatorHandle, receiver: Receiver
) -> None:
    alice = Client(emulator, "alice@example.com")
    bob = Client(emulator, "bob@example.com")
    room = alice.ok("POST", "rooms", {"title": "Changes"})
    for who in (alice, bob):
        who.ok(
            "POST",
            "webhooks",
            {"name": "all", "targetUrl": receiver.url, "resource": "all", "event": "all"},
        )
    member = alice.ok(
        "POST", "memberships", {"roomId": room["id"], "personEmail": "bob@example.com"}
    )
    alice.ok("PUT", f"rooms/{room['id']}", {"title": "Renamed"})
    alice.ok("PUT", f"memberships/{member['id']}", {"isModerator": True, "isRoomHidden": False})
    alice.ok("DELETE", f"memberships/{member['id']}")
    # alice and bob each hear bob's memberships/created, rooms/updated, memberships/updated
    # and memberships/deleted (bob hears his own removal: it is queued before he leaves).
    events = _events(receiver, 8)
    kinds = [(resource, event) for resource, event, _ in events]
    assert sorted(kinds) == sorted(
        [
            ("memberships", "created"),
            ("rooms", "updated"),
            ("memberships", "updated"),
            ("memberships", "deleted"),
        ]
        * 2
    )
    renamed = next(data for r, e, data in events if (r, e) == ("rooms", "updated"))
    assert renamed["title"] == "Renamed"
    removed = next(data for r, e, data in events if (r, e) == ("memberships", "deleted"))
    assert removed["personEmail"] == "bob@example.com" and removed["id"] == member["id"]


def test_locked_room_has_a_moderator_and_others_only_leave(emulator: EmulatorHandle) -> None:
    alice = Client(emulator, "alice@example.com")
    bob = Client(emulator, "bob@example.com")
    room = alice.ok("POST", "rooms", {"title": "Locked", "isLocked": True})
    assert room["isLocked"] is True
    (own,) = alice.ok("GET", "memberships", roomId=room["id"])["items"]
    assert own["isModerator"] is True
    alice.ok("POST", "memberships", {"roomId": room["id"], "personEmail": "bob@example.com"})
    assert bob.call("PUT", f"rooms/{room['id']}", {"title": "Mine"}).status_code == 403
    added = bob.call(
        "POST", "memberships", {"roomId": room["id"], "personEmail": "carol@example.com"}
    )
    assert added.status_code == 403
    assert bob.call("DELETE", f"rooms/{room['id']}").status_code == 204
    # bob left; the room is still there for alice.
    assert bob.call("GET", f"rooms/{room['id']}").status_code == 404
    members = alice.ok("GET", "memberships", roomId=room["id"])["items"]
    assert [m["personEmail"] for m in members] == ["alice@example.com"]
    assert alice.call("DELETE", f"rooms/{room['id']}").status_code == 204
    assert alice.call("GET", f"rooms/{room['id']}").status_code == 404


def test_put_locks_and_unlocks_a_room(emulator: EmulatorHandle) -> None:
    alice = Client(emulator, "alice@example.com")
    room = alice.ok("POST", "rooms", {"title": "Open"})
    assert room["isLocked"] is False
    locked = alice.ok("PUT", f"rooms/{room['id']}", {"title": "Open", "isLocked": True})
    assert locked["isLocked"] is True
    assert alice.ok("GET", f"rooms/{room['id']}")["isLocked"] is True
    (own,) = alice.ok("GET", "memberships", roomId=room["id"])["items"]
    assert own["isModerator"] is True
    unlocked = alice.ok("PUT", f"rooms/{room['id']}", {"title": "Open", "isLocked": False})
    assert unlocked["isLocked"] is False


def test_markdown_renders_the_webex_subset_and_text_has_no_markup(
    emulator: EmulatorHandle,
) -> None:
    alice = Client(emulator, "alice@example.com")
    markdown = (
        "# Plan\n\n"
        "Some _italic_ and **bold** and `code`, see [docs](https://example.com/d).\n\n"
        "- one\n- two\n\n"
        "1. first\n\n"
        "> quoted\n\n"
        "```\nif a < b:\n    run()\n```\n\n"
        "<b>raw</b> for <@personEmail:bob@example.com|Bob>"
    )
    sent = alice.ok(
        "POST", "messages", {"roomId": emulator.room_id("Team Space"), "markdown": markdown}
    )
    html = sent["html"]
    assert "<h1>Plan</h1>" in html
    assert "<em>italic</em>" in html and "<strong>bold</strong>" in html
    assert "<code>code</code>" in html
    assert '<a href="https://example.com/d" rel="nofollow">docs</a>' in html
    assert "<ul><li>one</li><li>two</li></ul>" in html and "<ol><li>first</li></ol>" in html
    assert "<blockquote><p>quoted</p></blockquote>" in html
    assert "<pre><code>if a &lt; b:\n    run()\n</code></pre>" in html
    assert "&lt;b&gt;raw&lt;/b&gt;" in html  # raw HTML is shown, never passed through
    assert 'data-object-id="' + emulator.person("bob@example.com")["id"] in html
    text = sent["text"]
    for markup in ("_", "**", "`", "](", "```"):
        assert markup not in text, markup
    assert not any(line.startswith(("#", "> ", "- ", "1.")) for line in text.splitlines())
    assert "Some italic and bold and code, see docs." in text
    assert "if a < b:\n    run()" in text
    assert text.endswith("for Bob")


def test_reads_of_direct_messages_have_no_to_person_fields(emulator: EmulatorHandle) -> None:
    alice = Client(emulator, "alice@example.com")
    sent = alice.ok("POST", "messages", {"toPersonEmail": "dave@example.com", "text": "hi"})
    assert sent["toPersonEmail"] == "dave@example.com"  # the create answer has them
    read = alice.ok("GET", f"messages/{sent['id']}")
    listed = alice.ok("GET", "messages/direct", personEmail="dave@example.com")["items"]
    in_room = alice.ok("GET", "messages", roomId=sent["roomId"])["items"]
    for item in (read, listed[0], in_room[0]):
        assert "toPersonEmail" not in item and "toPersonId" not in item


def test_max_beyond_the_spec_is_refused_unless_clamped(emulator: EmulatorHandle) -> None:
    alice = Client(emulator, "alice@example.com")
    room_id = emulator.room_id("Team Space")
    assert alice.call("GET", "rooms", max=1000).status_code == 200
    too_many = alice.call("GET", "rooms", max=1001)
    assert too_many.status_code == 400 and "1000" in too_many.json()["message"]
    mentioned = alice.call("GET", "messages", roomId=room_id, mentionedPeople="me", max=101)
    assert mentioned.status_code == 400
    assert alice.call("GET", "messages", roomId=room_id, mentionedPeople="me", max=100).ok
    emulator.settings(clamp_max=True)
    assert alice.call("GET", "rooms", max=1001).status_code == 200
    assert alice.call("GET", "messages", roomId=room_id, mentionedPeople="me", max=101).ok


def test_people_by_id_accepts_85_ids(emulator: EmulatorHandle) -> None:
    alice = Client(emulator, "alice@example.com")
    me = emulator.person("alice@example.com")["id"]
    assert alice.ok("GET", "people", id=",".join([me] * 85))["items"][0]["id"] == me
    refused = alice.call("GET", "people", id=",".join([me] * 86))
    assert refused.status_code == 400 and "85" in refused.json()["message"]


def test_card_needs_the_adaptive_card_content_type(emulator: EmulatorHandle) -> None:
    alice = Client(emulator, "alice@example.com")
    card = {"type": "AdaptiveCard", "version": "1.2", "body": []}
    body: dict[str, Any] = {"roomId": emulator.room_id("Team Space"), "text": "card"}
    wrong = alice.call(
        "POST", "messages", {**body, "attachments": [{"contentType": "text/html", "content": card}]}
    )
    assert wrong.status_code == 400 and "contentType" in wrong.json()["message"]
    right = {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
    assert alice.call("POST", "messages", {**body, "attachments": [right]}).ok


@pytest.mark.parametrize(
    ("method", "path", "body", "params"),
    [
        ("POST", "rooms", {"title": "x", "isLocked": "yes"}, {}),
        (
            "POST",
            "memberships",
            {"roomId": "ROOM", "personEmail": "dave@example.com", "isModerator": "true"},
            {},
        ),
        ("GET", "rooms", None, {"orgPublicSpaces": "maybe"}),
        ("GET", "people", None, {"email": "bob@example.com", "callingData": "1"}),
    ],
)
def test_bad_booleans_are_refused(
    emulator: EmulatorHandle, method: str, path: str, body: Any, params: dict[str, str]
) -> None:
    alice = Client(emulator, "alice@example.com")
    if body and body.get("roomId") == "ROOM":
        body["roomId"] = emulator.room_id("Team Space")
    refused = alice.call(method, path, body, **params)
    assert refused.status_code == 400
    assert "expected true or false" in refused.json()["message"]


def test_membership_without_room_is_400_and_405_names_the_allowed_methods(
    emulator: EmulatorHandle,
) -> None:
    alice = Client(emulator, "alice@example.com")
    missing = alice.call("POST", "memberships", {"personEmail": "dave@example.com"})
    assert missing.status_code == 400 and "roomId" in missing.json()["message"]
    patched = alice.call("PATCH", "rooms")
    assert patched.status_code == 405
    allowed = {m.strip() for m in patched.headers["Allow"].split(",")}
    assert {"GET", "POST"} <= allowed and "PATCH" not in allowed


def test_teams_and_team_memberships(emulator: EmulatorHandle) -> None:
    alice = Client(emulator, "alice@example.com")
    bob = Client(emulator, "bob@example.com")
    team = alice.ok("POST", "teams", {"name": "Build Squad", "description": "The A team"})
    assert (team["name"], team["description"]) == ("Build Squad", "The A team")
    assert [t["id"] for t in alice.ok("GET", "teams")["items"]] == [team["id"]]
    (general,) = alice.ok("GET", "rooms", teamId=team["id"])["items"]
    assert general["title"] == "Build Squad" and general["teamId"] == team["id"]
    (owner,) = alice.ok("GET", "team/memberships", teamId=team["id"])["items"]
    assert owner["isModerator"] is True and owner["personEmail"] == "alice@example.com"
    assert alice.call("GET", "team/memberships").status_code == 400  # teamId is required
    assert bob.call("GET", f"teams/{team['id']}").status_code == 404
    joined = alice.ok(
        "POST", "team/memberships", {"teamId": team["id"], "personEmail": "bob@example.com"}
    )
    assert joined["isModerator"] is False and joined["teamId"] == team["id"]
    assert bob.ok("GET", f"rooms/{general['id']}")["teamId"] == team["id"]  # joined General
    again = alice.call(
        "POST", "team/memberships", {"teamId": team["id"], "personEmail": "bob@example.com"}
    )
    assert again.status_code == 409
    by_bob = bob.call(
        "POST", "team/memberships", {"teamId": team["id"], "personEmail": "carol@example.com"}
    )
    assert by_bob.status_code == 403
    assert alice.call("DELETE", f"team/memberships/{owner['id']}").status_code == 409
    alice.ok("PUT", f"team/memberships/{joined['id']}", {"isModerator": True})
    assert alice.call("DELETE", f"team/memberships/{owner['id']}").status_code == 204
    assert alice.call("GET", f"rooms/{general['id']}").status_code == 404  # left General
    renamed = bob.ok("PUT", f"teams/{team['id']}", {"name": "Squad"})
    assert renamed["name"] == "Squad"
    assert bob.call("DELETE", f"teams/{team['id']}").status_code == 204
    assert bob.ok("GET", "teams")["items"] == []


def test_latency_is_added_to_calls_and_deliveries(
    emulator: EmulatorHandle, receiver: Receiver
) -> None:
    alice = Client(emulator, "alice@example.com")
    alice.ok(
        "POST",
        "webhooks",
        {"name": "m", "targetUrl": receiver.url, "resource": "messages", "event": "created"},
    )
    emulator.settings(latency_ms=150, latency_jitter_ms=20)
    started = time.monotonic()
    alice.ok("GET", "people/me")
    assert time.monotonic() - started >= 0.15
    posted = time.monotonic()
    emulator.post_message(emulator.room_id("Team Space"), "bob@example.com", text="hi")
    receiver.wait_for(1)
    assert time.monotonic() - posted >= 0.15  # the control API itself adds none
