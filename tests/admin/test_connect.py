"""Connect Webex through the emulator: success, reconnect, and every way the callback refuses."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import requests
from flask import Flask

from tests.plugins.panel import CHEAP_HASHER
from tests.plugins.panel import PanelClient
from tests.plugins.panel import build_panel_runtime
from tests.plugins.panel import connect_account
from tests.plugins.panel import make_settings
from tokenbot.admin import create_app
from tokenbot.core.admins import AdminStore

TOKEN_PATH = "/v1/access_token"


def _start(client: PanelClient) -> str:
    """POST /connect and return the authorize URL it redirects to."""
    client.get("/")
    response = client.post("/connect")
    assert response.status_code == 303
    return response.headers["Location"]


def _consent(emulator: Any, authorize_url: str, email: str = "alice@example.com") -> str:
    """Approve at the emulator (auto) and return our callback's path and query."""
    emulator.settings(auto_approve=email)
    answer = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


def _token_calls(emulator: Any) -> list[dict[str, Any]]:
    return emulator.calls(path=TOKEN_PATH, method="POST")


def test_authorize_url_has_state_pkce_and_configured_scopes(
    admin_client: PanelClient, panel_settings: Any
) -> None:
    url = _start(admin_client)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(panel_settings.webex.authorize_url + "?")
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == [panel_settings.webex.redirect_uri]
    assert query["code_challenge_method"] == ["S256"]
    assert query["scope"] == [" ".join(panel_settings.webex.scopes)]
    assert len(query["state"][0]) >= 22
    assert _start(admin_client) != url  # a fresh state every time


def test_connect_identifies_the_person_and_shows_the_account(
    admin_client: PanelClient, emulator: Any
) -> None:
    callback = _consent(emulator, _start(admin_client))
    response = admin_client.get(callback)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert re.fullmatch(r"/accounts/\d+", location)  # a clean URL: no code, no state
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    page = admin_client.get(location).get_data(as_text=True)
    assert "Alice Andersen" in page and "alice@example.com" in page
    assert "badge-healthy" in page and "Connected Alice Andersen" in page
    assert len(_token_calls(emulator)) == 1
    assert emulator.calls(path="/v1/people/me", method="GET")


def test_first_account_becomes_the_bot_identity_and_reconnect_replaces_tokens(
    admin_client: PanelClient, emulator: Any, app: Flask
) -> None:
    store = app.extensions["tokenbot"].store
    first_id, _ = connect_account(admin_client, emulator, "alice@example.com")
    old_token = store.access_grant(first_id).access_token
    second_id, _ = connect_account(admin_client, emulator, "bob@example.com")
    again_id, _ = connect_account(admin_client, emulator, "alice@example.com")
    assert again_id == first_id != second_id
    assert store.count_accounts() == 2
    assert store.access_grant(first_id).access_token != old_token
    assert store.bot_identity().id == first_id


def test_denied_consent(admin_client: PanelClient, emulator: Any) -> None:
    authorize_url = _start(admin_client)
    emulator.settings(auto_approve=None)
    page = requests.get(authorize_url, timeout=10)
    consent_id = re.search(r'name="consent_id" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = requests.post(
        authorize_url.split("?")[0],
        data={"consent_id": consent_id, "decision": "deny"},
        allow_redirects=False,
        timeout=10,
    )
    back = urlsplit(answer.headers["Location"])
    response = admin_client.get(f"{back.path}?{back.query}")
    assert response.status_code == 400
    assert "Webex access was not granted" in response.get_data(as_text=True)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert _token_calls(emulator) == []
    # The state was spent: a forged "approval" for it now fails too.
    state = parse_qs(back.query)["state"][0]
    replay = admin_client.get(f"{back.path}?code=whatever&state={state}")
    assert replay.status_code == 400 and _token_calls(emulator) == []


def test_missing_state(admin_client: PanelClient, emulator: Any) -> None:
    callback = _consent(emulator, _start(admin_client))
    without_state = re.sub(r"&?state=[^&]*", "", callback)
    response = admin_client.get(without_state)
    assert response.status_code == 400
    assert "incomplete" in response.get_data(as_text=True)
    assert _token_calls(emulator) == []


