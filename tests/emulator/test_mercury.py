"""The emulator's websocket intake: U2C catalog, WDM devices, the Mercury socket, faults."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect

from tests.plugins.emulator import EmulatorHandle
from tokenbot.emulator import SEED_CLIENT_ID

QUERY = "?outboundWireFormat=text&bufferStates=true&aliasHttpStatus=true"
DEVICE = {"name": "test-client", "deviceType": "DESKTOP", "model": "python"}


def _token(emulator: EmulatorHandle, email: str = "alice@example.com", scopes: Any = None) -> str:
    scopes = scopes or ["spark:all", "spark:kms"]
    return str(emulator.mint_token(SEED_CLIENT_ID, email, scopes)["access_token"])


def _wdm(emulator: EmulatorHandle, token: str) -> str:
    response = requests.get(
        f"{emulator.url}/u2c/api/v1/catalog",
        params={"format": "hostmap"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["serviceLinks"]["wdm"])


def _register(emulator: EmulatorHandle, token: str, wdm: str | None = None) -> dict[str, Any]:
    response = requests.post(
        f"{wdm or _wdm(emulator, token)}/devices",
        json=DEVICE,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _open(device: dict[str, Any], token: str, *, bearer: bool = True) -> ClientConnection:
    ws = connect(device["webSocketUrl"] + QUERY, open_timeout=5, legacy=True)
    auth = f"Bearer {token}" if bearer else token
    ws.send(json.dumps({"id": str(uuid.uuid4()), "type": "authorization", "data": {"token": auth}}))
    first = json.loads(ws.recv(timeout=5))
    assert first["data"]["eventType"] == "mercury.buffer_state"
    return ws


def _frames(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [json.loads(ws.recv(timeout=5)) for _ in range(count)]


def _silent(ws: ClientConnection) -> bool:
    try:
        ws.recv(timeout=0.3)
    except TimeoutError:
        return True
    return False


def _hydra(kind: str, uid: str, cluster: str = "us") -> str:
    raw = f"ciscospark://{cluster}/{kind}/{uid}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def alice_socket(emulator: EmulatorHandle) -> Iterator[tuple[ClientConnection, dict[str, Any]]]:
    """Return an authorized socket of a fresh device of alice, and the device."""
    token = _token(emulator)
    device = _register(emulator, token)
    ws = _open(device, token)
    try:
        yield ws, device
    finally:
        ws.close()


def test_catalog_points_at_the_home_region(emulator: EmulatorHandle) -> None:
    token = _token(emulator)
    assert _wdm(emulator, token).endswith("/wdm/a/api/v1")
    emulator.settings(wdm_region="r")
    assert _wdm(emulator, token).endswith("/wdm/r/api/v1")
    response = requests.get(f"{emulator.url}/u2c/api/v1/catalog", timeout=10)
    assert response.status_code == 401


def test_devices_register_list_refresh_delete(emulator: EmulatorHandle) -> None:
    token = _token(emulator)
    headers = {"Authorization": f"Bearer {token}"}
    device = _register(emulator, token)
    assert {"url", "webSocketUrl", "userId", "services", "creationTime"} <= set(device)
    listed = requests.get(f"{_wdm(emulator, token)}/devices", headers=headers, timeout=10).json()
    names = [d["name"] for d in listed["devices"]]
    assert "test-client" in names and "Alice's Webex Desktop" in names and "Alice's iPhone" in names
    assert requests.put(device["url"], json=DEVICE, headers=headers, timeout=10).status_code == 200
    assert requests.delete(device["url"], headers=headers, timeout=10).status_code == 204
    assert requests.put(device["url"], json=DEVICE, headers=headers, timeout=10).status_code == 404
    with pytest.raises(InvalidStatus) as refused:
        connect(device["webSocketUrl"] + QUERY, open_timeout=5, legacy=True)
    assert refused.value.response.status_code == 404


def test_devices_need_spark_all_unless_relaxed(emulator: EmulatorHandle) -> None:
    token = _token(emulator, scopes=["spark:messages_read"])
    wdm = f"{emulator.url}/wdm/a/api/v1"
    response = requests.post(
        f"{wdm}/devices", json=DEVICE, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 403
    assert "spark:all" in response.json()["message"]
    emulator.settings(wdm_require_spark_all=False)
    _register(emulator, token, wdm)


def test_device_cap_answers_excessive_registrations(emulator: EmulatorHandle) -> None:
    emulator.settings(wdm_device_cap=3)  # the two seeded devices count
    token = _token(emulator)
    _register(emulator, token)
    response = requests.post(
        f"{_wdm(emulator, token)}/devices",
        json=DEVICE,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["message"] == "User has excessive device registrations"


def test_delete_all_removes_the_persons_own_devices(emulator: EmulatorHandle) -> None:
    token = _token(emulator)
    requests.delete(
        f"{_wdm(emulator, token)}/devices", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).raise_for_status()
    left = emulator.control("GET", "devices")["items"]
    assert not [d for d in left if d["ownerEmail"] == "alice@example.com"]
    assert [d for d in left if d["ownerEmail"] == "bob@example.com" and d["seeded"]]


def test_socket_authorizes_pongs_and_delivers_every_verb(
    emulator: EmulatorHandle, alice_socket: tuple[ClientConnection, dict[str, Any]]
) -> None:
    ws, _device = alice_socket
    ws.send(json.dumps({"id": "ping-1", "type": "ping"}))
    assert json.loads(ws.recv(timeout=5)) == {"id": "ping-1", "type": "pong"}
    room = emulator.room_id("Team Space")
    posted = emulator.post_message(room, "bob@example.com", text="/help secret words")
    own = emulator.post_message(room, "alice@example.com", text="mine")
    post, mine = _frames(ws, 2)
    assert post["data"]["eventType"] == "conversation.activity"
    assert mine["sequenceNumber"] == post["sequenceNumber"] + 1
    activity = post["data"]["activity"]
    assert activity["verb"] == "post"
    assert _hydra("MESSAGE", activity["id"]) == posted["id"]
    assert activity["target"]["globalId"] == room
    assert activity["actor"]["emailAddress"] == "bob@example.com"
    assert "secret" not in json.dumps(post)  # the text travels encrypted
    assert mine["data"]["activity"]["actor"]["emailAddress"] == "alice@example.com"
    assert emulator.post_message(room, "bob@example.com", text="x")
    [share_or_post] = _frames(ws, 1)
    bob = emulator.mint_token(SEED_CLIENT_ID, "bob@example.com", ["spark:all"])["access_token"]
    requests.delete(
        f"{emulator.api_url}messages/{own['id']}",
        headers={"Authorization": f"Bearer {_token(emulator)}"},
        timeout=10,
    ).raise_for_status()
    [deleted] = _frames(ws, 1)
    assert deleted["data"]["activity"]["verb"] == "delete"
    assert deleted["data"]["activity"]["object"]["id"] == mine["data"]["activity"]["id"]
    requests.post(
        f"{emulator.api_url}memberships",
        json={"roomId": room, "personEmail": "dave@example.com"},
        headers={"Authorization": f"Bearer {bob}"},
        timeout=10,
    ).raise_for_status()
    [added] = _frames(ws, 1)
    assert added["data"]["activity"]["verb"] == "add"
    assert share_or_post["data"]["activity"]["verb"] == "post"


def test_unacked_frames_come_again_on_reconnect(emulator: EmulatorHandle) -> None:
    token = _token(emulator)
    device = _register(emulator, token)
    room = emulator.room_id("Team Space")
    ws = _open(device, token)
    emulator.post_message(room, "bob@example.com", text="one")
    emulator.post_message(room, "bob@example.com", text="two")
    one, two = _frames(ws, 2)
    ws.send(json.dumps({"messageId": one["id"], "type": "ack"}))
    ws.send(json.dumps({"id": "p", "type": "ping"}))
    ws.recv(timeout=5)  # the pong: the ack was read before it
    ws.close()
    emulator.post_message(room, "bob@example.com", text="three, while away")
    ws = _open(device, token)
    again = _frames(ws, 2)
    assert [f["id"] for f in again][0] == two["id"]
    assert again[1]["sequenceNumber"] == two["sequenceNumber"] + 1
    ws.close()
    emulator.settings(mercury_redelivery_seconds=60.0)
    emulator.advance_clock(120)
    token = _token(emulator)
    ws = _open(device, token)
    assert _silent(ws)
    ws.close()


def test_offline_activities_can_be_dropped(emulator: EmulatorHandle) -> None:
    emulator.settings(mercury_drop_while_offline=True)
    token = _token(emulator)
    device = _register(emulator, token)
    _open(device, token).close()
    emulator.post_message(emulator.room_id("Team Space"), "bob@example.com", text="lost")
    ws = _open(device, token)
    assert _silent(ws)
    ws.close()


def test_bad_token_closes_4401_and_second_socket_replaces_first(
    emulator: EmulatorHandle,
) -> None:
    token = _token(emulator)
    device = _register(emulator, token)
    ws = connect(device["webSocketUrl"] + QUERY, open_timeout=5, legacy=True)
    ws.send(json.dumps({"id": "a", "type": "authorization", "data": {"token": "Bearer nope"}}))
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    first = _open(device, token)
    second = _open(device, token, bearer=False)  # the Go SDK's bare token works too
    with pytest.raises(ConnectionClosed) as replaced:
        first.recv(timeout=5)
    assert replaced.value.rcvd is not None and replaced.value.rcvd.code == 4000
    second.close()


@pytest.mark.parametrize("code", [1006, 1011, 4000])
def test_control_closes_sockets_with_a_code(
    emulator: EmulatorHandle, alice_socket: tuple[ClientConnection, dict[str, Any]], code: int
) -> None:
    ws, _ = alice_socket
    [listed] = emulator.control("GET", "websockets")["items"]
    assert listed["email"] == "alice@example.com" and listed["authorized"]
    assert (
        emulator.control("POST", "websockets/close", {"email": "bob@example.com", "code": 1011})[
            "closed"
        ]
        == 0
    )
    closed = emulator.control(
        "POST", "websockets/close", {"email": "alice@example.com", "code": code}
    )
    assert closed == {"closed": 1}
    with pytest.raises(ConnectionClosed) as ended:
        ws.recv(timeout=5)
    if code == 1006:
        assert ended.value.rcvd is None  # no close frame: abnormal closure
    else:
        assert ended.value.rcvd is not None and ended.value.rcvd.code == code


def test_pongs_can_stop(
    emulator: EmulatorHandle, alice_socket: tuple[ClientConnection, dict[str, Any]]
) -> None:
    ws, _ = alice_socket
    emulator.settings(mercury_answer_pings=False)
    ws.send(json.dumps({"id": "p", "type": "ping"}))
    assert _silent(ws)


def test_expired_token_closes_4401_at_delivery_unless_set_to_deliver(
    emulator: EmulatorHandle,
) -> None:
    emulator.settings(access_token_lifetime=60)
    token = _token(emulator)
    device = _register(emulator, token)
    ws = _open(device, token)
    emulator.advance_clock(120)
    room = emulator.room_id("Team Space")
    emulator.post_message(room, "bob@example.com", text="after expiry")
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    emulator.settings(mercury_deliver_after_expiry=True)
    token = _token(emulator)
    ws = _open(device, token)
    [frame] = _frames(ws, 1)  # the unacked one
    emulator.advance_clock(120)
    emulator.post_message(room, "bob@example.com", text="still delivered")
    [later] = _frames(ws, 1)
    assert later["sequenceNumber"] == frame["sequenceNumber"] + 1
    response = requests.get(
        f"{emulator.api_url}people/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 401
    ws.close()


def test_wrong_region_socket_authorizes_but_stays_silent(emulator: EmulatorHandle) -> None:
    emulator.settings(wdm_region="r")
    token = _token(emulator)
    hard_coded = _register(emulator, token, f"{emulator.url}/wdm/a/api/v1")
    discovered = _register(emulator, token)
    silent, heard = _open(hard_coded, token), _open(discovered, token)
    emulator.post_message(emulator.room_id("Team Space"), "bob@example.com", text="hello")
    assert json.loads(heard.recv(timeout=5))["data"]["activity"]["verb"] == "post"
    assert _silent(silent)
    silent.close()
    heard.close()


def test_non_us_cluster_ids(emulator: EmulatorHandle) -> None:
    emulator.settings(non_us_people=["alice@example.com"])
    token = _token(emulator)
    ws = _open(_register(emulator, token), token)
    room = emulator.room_id("Team Space")
    cluster = "urn:TEAM:eu-central-1_k"
    decoded = base64.urlsafe_b64decode(room + "=" * (-len(room) % 4)).decode()
    assert decoded.startswith(f"ciscospark://{cluster}/ROOM/")
    posted = emulator.post_message(room, "bob@example.com", text="hallo")
    [frame] = _frames(ws, 1)
    activity = frame["data"]["activity"]
    assert posted["id"] == _hydra("MESSAGE", activity["id"], cluster)
    assert activity["target"]["globalId"] == room
    headers = {"Authorization": f"Bearer {token}"}
    wrong = _hydra("MESSAGE", activity["id"])
    assert (
        requests.get(f"{emulator.api_url}messages/{wrong}", headers=headers, timeout=10).status_code
        == 404
    )
    right = requests.get(f"{emulator.api_url}messages/{posted['id']}", headers=headers, timeout=10)
    assert right.status_code == 200
    # webex_bot's way: ask the conversation service named by target.url.
    target = activity["target"]
    asked = target["url"].replace(f"conversations/{target['id']}", f"messages/{activity['id']}")
    assert requests.get(asked, headers=headers, timeout=10).json()["id"] == posted["id"]
    ws.close()


CARD = {
    "contentType": "application/vnd.microsoft.card.adaptive",
    "content": {"type": "AdaptiveCard", "version": "1.3", "body": [], "actions": []},
}


def test_a_card_submit_arrives_as_card_action_with_its_cluster(emulator: EmulatorHandle) -> None:
    # A non-US space: every id of the submit carries the room's cluster, as the JS SDK builds.
    emulator.settings(non_us_people=["alice@example.com"])
    cluster = "urn:TEAM:eu-central-1_k"
    token = _token(emulator)
    ws = _open(_register(emulator, token), token)
    room = emulator.room_id("Team Space")
    card = emulator.control(
        "POST",
        "messages",
        {"roomId": room, "personEmail": "alice@example.com", "text": "c", "attachments": [CARD]},
    )
    [posted] = _frames(ws, 1)
    card_uuid = posted["data"]["activity"]["id"]
    body = {"messageId": card["id"], "personEmail": "bob@example.com", "inputs": {"pin": "s3cr3t"}}
    pressed = emulator.control("POST", "attachment-actions", body)
    assert pressed["messageId"] == card["id"]  # the card's own id, cluster included
    [frame] = _frames(ws, 1)
    activity = frame["data"]["activity"]
    assert frame["data"]["eventType"] == "conversation.activity"
    assert frame["sequenceNumber"] == posted["sequenceNumber"] + 1
    assert activity["verb"] == "cardAction"
    assert _hydra("ATTACHMENT_ACTION", activity["id"], cluster) == pressed["id"]
    assert activity["parent"] == {"id": card_uuid, "type": "cardAction"}
    assert activity["object"]["objectType"] == "submit"
    assert activity["actor"]["emailAddress"] == "bob@example.com"
    assert activity["target"]["globalId"] == room
    assert activity["published"] == pressed["created"]
    assert "s3cr3t" not in json.dumps(frame)  # the inputs travel encrypted
    headers = {"Authorization": f"Bearer {token}"}
    # webex_bot's way: the conversation service answers the REST id.
    target = activity["target"]
    asked = target["url"].replace(
        f"conversations/{target['id']}", f"attachment/actions/{activity['id']}"
    )
    assert requests.get(asked, headers=headers, timeout=10).json()["id"] == pressed["id"]
    got = requests.get(
        f"{emulator.api_url}attachment/actions/{pressed['id']}", headers=headers, timeout=10
    )
    assert got.json()["inputs"] == {"pin": "s3cr3t"}
    # Mercury delivers at least once: the control API sends the same frame again.
    assert emulator.control("POST", "websockets/replay", {"email": "alice@example.com"}) == {
        "sent": 1
    }
    assert _frames(ws, 1) == [frame]
    ws.close()
