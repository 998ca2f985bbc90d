"""The likeliest setup mistakes at Connect, each named on the page and in the log.

A wrong client secret (``invalid_client`` at the token endpoint), a scope the integration lacks
(``error=invalid_scope`` on the redirect), a redirect URI the integration does not know, and a
token answer without a refresh token: each against the emulator answering as Webex does.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote
from urllib.parse import urlsplit

import pytest
import requests

from tests.plugins.panel import PANEL_REDIRECT_URI
from tests.plugins.panel import PANEL_SCOPES
from tests.plugins.panel import PanelClient


@pytest.fixture
def panel_integration(emulator: Any, request: pytest.FixtureRequest) -> tuple[str, str]:
    """The integration as registered, broken the way the test's parameter says."""
    mistake = getattr(request, "param", "none")
    scopes = list(PANEL_SCOPES)
    if mistake == "missing_scope":
        scopes.remove("spark:messages_write")
    client_id, secret = emulator.register_integration([PANEL_REDIRECT_URI], scopes)
    if mistake == "wrong_secret":
        secret = "0" * 64
    return client_id, secret


def _callback(client: PanelClient, emulator: Any) -> str:
    client.get("/")
    authorize = client.post("/connect").headers["Location"]
    emulator.settings(auto_approve="alice@example.com")
    answer = requests.get(authorize, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


@pytest.mark.parametrize("panel_integration", ["wrong_secret"], indirect=True)
def test_wrong_client_secret_names_webex_client_secret(
    admin_client: PanelClient, emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    callback = _callback(admin_client, emulator)
    with caplog.at_level(logging.WARNING, logger="tokenbot.admin.connect"):
        response = admin_client.get(callback)
    page = response.get_data(as_text=True)
    assert response.status_code == 502
    assert "Webex did not accept the client secret" in page
    assert "Check WEBEX_CLIENT_SECRET" in page
    # Webex's own words and status, quoted.
    assert "HTTP 400 invalid_client: Client authentication failed" in page
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "check WEBEX_CLIENT_SECRET" in caplog.text and "invalid_client" in caplog.text
    assert "0" * 64 not in caplog.text + page


@pytest.mark.parametrize("panel_integration", ["missing_scope"], indirect=True)
def test_missing_scope_names_the_scope_to_tick(
    admin_client: PanelClient, emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    callback = _callback(admin_client, emulator)
    assert "error=invalid_scope" in callback
    with caplog.at_level(logging.WARNING, logger="tokenbot.admin.connect"):
        response = admin_client.get(callback)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The integration lacks a scope" in page
    assert "Webex refused these scopes: spark:messages_write." in page
    assert "Tick these scopes on the integration" in page and "webex.scopes" in page
    assert "invalid_scope: The requested scope is invalid" in page
    assert "spark:messages_write" in caplog.text and "webex.scopes" in caplog.text


def test_webex_text_in_the_callback_is_escaped_and_capped(
    admin_client: PanelClient, emulator: Any
) -> None:
    admin_client.get("/")
    authorize = admin_client.post("/connect").headers["Location"]
    state = dict(p.split("=", 1) for p in urlsplit(authorize).query.split("&"))["state"]
    hostile = "<script>alert(1)</script>" + "y" * 500
    response = admin_client.get(
        f"/oauth/callback?error=server_error&error_description={quote(hostile)}&state={state}"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    assert "y" * 200 not in page and "y" * 150 in page


def test_redirect_uri_mismatch_gives_the_exact_value_to_register(
    admin_client: PanelClient, panel_settings: Any
) -> None:
    admin_client.get("/")
    authorize = admin_client.post("/connect").headers["Location"]
    state = dict(p.split("=", 1) for p in urlsplit(authorize).query.split("&"))["state"]
    description = quote("The redirect_uri does not match the registered value")
    response = admin_client.get(
        f"/oauth/callback?error=invalid_request&error_description={description}&state={state}"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The redirect URI does not match the integration" in page
    assert f'<code class="wrap" id="register">{panel_settings.webex.redirect_uri}</code>' in page


def test_a_token_answer_without_refresh_token_is_a_clear_page(
    app: Any, admin_client: PanelClient, emulator: Any
) -> None:
    callback = _callback(admin_client, emulator)
    emulator.settings(omit_refresh_token=True)
    response = admin_client.get(callback)
    page = response.get_data(as_text=True)
    assert response.status_code == 502
    assert "Webex returned no refresh token" in page
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert app.extensions["tokenbot"].store.count_accounts() == 0


def test_a_token_answer_without_expires_in_keeps_the_tokens_with_an_unknown_lifetime(
    app: Any, admin_client: PanelClient, emulator: Any, panel_clock: Any
) -> None:
    callback = _callback(admin_client, emulator)
    emulator.settings(omit_expires_in=True)
    response = admin_client.get(callback)
    assert response.status_code == 303, response.get_data(as_text=True)
    store = app.extensions["tokenbot"].store
    (view,) = store.list_accounts()
    # Kept, and assumed to live one keep-alive period: refreshed on that schedule.
    assert view.has_tokens and view.health(panel_clock.now()) == "healthy"
    lifetime = (view.access_expires_at - view.obtained_at).total_seconds()
    assert 23 * 3600 < lifetime <= 24 * 3600
    assert "lifetime unknown" in store.events(view.id, limit=5)[-1].detail
    # A refresh without expires_in says so in the history too.
    admin_client.post(f"/accounts/{view.id}/refresh", data={"next": "/"})
    page = admin_client.get(f"/accounts/{view.id}").get_data(as_text=True)
    assert page.count("lifetime unknown, refreshed on the keep-alive schedule") == 2
