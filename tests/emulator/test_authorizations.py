"""`/v1/authorizations` in the emulator, as Webex's admin API describes it."""

from __future__ import annotations

import requests

from tests.plugins.emulator import EmulatorHandle

ADMIN_SCOPES = ["spark:people_read", "identity:tokens_read", "identity:tokens_write"]


def _setup(emulator: EmulatorHandle) -> tuple[str, dict[str, str], dict[str, object]]:
    client_id, _ = emulator.register_integration(["http://127.0.0.1:1/cb"], ADMIN_SCOPES)
    admin = emulator.mint_token(client_id, "alice@example.com", ADMIN_SCOPES)
    bob = emulator.mint_token(client_id, "bob@example.com", ["spark:people_read"])
    return client_id, {"Authorization": f"Bearer {admin['access_token']}"}, bob


def _me(emulator: EmulatorHandle, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.get(emulator.api_url + "people/me", headers=headers, timeout=10).status_code


def test_list_then_delete_by_id_revokes_that_grant(emulator: EmulatorHandle) -> None:
    client_id, admin, bob = _setup(emulator)
    url = emulator.api_url + "authorizations"
    listed = requests.get(url, params={"personEmail": "bob@example.com"}, headers=admin, timeout=10)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [(i["clientId"], i["type"]) for i in items] == [(client_id, "refresh")]
    assert set(items[0]) == {
        "id", "applicationId", "applicationName", "personId", "clientId", "created", "type"
    }  # fmt: skip
    assert _me(emulator, str(bob["access_token"])) == 200
    gone = requests.delete(f"{url}/{items[0]['id']}", headers=admin, timeout=10)
    assert gone.status_code == 204
    assert _me(emulator, str(bob["access_token"])) == 401
    again = requests.delete(f"{url}/{items[0]['id']}", headers=admin, timeout=10)
    assert again.status_code == 404
    person_id = emulator.person("bob@example.com")["id"]
    after = requests.get(url, params={"personId": person_id}, headers=admin, timeout=10)
    assert after.json()["items"] == []


def test_delete_by_client_id_revokes_every_grant_of_that_integration(
    emulator: EmulatorHandle,
) -> None:
    client_id, admin, bob = _setup(emulator)
    url = emulator.api_url + "authorizations"
    assert requests.delete(url, headers=admin, timeout=10).status_code == 400  # clientId required
    gone = requests.delete(url, params={"clientId": client_id}, headers=admin, timeout=10)
    assert gone.status_code == 204
    assert _me(emulator, str(bob["access_token"])) == 401
    assert requests.delete(url, params={"clientId": client_id}, timeout=10).status_code == 401


def test_scopes_and_required_parameters(emulator: EmulatorHandle) -> None:
    _, admin, bob = _setup(emulator)
    url = emulator.api_url + "authorizations"
    plain = {"Authorization": f"Bearer {bob['access_token']}"}
    assert (
        requests.get(url, params={"personEmail": "a"}, headers=plain, timeout=10).status_code == 403
    )
    assert requests.delete(f"{url}/x", headers=plain, timeout=10).status_code == 403
    missing = requests.get(url, headers=admin, timeout=10)
    assert missing.status_code == 400 and "personId or personEmail" in missing.json()["message"]
    expiry = requests.get(f"{url}/tokenExpiry", headers=plain, timeout=10)
    assert expiry.status_code == 200 and expiry.json()["exp"] > 1_700_000_000_000
