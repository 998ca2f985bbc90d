"""The bot card says what matters for the intake in use, and errors with their time."""

from __future__ import annotations

from typing import Any

from tests.plugins.panel import PanelClient
from tokenbot.admin import create_app
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.reauth_waiting import WaitingCommands
from tokenbot.process import bot_status_reader


def _card(panel_settings: Any, panel_runtime: Any, panel_admins: Any, facts: dict[str, Any]) -> str:
    app = create_app(panel_settings, panel_runtime, admins=panel_admins, bot_status=lambda: facts)
    app.config["TESTING"] = True
    client = PanelClient(app.test_client())
    assert client.login().status_code == 303
    page = client.get("/").get_data(as_text=True)
    return page[page.index('id="bot-card"') : page.index("</section>", page.index('id="bot-card"'))]


def test_polling_shows_last_poll_spaces_and_budget_not_the_webhook(
    panel_settings: Any, panel_runtime: Any, panel_admins: Any
) -> None:
    card = _card(
        panel_settings,
        panel_runtime,
        panel_admins,
        {
            "intake_mode": "polling",
            "webhook_registered": False,
            "last_poll_at": "2026-01-01T00:00:05+00:00",
            "spaces_watched": 7,
            "api_budget_used": 3,
            "api_budget_per_minute": 30,
        },
    )
    assert "Webhook" not in card and "not registered" not in card
    assert 'datetime="2026-01-01T00:00:05Z"' in card
    assert '<dd data-bot="spaces_watched">7</dd>' in card
    assert "3 of 30 calls this minute" in card


def test_webhook_mode_still_shows_the_registration(
    panel_settings: Any, panel_runtime: Any, panel_admins: Any
) -> None:
    card = _card(
        panel_settings,
        panel_runtime,
        panel_admins,
        {"intake_mode": "webhook", "webhook_registered": True},
    )
    assert "registered" in card and "Last poll" not in card


def test_an_error_shows_its_time_and_reads_as_past_once_the_bot_works_again(
    panel_settings: Any, panel_runtime: Any, panel_admins: Any
) -> None:
    facts = {
        "intake_mode": "polling",
        "errors": 1,
        "last_error": "fetch message: the bot identity needs re-login",
        "last_error_at": "2026-01-01T00:00:00+00:00",
        "last_poll_at": "2025-12-31T23:59:00+00:00",
    }
    current = _card(panel_settings, panel_runtime, panel_admins, facts)
    assert 'class="error-text small"' in current
    assert 'datetime="2026-01-01T00:00:00Z"' in current and "needs re-login" in current
    facts["last_poll_at"] = "2026-01-01T00:01:00+00:00"
    resolved = _card(panel_settings, panel_runtime, panel_admins, facts)
    assert "error-text" not in resolved
    assert "working again since" in resolved


def test_a_silent_intake_shows_on_the_card_in_the_api_and_in_metrics(
    panel_settings: Any, panel_runtime: Any, panel_admins: Any
) -> None:
    facts = {
        "intake_mode": "webhook",
        "webhook_registered": True,
        "webhook_status": "active",
        "intake_state": "silent",
        "intake_state_reason": "silent: 3 messages reached Webex but not the intake",
        "intake_state_since": "2026-01-01T00:00:00+00:00",
        "intake_missed": 3,
    }
    card = _card(panel_settings, panel_runtime, panel_admins, facts)
    assert 'data-bot="intake_state" class="warn"' in card and "silent since" in card
    assert '<dd data-bot="intake_missed">3</dd>' in card
    app = create_app(panel_settings, panel_runtime, admins=panel_admins, bot_status=lambda: facts)
    app.config["TESTING"] = True
    client = PanelClient(app.test_client())
    assert client.login().status_code == 303
    bot = client.get("/api/v1/status").get_json()["bot"]
    assert bot["intake_state"] == "silent" and bot["intake_missed"] == 3
    assert bot["intake_state_since"] == "2026-01-01T00:00:00Z"
    metrics = client.client.get("/metrics").get_data(as_text=True)
    assert 'tokenbot_bot_intake_state{state="silent"} 1.0' in metrics
    assert 'tokenbot_bot_intake_state{state="up"} 0.0' in metrics
    assert "tokenbot_bot_intake_missed_total 3.0" in metrics
    facts["intake_state"] = "up"
    assert "silent since" not in _card(panel_settings, panel_runtime, panel_admins, facts)


def test_messages_waiting_for_the_relogin_are_counted_on_the_card(
    panel_settings: Any, panel_runtime: Any, panel_admins: Any
) -> None:
    database, clock = panel_runtime.database, panel_runtime.clock
    read = bot_status_reader(BotStateStore(database, clock), WaitingCommands(database, clock))
    assert "Waiting for re-login" not in _card(panel_settings, panel_runtime, panel_admins, read())
    waiting = WaitingCommands(database, clock)
    for item in ("MSG-1", "MSG-2"):
        assert waiting.keep(item, kind="message", intake="webhook")
    card = _card(panel_settings, panel_runtime, panel_admins, read())
    assert "Waiting for re-login" in card
    assert "2 messages, answered after Reconnect" in card
