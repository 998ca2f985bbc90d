"""The dashboard, the account page and its actions, against the emulator."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.plugins.panel import PanelClient
from tests.plugins.panel import connect_account
from tokenbot.core.errors import NeedsReauth
from tokenbot.core.tokens import Identity
from tokenbot.core.tokens import TokenSet


def seed(store: Any, clock: Any, count: int, *, prefix: str = "user") -> list[int]:
    """Store `count` connected accounts with made-up tokens; return their ids."""
    ids = []
    for n in range(count):
        identity = Identity(
            person_id=f"person-{prefix}-{n:03d}",
            email=f"{prefix}{n:03d}@example.com",
            display_name=f"{prefix.title()} {n:03d}",
        )
        tokens = TokenSet(
            access_token=f"seed-access-{prefix}-{n:03d}-xxxxxxxx",
            expires_in=14 * 86400,
            refresh_token=f"seed-refresh-{prefix}-{n:03d}-xxxxxxx",
            refresh_token_expires_in=90 * 86400,
        )
        ids.append(
            store.save_connected(identity, ["spark:people_read"], tokens, sent_at=clock.now()).id
        )
    return ids


@pytest.fixture
def store(app: Flask) -> Any:
    return app.extensions["tokenbot"].store


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr data-account-id="(\d+)"', page)


def test_empty_dashboard_invites_to_connect(admin_client: PanelClient) -> None:
    page = admin_client.get("/").get_data(as_text=True)
    assert "No Webex account is connected yet." in page
    assert 'action="/connect"' in page


def test_dashboard_shows_status_times_and_scopes(
    admin_client: PanelClient, store: Any, panel_clock: Any
) -> None:
    seed(store, panel_clock, 1)
    page = admin_client.get("/").get_data(as_text=True)
    assert "User 000" in page and "user000@example.com" in page
    assert 'class="badge badge-healthy"' in page
    # Access token: 14 days minus the 30 s skew, as a bar and as an exact UTC time.
    assert 'data-countdown="2026-01-14T23:59:30Z"' in page
    assert "13 d 23 h" in page and "2026-01-14 23:59 UTC" in page
    assert 'data-countdown="2026-03-31T23:59:30Z"' in page
    assert '<meter class="bar"' in page
    assert 'class="scope">spark:people_read<' in page
    assert "bot identity" not in page.split("<tbody>")[1]  # seeding chose none


def test_badges_follow_the_account_state(
    admin_client: PanelClient, store: Any, panel_clock: Any
) -> None:
    healthy, due, gone = seed(store, panel_clock, 3)
    store.disconnect(gone)
    panel_clock.advance(13 * 86400)  # past the refresh-ahead point of all three
    admin_client.login()  # the session timed out meanwhile
    page = admin_client.get("/").get_data(as_text=True)
    assert page.count("badge badge-refresh_due") == 2
    assert page.count("badge badge-disconnected") == 1
    assert re.search(r'data-count="refresh_due">2<', page)
    assert re.search(r'data-count="disconnected">1<', page)
    del healthy, due


def test_pagination_and_search(admin_client: PanelClient, store: Any, panel_clock: Any) -> None:
    seed(store, panel_clock, 30)
    seed(store, panel_clock, 2, prefix="zed")
    first = admin_client.get("/").get_data(as_text=True)
    assert len(_rows(first)) == 25 and "Page 1 of 2" in first
    assert 'href="/?page=2"' in first
    second = admin_client.get("/?page=2").get_data(as_text=True)
    assert len(_rows(second)) == 7
    assert set(_rows(first)).isdisjoint(_rows(second))
    beyond = admin_client.get("/?page=99").get_data(as_text=True)
    assert _rows(beyond) == _rows(second)
    assert len(_rows(admin_client.get("/?page=nonsense").get_data(as_text=True))) == 25
    found = admin_client.get("/?q=ZED").get_data(as_text=True)
    assert len(_rows(found)) == 2 and "Zed 001" in found and "2 accounts" in found
    none = admin_client.get("/?q=nobody-like-this").get_data(as_text=True)
    assert "No account matches" in none


def test_account_page_shows_history(admin_client: PanelClient, emulator: Any, store: Any) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    page = admin_client.get(f"/accounts/{account_id}").get_data(as_text=True)
    assert "History" in page and "kind-connected" in page
    assert "kind-bot_identity_set" in page
    assert store.get(account_id).person_id in page


def test_account_history_pages(admin_client: PanelClient, store: Any, panel_clock: Any) -> None:
    from tokenbot.core.models import EventKind

    (account_id,) = seed(store, panel_clock, 1)
    for n in range(60):
        store.record_event(account_id, EventKind.TESTED, detail=f"probe {n:02d}")
    first = admin_client.get(f"/accounts/{account_id}").get_data(as_text=True)
    assert "probe 59" in first and "probe 09" not in first
    older = re.search(r'href="(/accounts/\d+\?before=\d+)"', first).group(1)  # type: ignore[union-attr]
    second = admin_client.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert "probe 09" in second and "probe 59" not in second


def test_unknown_account_is_404(admin_client: PanelClient) -> None:
    assert admin_client.get("/accounts/999").status_code == 404
    assert admin_client.post("/accounts/999/refresh").status_code == 404
    assert admin_client.post("/accounts/999/disconnect").status_code == 404


def test_refresh_now_changes_the_last_refresh_time(
    admin_client: PanelClient, emulator: Any, store: Any, panel_clock: Any
) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    before = store.get(account_id)
    assert before.last_refreshed_at is None
    panel_clock.advance(20 * 60)
    admin_client.get(f"/accounts/{account_id}")
    response = admin_client.post(f"/accounts/{account_id}/refresh", {"next": "/"})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    after = store.get(account_id)
    assert after.last_refreshed_at == panel_clock.now()
    grants = [c for c in emulator.calls(path="/v1/access_token") if c.get("grant_type")]
    assert [c["grant_type"] for c in grants] == ["authorization_code", "refresh_token"]
    page = admin_client.get("/").get_data(as_text=True)
    assert "Tokens refreshed." in page
    assert "2026-01-01 00:20 UTC" in page


def test_refresh_of_a_revoked_grant_shows_needs_relogin(
    admin_client: PanelClient, emulator: Any, store: Any
) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    emulator.revoke(email="alice@example.com")
    admin_client.get("/")
    admin_client.post(f"/accounts/{account_id}/refresh")
    page = admin_client.get(f"/accounts/{account_id}").get_data(as_text=True)
    assert "Refresh failed" in page
    assert "badge badge-needs_reauth" in page and "needs re-login" in page
    assert "Reconnect" in page  # the way out of "needs re-login"
    assert "Reconnect" in admin_client.get("/").get_data(as_text=True)
    # The wiped grant shows no countdown, in the page and in the live API.
    assert "data-countdown" not in admin_client.get("/").get_data(as_text=True)
    (listed,) = admin_client.get("/api/v1/accounts").get_json()["accounts"]
    assert listed["access_token"]["expires_at"] is None
    assert listed["refresh_token"]["seconds_left"] is None


def test_test_token_calls_people_me(admin_client: PanelClient, emulator: Any, store: Any) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    calls_before = len(emulator.calls(path="/v1/people/me"))
    admin_client.get(f"/accounts/{account_id}")
    response = admin_client.post(f"/accounts/{account_id}/test")
    assert response.status_code == 303
    assert len(emulator.calls(path="/v1/people/me")) == calls_before + 1
    page = admin_client.get(f"/accounts/{account_id}").get_data(as_text=True)
    assert "The token works: Webex says this is Alice Andersen." in page
    assert store.events(account_id, limit=1)[0].kind.value == "tested"


def test_test_token_reports_a_rejected_token(
    admin_client: PanelClient, emulator: Any, store: Any
) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    emulator.fault("/v1/people/me", method="GET", status=401)
    admin_client.get(f"/accounts/{account_id}")
    admin_client.post(f"/accounts/{account_id}/test")
    page = admin_client.get(f"/accounts/{account_id}").get_data(as_text=True)
    assert "The token test failed" in page
    event = store.events(account_id, limit=1)[0]
    assert event.kind.value == "tested" and event.detail.startswith("test failed")


def test_make_bot_identity(admin_client: PanelClient, emulator: Any, store: Any) -> None:
    alice, _ = connect_account(admin_client, emulator, "alice@example.com")
    bob, _ = connect_account(admin_client, emulator, "bob@example.com")
    assert store.bot_identity().id == alice
    admin_client.get(f"/accounts/{bob}")
    admin_client.post(f"/accounts/{bob}/bot")
    assert store.bot_identity().id == bob
    page = admin_client.get("/").get_data(as_text=True)
    assert "The bot now acts as Bob Baker." in page
    assert f'data-bot="identity"><a href="/accounts/{bob}">Bob Baker' in page


def test_disconnect_asks_first_then_wipes_tokens(
    admin_client: PanelClient, emulator: Any, store: Any
) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    confirm = admin_client.get(f"/accounts/{account_id}/disconnect")
    text = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Disconnect Alice Andersen?" in text
    assert "This account is the bot identity" in text
    assert store.get(account_id).has_tokens  # asking changed nothing
    response = admin_client.post(f"/accounts/{account_id}/disconnect")
    assert response.status_code == 303
    view = store.get(account_id)
    assert view.status.value == "disconnected" and not view.has_tokens
    with pytest.raises(NeedsReauth):
        store.access_grant(account_id)
    page = admin_client.get(f"/accounts/{account_id}").get_data(as_text=True)
    assert "badge badge-disconnected" in page and "Reconnect" in page
    assert "Refresh now" not in page
    assert admin_client.get(f"/accounts/{account_id}/disconnect").status_code == 404


def test_bot_card(
    panel_settings: Any, panel_runtime: Any, panel_admins: Any, emulator: Any
) -> None:
    from tokenbot.admin import create_app

    status = {
        "intake_mode": "webhook",
        "webhook_registered": True,
        "last_event_at": "2026-01-01T00:00:05Z",
        "commands_handled": 42,
        "errors": 3,
        "last_error": "boom (id 1a2b)",
    }
    app = create_app(
        panel_settings,
        panel_runtime,
        admins=panel_admins,
        bot_status=lambda: status,
        scheduler_alive=lambda: True,
    )
    client = PanelClient(app.test_client())
    client.login()
    page = client.get("/").get_data(as_text=True)
    card = page.split('id="bot-card"')[1].split("</section>")[0]
    assert 'data-bot="intake_mode">webhook<' in card
    assert 'data-bot="webhook_registered">registered<' in card
    assert 'datetime="2026-01-01T00:00:05Z"' in card
    assert 'data-bot="commands_handled">42<' in card
    assert 'data-bot="errors" class="warn">3<' in card
    assert "boom (id 1a2b)" in card
    assert "scheduler running" in page
    assert "cards_note" not in card  # webhook intake hears card presses
    status["intake_mode"] = "polling"
    card = client.get("/").get_data(as_text=True).split('id="bot-card"')[1]
    assert "polling bot to see card presses" in card.split("</section>")[0]


def test_bot_card_on_the_websocket(
    panel_settings: Any, panel_runtime: Any, panel_admins: Any, emulator: Any
) -> None:
    from tokenbot.admin import create_app

    status = {
        "intake_mode": "websocket",
        "intake_reason": "auto: the identity's grant has spark:all",
        "websocket_state": "connected",
        "websocket_connected_since": "2026-01-01T00:00:01Z",
        "websocket_last_frame_at": "2026-01-01T00:00:09Z",
        "websocket_reconnects": 4,
        "websocket_devices": 1,
        "events_backfilled": 7,
    }
    app = create_app(
        panel_settings,
        panel_runtime,
        admins=panel_admins,
        bot_status=lambda: status,
        scheduler_alive=lambda: True,
    )
    client = PanelClient(app.test_client())
    client.login()
    card = client.get("/").get_data(as_text=True).split('id="bot-card"')[1].split("</section>")[0]
    assert 'data-bot="intake_mode">websocket<' in card
    assert "has spark:all" in card
    assert 'data-bot="websocket_state">connected<' in card
    assert 'datetime="2026-01-01T00:00:01Z"' in card and 'datetime="2026-01-01T00:00:09Z"' in card
    assert 'data-bot="websocket_reconnects">4<' in card
    assert 'data-bot="websocket_devices">1<' in card
    assert 'data-bot="events_backfilled">7<' in card
    assert "webhook_registered" not in card


def test_bot_card_without_a_bot(admin_client: PanelClient) -> None:
    card = admin_client.get("/").get_data(as_text=True).split('id="bot-card"')[1]
    assert 'data-bot="intake_mode">off<' in card
    # No intake runs here: no webhook line that would read as a fault.
    assert "webhook_registered" not in card.split("</section>")[0]
    assert "none chosen" in card


def test_pages_load_only_local_files(admin_client: PanelClient, emulator: Any) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    for path in ("/", f"/accounts/{account_id}", f"/accounts/{account_id}/disconnect", "/login"):
        body = admin_client.get(path).get_data(as_text=True)
        assert "<script>" not in body and " style=" not in body and "onclick" not in body
        for url in re.findall(r'(?:src|href)="([^"]+)"', body):
            assert url.startswith("/"), (path, url)


def test_a_live_poll_renders_the_live_parts_and_leaves_the_flash(
    admin_client: PanelClient, emulator: Any
) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    admin_client.post(f"/accounts/{account_id}/refresh", data={"next": "/"})
    # panel.js polls the page itself with X-Live: the same templates render the live parts...
    live = admin_client.get("/", headers={"X-Live": "1"}).get_data(as_text=True)
    for part in ('id="live-top" data-live-part', 'id="live-accounts" data-live-part'):
        assert part in live
    assert f'data-account-id="{account_id}"' in live
    # ...but the flash waits for the next real page view.
    assert "Tokens refreshed." not in live
    assert "Tokens refreshed." in admin_client.get("/").get_data(as_text=True)
    account = admin_client.get(f"/accounts/{account_id}", headers={"X-Live": "1"})
    assert 'id="live-account" data-live-part' in account.get_data(as_text=True)


def test_history_and_actions_use_the_panel_words(
    admin_client: PanelClient, emulator: Any, store: Any
) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    store.mark_needs_reauth(account_id, reason="revoked (test)")
    page = admin_client.get(f"/accounts/{account_id}").get_data(as_text=True)
    history = page[page.index("<h2>History</h2>") :]
    assert "needs re-login" in history and "needs reauth" not in history
    assert "made bot identity" in history
    assert "Reconnect" in page and "Connect again" not in page


def test_durations_have_one_format() -> None:
    from tokenbot.admin.presenters import duration_text

    assert duration_text(13 * 86400 + 4 * 3600 + 59) == "13 d 4 h"
    assert duration_text(2 * 3600 + 5 * 60 + 9) == "2 h 5 min"
    assert duration_text(4 * 60 + 10) == "4 min 10 s"  # as panel.js counts down
    assert duration_text(45) == "45 s"
    assert duration_text(0) == "expired"
