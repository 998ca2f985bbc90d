"""The JSON API: who may read it, what it says, and that it never says a token."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.admin.test_dashboard import seed
from tests.plugins.panel import PanelClient
from tests.plugins.panel import connect_account

API_PATHS = ["/api/v1/accounts", "/api/v1/status", "/api/v1/accounts/1"]


@pytest.fixture
def store(app: Flask) -> Any:
    return app.extensions["tokenbot"].store


@pytest.mark.parametrize("path", API_PATHS)
def test_anonymous_gets_401_json(client: PanelClient, path: str) -> None:
    response = client.client.get(path)
    assert response.status_code == 401
    assert response.json == {
        "error": {"code": "login_required", "message": "log in or send an API token"}
    }


@pytest.mark.parametrize("path", API_PATHS)
def test_api_token_and_session_both_work(
    app: Flask,
    admin_client: PanelClient,
    client: PanelClient,
    store: Any,
    panel_clock: Any,
    path: str,
) -> None:
    seed(store, panel_clock, 1)
    token = app.extensions["tokenbot"].admins.create_api_token("grafana")
    fresh = app.test_client()
    assert fresh.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert fresh.get(path, headers={"Authorization": f"bearer {token}"}).status_code == 200
    assert fresh.get(path, headers={"Authorization": f"Bearer {token}x"}).status_code == 401
    assert fresh.get(path, headers={"Authorization": f"Basic {token}"}).status_code == 401
    assert admin_client.client.get(path).status_code == 200


def test_accounts_json(admin_client: PanelClient, emulator: Any, store: Any) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    body = admin_client.client.get("/api/v1/accounts").json
    assert body["total"] == 1 and body["page"] == 1 and body["pages"] == 1
    (account,) = body["accounts"]
    assert account["id"] == account_id
    assert account["email"] == "alice@example.com"
    assert account["health"] == "healthy" and account["health_label"] == "healthy"
    assert account["is_bot_identity"] is True
    assert account["scopes"] == list(store.get(account_id).scopes)
    access = account["access_token"]
    assert access["expires_at"].endswith("Z") and access["seconds_left"] > 13 * 86400
    assert access["fraction_left"] == 1.0
    assert account["refresh_token"]["seconds_left"] > 89 * 86400
    assert account["last_refreshed_at"] is None and account["failure_count"] == 0


def test_api_never_returns_token_material(
    admin_client: PanelClient, emulator: Any, store: Any
) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    secret = store.access_grant(account_id).access_token
    for path in ("/api/v1/accounts", f"/api/v1/accounts/{account_id}", "/api/v1/status"):
        assert secret not in admin_client.client.get(path).get_data(as_text=True)


def test_accounts_paging_and_search(
    admin_client: PanelClient, store: Any, panel_clock: Any
) -> None:
    seed(store, panel_clock, 12)
    seed(store, panel_clock, 3, prefix="zed")
    page = admin_client.client.get("/api/v1/accounts?per_page=5&page=2").json
    assert page["total"] == 15 and page["pages"] == 3 and len(page["accounts"]) == 5
    assert admin_client.client.get("/api/v1/accounts?per_page=100000").json["per_page"] == 200
    found = admin_client.client.get("/api/v1/accounts?q=zed").json
    assert found["total"] == 3 and {a["display_name"] for a in found["accounts"]} == {
        "Zed 000",
        "Zed 001",
        "Zed 002",
    }


def test_account_json_has_events(admin_client: PanelClient, emulator: Any) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    body = admin_client.client.get(f"/api/v1/accounts/{account_id}").json
    kinds = [e["kind"] for e in body["account"]["events"]]
    assert "connected" in kinds
    assert admin_client.client.get("/api/v1/accounts/999").status_code == 404
    assert admin_client.client.get("/api/v1/accounts/999").json["error"]["code"] == (
        "account_not_found"
    )


def test_status_json(admin_client: PanelClient, store: Any, panel_clock: Any) -> None:
    ids = seed(store, panel_clock, 3)
    store.disconnect(ids[0])
    body = admin_client.client.get("/api/v1/status").json
    assert body["now"] == "2026-01-01T00:00:00Z"
    assert body["accounts"] == {"total": 3, "by_health": {"healthy": 2, "disconnected": 1}}
    assert body["scheduler"] == {"alive": None}
    assert body["bot"]["running"] is False and body["bot"]["identity"] is None
