"""Files and cards: the SDK's multipart upload, /v1/contents and its scan ladder, card submits."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from webexpythonsdk import ApiError
from webexpythonsdk import WebexAPI

from tests.emulator.receiver import Receiver
from tests.plugins.emulator import EmulatorHandle

CARD = {
    "contentType": "application/vnd.microsoft.card.adaptive",
    "content": {
        "type": "AdaptiveCard",
        "version": "1.3",
        "body": [{"type": "TextBlock", "text": "Pick"}],
        "actions": [{"type": "Action.Submit", "title": "Go", "data": {"k": "v"}}],
    },
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def _get(api: WebexAPI, url: str, method: str = "GET") -> requests.Response:
    token = api.access_token
    return requests.request(method, url, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def test_sdk_multipart_upload_keeps_the_file(alice: WebexAPI, tmp_path: Path) -> None:
    room = next(r for r in alice.rooms.list() if r.title == "Team Space")
    path = tmp_path / "report.csv"
    payload = b"a,b\n1,2\n" * 1000
    path.write_bytes(payload)
    message = alice.messages.create(roomId=room.id, text="here", files=[str(path)])
    (url,) = message.files
    assert "/v1/contents/" in url
    assert message.text == "here"
    head = _get(alice, url, "HEAD")
    assert head.status_code == 200
    assert head.headers["Content-Disposition"] == 'attachment; filename="report.csv"'
    assert head.headers["Content-Type"].startswith("text/csv")
    assert head.headers["Content-Length"] == str(len(payload))
    assert head.content == b""
    got = _get(alice, url)
    assert got.status_code == 200 and got.content == payload
    # A file-only message is valid, and the message's JSON lists the file.
    only = alice.messages.create(roomId=room.id, files=[str(path)])
    assert only.files and not only.text
    assert alice.messages.get(only.id).files == only.files


def test_contents_scope_and_membership(
    api_for: Callable[..., WebexAPI], alice: WebexAPI, tmp_path: Path
) -> None:
    room = next(r for r in alice.rooms.list() if r.title == "Team Space")
    path = tmp_path / "x.bin"
    path.write_bytes(b"secret")
    (url,) = alice.messages.create(roomId=room.id, files=[str(path)]).files
    bob = api_for("bob@example.com")  # in Team Space
    dave = api_for("dave@example.com")  # not in Team Space
    assert _get(bob, url).content == b"secret"
    assert _get(dave, url).status_code == 404
    no_read = api_for("bob@example.com", scopes=["spark:people_read"])
    assert _get(no_read, url).status_code == 403
    assert requests.get(url, timeout=5).status_code == 401


def test_scan_ladder_423_410_428(alice: WebexAPI, emulator: EmulatorHandle, tmp_path: Path) -> None:
    emulator.settings(file_scan_seconds=10)
    room = next(r for r in alice.rooms.list() if r.title == "Team Space")
    path = tmp_path / "scan.txt"
    path.write_bytes(b"ok")
    (url,) = alice.messages.create(roomId=room.id, files=[str(path)]).files
    locked = _get(alice, url)
    assert locked.status_code == 423
    assert locked.headers["Retry-After"] == "10"
    assert _get(alice, url, "HEAD").status_code == 200  # HEAD works while scanning
    emulator.advance_clock(10)
    assert _get(alice, url).content == b"ok"
    content_id = url.rsplit("/", 1)[1]
    emulator.control("POST", f"contents/{content_id}/scan", {"scan": "infected"})
    assert _get(alice, url).status_code == 410
    emulator.control("POST", f"contents/{content_id}/scan", {"scan": "unscannable"})
    assert _get(alice, url).status_code == 428
    assert _get(alice, url + "?allow=unscannable").content == b"ok"
    with pytest.raises(AssertionError, match="scan must be one of"):
        emulator.control("POST", f"contents/{content_id}/scan", {"scan": "maybe"})


def test_json_files_url_and_control_file(alice: WebexAPI, emulator: EmulatorHandle) -> None:
    room_id = emulator.room_id("Team Space")
    posted = emulator.control(
        "POST",
        "messages",
        {
            "roomId": room_id,
            "personEmail": "bob@example.com",
            "text": "a file",
            "file": {"name": "n.txt", "contentType": "text/plain", "base64": "aGk="},
        },
    )
    (url,) = posted["files"]
    assert _get(alice, url).content == b"hi"
    public = alice.messages.create(roomId=room_id, files=["https://example.com/logo.png"])
    assert public.files == ["https://example.com/logo.png"]
    two = requests.post(
        f"{emulator.api_url}messages",
        json={"roomId": room_id, "text": "x", "files": ["a", "b"]},
        headers={"Authorization": f"Bearer {alice.access_token}"},
        timeout=5,
    )
    assert two.status_code == 400 and "one file" in two.json()["message"]


def test_cards_validated(alice: WebexAPI, emulator: EmulatorHandle) -> None:
    room_id = emulator.room_id("Team Space")
    ok = alice.messages.create(roomId=room_id, text="fallback", attachments=[CARD])
    assert ok.attachments[0]["content"]["type"] == "AdaptiveCard"
    bad_type = dict(CARD, contentType="text/html")
    six = json.loads(json.dumps(CARD))
    six["content"]["actions"] = CARD["content"]["actions"] * 6  # type: ignore[index]
    huge = json.loads(json.dumps(CARD))
    huge["content"]["body"][0]["text"] = "x" * 30000
    for attachments, reason in (
        ([bad_type], "contentType"),
        ([CARD, CARD], "one card"),
        ([six], "at most 5 actions"),
        ([huge], "too large"),
    ):
        with pytest.raises(ApiError) as error:
            alice.messages.create(roomId=room_id, text="f", attachments=attachments)
        assert error.value.status_code == 400
        assert reason in str(error.value.message)


def test_submit_fires_webhook_and_get_returns_inputs(
    alice: WebexAPI,
    api_for: Callable[..., WebexAPI],
    emulator: EmulatorHandle,
    receiver: Receiver,
) -> None:
    room_id = emulator.room_id("Team Space")
    alice.webhooks.create(
        name="cards",
        targetUrl=receiver.url,
        resource="attachmentActions",
        event="created",
        secret="s3cret",
    )
    card = alice.messages.create(roomId=room_id, text="fallback", attachments=[CARD])
    pressed = emulator.control(
        "POST",
        "attachment-actions",
        {"messageId": card.id, "personEmail": "bob@example.com", "inputs": {"k": "v"}},
    )
    (delivery,) = receiver.wait_for(1)
    envelope = json.loads(delivery.body)
    assert envelope["resource"] == "attachmentActions" and envelope["event"] == "created"
    data = envelope["data"]
    assert set(data) == {"id", "type", "messageId", "personId", "roomId", "created"}
    assert data["id"] == pressed["id"] and data["messageId"] == card.id
    assert data["personId"] == emulator.person("bob@example.com")["id"]
    got = alice.attachment_actions.get(data["id"])
    assert got.inputs == {"k": "v"} and got.messageId == card.id
    # A person submits through the REST API too; dave (not in the room) cannot see it.
    bob = api_for("bob@example.com")
    created = bob.attachment_actions.create(type="submit", messageId=card.id, inputs={"a": 1})
    assert bob.attachment_actions.get(created.id).inputs == {"a": 1}
    with pytest.raises(ApiError) as error:
        api_for("dave@example.com").attachment_actions.get(created.id)
    assert error.value.status_code == 404
    plain = alice.messages.create(roomId=room_id, text="no card")
    with pytest.raises(AssertionError, match="no card"):
        emulator.control(
            "POST", "attachment-actions", {"messageId": plain.id, "personEmail": "bob@example.com"}
        )


def test_control_download_serves_the_file(emulator: EmulatorHandle) -> None:
    room_id = emulator.room_id("Team Space")
    body = base64.b64encode(b"\x00\x01").decode()
    posted = emulator.control(
        "POST",
        "messages",
        {
            "roomId": room_id,
            "personEmail": "bob@example.com",
            "file": {"name": "b.bin", "base64": body},
        },
    )
    content_id = posted["files"][0].rsplit("/", 1)[1]
    got = requests.get(f"{emulator.url}/_emulator/contents/{content_id}", timeout=5)
    assert got.content == b"\x00\x01"
    assert got.headers["Content-Disposition"] == 'attachment; filename="b.bin"'
