"""The panel's API tokens page: create a scoped token (shown once), list it, revoke it."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from tests.plugins.panel import PanelClient
from tests.plugins.panel import connect_account


def test_create_list_and_revoke_from_the_panel(
    app: Flask, admin_client: PanelClient, emulator: Any
) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    admin_client.get("/api-tokens")
    page = admin_client.post(
        "/api-tokens",
        {
            "name": "agent",
            "scope": "tokens:read",
            "accounts": str(account_id),
            "webex_scopes": "spark:messages_write",
            "expires_days": "30",
        },
    )
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    token = re.search(r'<code class="secret">(tbt_[\w-]+)</code>', text)
    assert token is not None
    assert page.headers["Cache-Control"] == "no-store"
    client = app.extensions["tokenbot"].admins.authenticate_api_token(token.group(1))
    assert client.scopes == ("tokens:read",) and client.accounts == (account_id,)
    assert client.webex_scopes == ("spark:messages_write",) and client.expires_at is not None
    listed = admin_client.get("/api-tokens").get_data(as_text=True)
    assert "agent" in listed and "tokens:read" in listed and token.group(1) not in listed
    revoked = admin_client.post("/api-tokens/revoke", {"name": "agent"})
    assert revoked.status_code == 303
    assert app.extensions["tokenbot"].admins.authenticate_api_token(token.group(1)) is None


def test_a_bad_grant_is_refused_with_the_reason(admin_client: PanelClient) -> None:
    admin_client.get("/api-tokens")
    page = admin_client.post("/api-tokens", {"name": "agent", "scope": "tokens:read"})
    assert page.status_code == 400
    assert "needs the accounts it may read" in page.get_data(as_text=True)
    missing = admin_client.post(
        "/api-tokens", {"name": "agent", "scope": "tokens:read", "accounts": "42"}
    )
    assert missing.status_code == 400 and "there is no account 42" in missing.get_data(as_text=True)


def test_the_page_needs_a_login(client: PanelClient) -> None:
    assert client.client.get("/api-tokens").status_code == 302
