"""REST details the SDK does not show: headers, errors, limits, paging links, seed files."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests

from tests.plugins.emulator import EmulatorHandle
from tokenbot.emulator import SEED_CLIENT_ID
from tokenbot.emulator import EmulatorServer
from tokenbot.emulator import SeedError

SDK_JSON = "application/json;charset=utf-8"


def _headers(emu: EmulatorHandle, email: str = "alice@example.com") -> dict[str, str]:
    token = emu.mint_token(SEED_CLIENT_ID, email, ["spark:all"])["access_token"]
    return {"Authorization": f"Bearer {token}", "Content-Type": SDK_JSON}


def _post(
    emu: EmulatorHandle, path: str, body: object, headers: dict[str, str]
) -> requests.Response:
    return requests.post(emu.api_url + path, data=json.dumps(body), headers=headers, timeout=10)


def test_response_headers_and_create_status(emulator: EmulatorHandle) -> None:
    headers = _headers(emulator)
    created = _post(emulator, "rooms", {"title": "Headers"}, headers)
    assert created.status_code == 200  # never 201
    assert created.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert created.headers["trackingid"]
    room = created.json()
    assert set(room) >= {"id", "title", "type", "isLocked", "lastActivity", "creatorId", "created"}
    deleted = requests.delete(emulator.api_url + f"rooms/{room['id']}", headers=headers, timeout=10)
    assert deleted.status_code == 204 and deleted.content == b""


def test_message_size_limit_counts_bytes(emulator: EmulatorHandle) -> None:
    headers = _headers(emulator)
    room_id = emulator.room_id("Team Space")
    assert _post(emulator, "messages", {"roomId": room_id, "text": "a" * 7439}, headers).ok
    too_long = _post(emulator, "messages", {"roomId": room_id, "text": "a" * 7440}, headers)
    assert too_long.status_code == 400
    accented = _post(emulator, "messages", {"roomId": room_id, "markdown": "é" * 3720}, headers)
    assert accented.status_code == 400  # 7440 bytes in UTF-8
    assert too_long.json()["errors"][0]["description"] == too_long.json()["message"]


def test_message_destination_and_content_errors(emulator: EmulatorHandle) -> None:
    headers = _headers(emulator)
    room_id = emulator.room_id("Team Space")
    two = _post(
        emulator,
        "messages",
        {"roomId": room_id, "toPersonEmail": "bob@example.com", "text": "x"},
        headers,
    )
    assert two.status_code == 400 and "Exactly one" in two.json()["message"]
    empty = _post(emulator, "messages", {"roomId": room_id}, headers)
    assert empty.status_code == 400
    unknown = _post(
        emulator, "messages", {"roomId": "Y2lzY29zcGFyazovL3VzL1JPT00vbm9uZQ", "text": "x"}, headers
    )
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "Could not find a room with provided ID."


def test_people_list_needs_a_filter_and_unknown_routes_are_json(
    emulator: EmulatorHandle,
) -> None:
    headers = _headers(emulator)
    bare = requests.get(emulator.api_url + "people", headers=headers, timeout=10)
    assert bare.status_code == 400
    missing = requests.get(emulator.api_url + "nothing/here", headers=headers, timeout=10)
    assert missing.status_code == 404 and missing.json()["trackingId"]
    no_token = requests.get(emulator.api_url + "rooms", timeout=10)
    assert no_token.status_code == 401


def test_next_link_is_absolute_and_keeps_the_cursor_apart(emulator: EmulatorHandle) -> None:
    headers = _headers(emulator)
    room_id = emulator.room_id("Project X")
    for number in range(5):
        emulator.post_message(room_id, "bob@example.com", text=f"x{number}")
    params = {"roomId": room_id, "max": 2, "before": "2999-01-01T00:00:00.000Z"}
    first = requests.get(emulator.api_url + "messages", params=params, headers=headers, timeout=10)
    link = first.links["next"]["url"]
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == emulator.url
    query = parse_qs(parts.query)
    assert query["before"] == ["2999-01-01T00:00:00.000Z"]
    assert query["max"] == ["2"]
    assert "cursor" in query
    second = requests.get(link, headers=headers, timeout=10)
    texts = [m["text"] for m in first.json()["items"] + second.json()["items"]]
    assert texts == ["x4", "x3", "x2", "x1"]


def test_membership_rules(emulator: EmulatorHandle) -> None:
    headers = _headers(emulator)
    team = emulator.room_id("Team Space")
    dup = _post(
        emulator, "memberships", {"roomId": team, "personEmail": "bob@example.com"}, headers
    )
    assert dup.status_code == 409
    mine = requests.get(emulator.api_url + "memberships", headers=headers, timeout=10).json()
    assert len(mine["items"]) == 3  # alice is in 2 group rooms and 1 direct room
    needs_room = requests.get(
        emulator.api_url + "memberships",
        params={"personEmail": "bob@example.com"},
        headers=headers,
        timeout=10,
    )
    assert needs_room.status_code == 400


def test_seed_file_replaces_sections(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "people:\n"
        "  - {email: zed@example.com, displayName: Zed Zulu}\n"
        "  - {email: yan@example.com, displayName: Yan Yu, type: bot}\n"
        "spaces:\n"
        "  - {title: Only Room, type: group, members: [zed@example.com, yan@example.com]}\n"
        "integrations:\n"
        "  - client_id: Cseeded\n"
        "    client_secret: fixed-secret\n"
        "    redirect_uris: [http://127.0.0.1:9999/cb]\n"
        "    scopes: [spark:all]\n"
        "settings: {rotate_refresh_tokens: true}\n",
        encoding="utf-8",
    )
    with EmulatorServer(seed=seed) as server:
        control = f"{server.url}/_emulator/"
        people = requests.get(control + "people", timeout=10).json()["items"]
        assert [p["emails"][0] for p in people] == ["yan@example.com", "zed@example.com"]
        assert [p["type"] for p in people] == ["bot", "person"]
        rooms = requests.get(control + "rooms", timeout=10).json()["items"]
        assert [r["title"] for r in rooms] == ["Only Room"]
        settings = requests.get(control + "settings", timeout=10).json()
        assert settings["rotate_refresh_tokens"] is True
        tokens = requests.post(
            control + "tokens",
            json={"client_id": "Cseeded", "email": "zed@example.com", "scopes": ["spark:all"]},
            timeout=10,
        ).json()
        refreshed = requests.post(
            server.api_url + "access_token",
            data={
                "grant_type": "refresh_token",
                "client_id": "Cseeded",
                "client_secret": "fixed-secret",
                "refresh_token": tokens["refresh_token"],
            },
            timeout=10,
        )
        assert refreshed.status_code == 200
        assert refreshed.json()["refresh_token"] != tokens["refresh_token"]  # rotation from seed
        # A bot lists group messages only with mentionedPeople (facts section 3.1).
        bot = requests.post(
            control + "tokens",
            json={"client_id": "Cseeded", "email": "yan@example.com", "scopes": ["spark:all"]},
            timeout=10,
        ).json()
        headers = {"Authorization": f"Bearer {bot['access_token']}"}
        params = {"roomId": rooms[0]["id"]}
        denied = requests.get(
            server.api_url + "messages", params=params, headers=headers, timeout=10
        )
        assert denied.status_code == 403
        params["mentionedPeople"] = "me"
        allowed = requests.get(
            server.api_url + "messages", params=params, headers=headers, timeout=10
        )
        assert allowed.status_code == 200


def test_bad_seed_is_refused() -> None:
    with pytest.raises(SeedError, match="unknown seed sections"):
        EmulatorServer(seed={"peeple": []})
    with pytest.raises(SeedError, match="not a seed person"):
        EmulatorServer(seed={"spaces": [{"title": "X", "members": ["nobody@example.com"]}]})


def test_server_stop_is_idempotent_and_frees_the_port() -> None:
    server = EmulatorServer().start()
    url = server.url
    assert requests.get(url + "/_emulator/clock", timeout=10).ok
    server.stop()
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/_emulator/clock", timeout=2)
