"""Helpers the card tests share: read a card's buttons, press one, count posts and outcomes."""

from __future__ import annotations

from typing import Any

from tests.plugins.bot import BotEnv


def card_buttons(card_message: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the actions of the one Adaptive Card a message carries."""
    (attachment,) = card_message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    actions: list[dict[str, Any]] = attachment["content"]["actions"]
    return actions


def press(env: BotEnv, message_id: str, email: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Submit the card `message_id` as `email` (the emulator's control route)."""
    body = {"messageId": message_id, "personEmail": email, "inputs": inputs}
    pressed: dict[str, Any] = env.emulator.control("POST", "attachment-actions", body)
    return pressed


def press_button(env: BotEnv, card_message: dict[str, Any], email: str, title: str) -> None:
    """Press the button titled `title` on `card_message` as `email`."""
    button = next(b for b in card_buttons(card_message) if b["title"] == title)
    press(env, card_message["id"], email, button["data"])


def posts(env: BotEnv) -> int:
    """Count the messages created so far (the emulator's call log)."""
    return len(env.emulator.calls("/v1/messages", "POST"))


def delivered(env: BotEnv, outcome: str, intake: str) -> float:
    """Return the bot's delivery count for `intake` and `outcome` (0 before the first)."""
    value = env.bot.metrics.registry.get_sample_value(
        "tokenbot_bot_deliveries_total", {"intake": intake, "outcome": outcome}
    )
    return value or 0.0