def test_unknown_state(admin_client: PanelClient, emulator: Any) -> None:
    callback = _consent(emulator, _start(admin_client))
    forged = re.sub(r"state=[^&]*", "state=" + "A" * 43, callback)
    response = admin_client.get(forged)
    assert response.status_code == 400
    assert "not one we started" in response.get_data(as_text=True)
    assert _token_calls(emulator) == []


def test_foreign_state(app: Flask, admin_client: PanelClient, emulator: Any) -> None:
    # Another browser (another admin session) started this login.
    other = PanelClient(app.test_client())
    assert other.login().status_code == 303
    callback = _consent(emulator, _start(other))
    response = admin_client.get(callback)
    assert response.status_code == 400
    assert "another browser" in response.get_data(as_text=True)
    assert _token_calls(emulator) == []


def test_expired_state(admin_client: PanelClient, emulator: Any, panel_clock: Any) -> None:
    callback = _consent(emulator, _start(admin_client))
    panel_clock.advance(601)
    response = admin_client.get(callback)
    assert response.status_code == 400
    assert "too long" in response.get_data(as_text=True)
    assert _token_calls(emulator) == []


def test_replayed_state(admin_client: PanelClient, emulator: Any) -> None:
    callback = _consent(emulator, _start(admin_client))
    assert admin_client.get(callback).status_code == 303
    assert len(_token_calls(emulator)) == 1
    replay = admin_client.get(callback)
    assert replay.status_code == 400
    assert "already used" in replay.get_data(as_text=True)
    assert len(_token_calls(emulator)) == 1  # the code was not sent again


def test_callback_without_a_panel_session(
    app: Flask, admin_client: PanelClient, emulator: Any
) -> None:
    callback = _consent(emulator, _start(admin_client))
    stranger = app.test_client()
    response = stranger.get(callback)
    assert response.status_code == 401
    assert "Location" not in response.headers
    assert _token_calls(emulator) == []


def test_failed_exchange_shows_a_clear_page_without_secrets(
    admin_client: PanelClient, emulator: Any, panel_settings: Any
) -> None:
    callback = _consent(emulator, _start(admin_client))
    emulator.fault(TOKEN_PATH, method="POST", status=500)
    response = admin_client.get(callback)
    body = response.get_data(as_text=True)
    assert response.status_code == 502
    assert "did not complete the sign-in" in body
    code = parse_qs(urlsplit(callback).query)["code"][0]
    for secret in (code, panel_settings.webex.client_secret.reveal()):
        assert secret not in body
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert len(_token_calls(emulator)) == 1


def test_failed_exchange_stores_nothing(
    app: Flask, admin_client: PanelClient, emulator: Any
) -> None:
    callback = _consent(emulator, _start(admin_client))
    emulator.fault(TOKEN_PATH, method="POST", status=400)
    assert admin_client.get(callback).status_code == 502
    assert app.extensions["tokenbot"].store.count_accounts() == 0


def test_callback_page_loads_nothing_from_elsewhere(admin_client: PanelClient) -> None:
    body = admin_client.get("/oauth/callback?state=x&code=y").get_data(as_text=True)
    for url in re.findall(r'(?:src|href|action)="([^"]+)"', body):
        assert url.startswith("/"), url


def test_callback_is_served_at_the_redirect_uri_path(
    emulator: Any, panel_clock: Any, tmp_path: Any
) -> None:
    redirect_uri = "http://127.0.0.1:2000/redirect.html"
    client_id, secret = emulator.register_integration(
        [redirect_uri], ["spark:people_read", "spark:messages_read", "spark:messages_write"]
    )
    settings = make_settings(
        emulator_url=emulator.url,
        client_id=client_id,
        client_secret=secret,
        database_url=f"sqlite:///{tmp_path / 'r.sqlite3'}",
        redirect_uri=redirect_uri,
    )
    runtime = build_panel_runtime(settings, panel_clock)
    try:
        admins = AdminStore(runtime.database, clock=panel_clock, hasher=CHEAP_HASHER)
        admins.create_admin("admin", "correct horse battery staple")
        client = PanelClient(create_app(settings, runtime, admins=admins).test_client())
        client.login()
        callback = _consent(emulator, _start(client))
        assert callback.startswith("/redirect.html?")
        assert client.get(callback).status_code == 303
        assert client.get("/oauth/callback").status_code == 404
    finally:
        runtime.close()
