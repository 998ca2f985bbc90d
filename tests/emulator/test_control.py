"""The control API: settings, reset, rate limit, faults, clock, call log, revocation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

import pytest
import requests
from webexpythonsdk import WebexAPI
from webexpythonsdk.exceptions import RateLimitWarning

from tests.plugins.emulator import EmulatorHandle
from tokenbot.emulator import SEED_CLIENT_ID


def _bearer(emu: EmulatorHandle, email: str = "alice@example.com") -> dict[str, str]:
    token = emu.mint_token(SEED_CLIENT_ID, email, ["spark:all"])["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _raw(emu: EmulatorHandle, method: str, path: str, headers: dict[str, str]) -> requests.Response:
    return requests.request(method, emu.api_url + path, headers=headers, timeout=10)


def test_settings_defaults_update_and_unknown_names(emulator: EmulatorHandle) -> None:
    settings = emulator.control("GET", "settings")
    assert settings["auto_approve"] is None
    assert settings["access_token_lifetime"] == 1209599
    assert settings["refresh_token_lifetime"] == 7775999
    assert settings["rotate_refresh_tokens"] is False
    assert settings["reset_refresh_lifetime"] is False
    assert settings["rate_limit_per_minute"] is None
    assert settings["code_lifetime"] == 600
    assert settings["webhook_disable_threshold"] == 100
    assert settings["webhook_disable_window"] == 300
    assert emulator.settings(rotate_refresh_tokens=True)["rotate_refresh_tokens"] is True
    response = requests.post(
        f"{emulator.url}/_emulator/settings", json={"no_such_knob": 1}, timeout=10
    )
    assert response.status_code == 400
    assert "no_such_knob" in response.json()["error"]
    wrong_type = requests.post(
        f"{emulator.url}/_emulator/settings",
        json={"code_lifetime": "long", "rotate_refresh_tokens": False},
        timeout=10,
    )
    assert wrong_type.status_code == 400 and "code_lifetime" in wrong_type.json()["error"]
    # All or nothing: the valid half of a rejected update was not applied.
    assert emulator.control("GET", "settings")["rotate_refresh_tokens"] is True


def test_reset_returns_to_the_seed(emulator: EmulatorHandle, alice: WebexAPI) -> None:
    alice.rooms.create("Temporary")
    emulator.settings(rotate_refresh_tokens=True)
    emulator.fault("/v1/rooms", status=500, count=5)
    emulator.advance_clock(3600)
    emulator.control("POST", "reset")
    titles = {r["title"] for r in emulator.control("GET", "rooms")["items"]}
    assert "Temporary" not in titles and {"Team Space", "Project X"} <= titles
    assert emulator.control("GET", "settings")["rotate_refresh_tokens"] is False
    assert emulator.control("GET", "faults")["items"] == []
    assert emulator.calls() == []
    now = datetime.fromisoformat(emulator.control("GET", "clock")["now"].replace("Z", "+00:00"))
    assert abs(now.timestamp() - time.time()) < 60
    people = emulator.control("GET", "people")["items"]
    assert [p["displayName"] for p in people] == [
        "Alice Andersen",
        "Bob Baker",
        "Carol Chen",
        "Dave Diaz",
    ]


def test_sandbox_defaults(emulator: EmulatorHandle) -> None:
    rooms = emulator.control("GET", "rooms")["items"]
    by_title = {r["title"]: r for r in rooms if r["type"] == "group"}
    assert by_title["Team Space"]["members"] == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    assert by_title["Project X"]["members"] == [
        "alice@example.com",
        "bob@example.com",
        "dave@example.com",
    ]
    direct = sorted(r["members"] for r in rooms if r["type"] == "direct")
    assert direct == [
        ["alice@example.com", "bob@example.com"],
        ["bob@example.com", "carol@example.com"],
    ]
    (seed,) = emulator.control("GET", "integrations")["items"]
    assert seed["client_id"] == SEED_CLIENT_ID
    assert len(SEED_CLIENT_ID) == 65 and SEED_CLIENT_ID[0] == "C"
    assert "client_secret" not in seed
    assert seed["redirect_uris"] == [
        "http://127.0.0.1:2000/oauth/callback",
        "http://127.0.0.1:2000/redirect.html",
    ]
    assert "spark:messages_write" in seed["scopes"]


def test_rate_limit_answers_429_with_retry_after(emulator: EmulatorHandle) -> None:
    emulator.settings(rate_limit_per_minute=3)
    headers = _bearer(emulator)
    assert [_raw(emulator, "GET", "people/me", headers).status_code for _ in range(3)] == [200] * 3
    limited = _raw(emulator, "GET", "people/me", headers)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["Content-Type"].startswith("text/html")
    # The limit is per token: another token still passes.
    assert _raw(emulator, "GET", "people/me", _bearer(emulator, "bob@example.com")).ok
    emulator.advance_clock(61)
    assert _raw(emulator, "GET", "people/me", headers).status_code == 200
    emulator.settings(rate_limit_html_body=False)
    for _ in range(3):
        _raw(emulator, "GET", "rooms", headers)
    as_json = _raw(emulator, "GET", "rooms", headers)
    assert as_json.status_code == 429 and as_json.json()["trackingId"]


def test_sdk_waits_out_the_rate_limit_and_recovers(
    emulator: EmulatorHandle, api_for: Callable[..., WebexAPI]
) -> None:
    emulator.settings(rate_limit_per_minute=2, rate_limit_window_seconds=1)
    api = api_for("alice@example.com", wait_on_rate_limit=True)
    with pytest.warns(RateLimitWarning):
        names = [api.people.me().displayName for _ in range(3)]
    assert names == ["Alice Andersen"] * 3
    statuses = [c["status"] for c in emulator.calls(path="/v1/people/me")]
    assert statuses == [200, 200, 429, 200]


def test_fault_status_with_retry_after_then_normal(emulator: EmulatorHandle) -> None:
    headers = _bearer(emulator)
    emulator.fault("/v1/people/me", method="GET", status=503, retry_after=2, count=2)
    first = _raw(emulator, "GET", "people/me", headers)
    assert first.status_code == 503
    assert first.headers["Retry-After"] == "2"
    body = first.json()
    assert body["message"] and body["errors"] and body["trackingId"]
    assert _raw(emulator, "GET", "people/me", headers).status_code == 503
    assert _raw(emulator, "GET", "people/me", headers).status_code == 200
    calls = emulator.calls(path="/v1/people/me")
    assert [c["status"] for c in calls] == [503, 503, 200]
    assert [bool(c.get("fault")) for c in calls] == [True, True, False]


def test_fault_matches_method_and_glob(emulator: EmulatorHandle) -> None:
    headers = _bearer(emulator)
    emulator.fault("/v1/rooms*", method="POST", status=500)
    assert _raw(emulator, "GET", "rooms", headers).status_code == 200
    response = requests.post(
        emulator.api_url + "rooms", json={"title": "x"}, headers=headers, timeout=10
    )
    assert response.status_code == 500
    emulator.fault("/v1/rooms", status=502, count=3)
    assert emulator.control("DELETE", "faults") == {"items": []}
    assert _raw(emulator, "GET", "rooms", headers).status_code == 200
    bad = requests.post(f"{emulator.url}/_emulator/faults", json={"path": "/v1/x"}, timeout=10)
    assert bad.status_code == 400


def test_fault_delay_and_drop(emulator: EmulatorHandle) -> None:
    headers = _bearer(emulator)
    emulator.fault("/v1/people/me", delay_seconds=0.3)
    started = time.monotonic()
    assert _raw(emulator, "GET", "people/me", headers).status_code == 200
    assert time.monotonic() - started >= 0.3
    emulator.fault("/v1/people/me", drop=True)
    with pytest.raises(requests.ConnectionError):
        _raw(emulator, "GET", "people/me", headers)
    assert _raw(emulator, "GET", "people/me", headers).status_code == 200
    dropped = emulator.calls(path="/v1/people/me")[1]
    assert dropped["dropped"] is True and dropped["status"] is None


def test_clock_moves_forward_only(emulator: EmulatorHandle) -> None:
    before = emulator.control("GET", "clock")["epoch"]
    after = emulator.control("POST", "clock", {"advance_seconds": 3600})["epoch"]
    assert 3600 <= after - before < 3660
    response = requests.post(
        f"{emulator.url}/_emulator/clock", json={"advance_seconds": -5}, timeout=10
    )
    assert response.status_code == 400


def test_call_log_is_exact_under_concurrency(emulator: EmulatorHandle) -> None:
    headers = _bearer(emulator)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                assert _raw(emulator, "GET", "people/me", headers).status_code == 200
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    calls = emulator.calls(path="/v1/people/me", method="GET")
    assert len(calls) == 200
    assert {c["status"] for c in calls} == {200}
    assert {c["email"] for c in calls} == {"alice@example.com"}
    assert all(c["time"].endswith("Z") for c in calls)
    assert emulator.calls(path="/_emulator/calls") == []  # control calls are not logged


def test_revoke_by_client_or_person(emulator: EmulatorHandle) -> None:
    other, _ = emulator.register_integration(["http://127.0.0.1:2000/cb"])
    alice_seed = _bearer(emulator, "alice@example.com")
    bob_seed = _bearer(emulator, "bob@example.com")
    alice_other = {
        "Authorization": "Bearer "
        + emulator.mint_token(other, "alice@example.com", ["spark:people_read"])["access_token"]
    }
    assert emulator.revoke(client_id=other) == 1
    assert _raw(emulator, "GET", "people/me", alice_other).status_code == 401
    assert _raw(emulator, "GET", "people/me", alice_seed).status_code == 200
    assert emulator.revoke(email="alice@example.com") == 1
    assert _raw(emulator, "GET", "people/me", alice_seed).status_code == 401
    assert _raw(emulator, "GET", "people/me", bob_seed).status_code == 200


def test_mint_token_rejects_unknown_people_and_scopes(emulator: EmulatorHandle) -> None:
    url = f"{emulator.url}/_emulator/tokens"
    unknown = {"client_id": SEED_CLIENT_ID, "email": "eve@example.com", "scopes": ["spark:all"]}
    assert requests.post(url, json=unknown, timeout=10).status_code == 400
    outside = {"client_id": SEED_CLIENT_ID, "email": "bob@example.com", "scopes": ["admin:x"]}
    assert requests.post(url, json=outside, timeout=10).status_code == 400


def test_chat_page_and_its_assets_are_local(emulator: EmulatorHandle) -> None:
    page = requests.get(f"{emulator.url}/_emulator/spaces", timeout=10)
    assert page.status_code == 200
    assert "/_emulator/static/chat.js" in page.text
    assert "https://" not in page.text and 'src="http' not in page.text  # no CDN
    script = requests.get(f"{emulator.url}/_emulator/static/chat.js", timeout=10)
    assert script.status_code == 200 and "/_emulator/" in script.text
    room_id = emulator.room_id("Team Space")
    emulator.post_message(room_id, "carol@example.com", text="hello from carol")
    polled = emulator.control("GET", f"rooms/{room_id}/messages?after=0")["items"]
    assert [(m["personDisplayName"], m["text"]) for m in polled] == [
        ("Carol Chen", "hello from carol")
    ]
    newer = emulator.control("GET", f"rooms/{room_id}/messages?after={polled[0]['seq']}")
    assert newer["items"] == []
