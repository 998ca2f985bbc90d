"""Which intake `bot.intake: auto` means, and why: shown by `config check`, the panel, the log.

The websocket needs `spark:all` on the identity's grant (Webex adds `spark:kms` with it): the
device service refuses anything less. Without it a public URL means webhooks, and otherwise the
bot polls.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

__all__ = ["WEBSOCKET_SCOPES", "Intake", "IntakeChoice", "choose_intake"]

WEBSOCKET_SCOPES = ("spark:all",)
# `bot.intake`: what may be configured; a choice is never "auto".
Intake = Literal["auto", "websocket", "webhook", "polling"]


@dataclass(frozen=True, slots=True)
class IntakeChoice:
    """The intake in use and the one-line reason for it."""

    intake: Intake
    reason: str


def choose_intake(
    configured: Intake,
    *,
    scopes: Collection[str],
    scopes_from: str,
    public_url: str | None,
    has_webhook_secret: bool,
) -> IntakeChoice:
    """Resolve `bot.intake` (auto, websocket, webhook, polling) to the intake to run.

    Args:
        configured: `bot.intake`.
        scopes: The identity's granted scopes, or the configured ones before any login.
        scopes_from: Where `scopes` came from, for the reason ("the identity's grant").
        public_url: `bot.public_url`.
        has_webhook_secret: Whether `TOKENBOT_WEBHOOK_SECRET` is set.
    """
    if configured != "auto":
        return IntakeChoice(configured, f"bot.intake: {configured}")
    missing = [scope for scope in WEBSOCKET_SCOPES if scope not in scopes]
    if not missing:
        return IntakeChoice("websocket", f"auto: {scopes_from} has spark:all")
    why = f"auto: {scopes_from} lacks {', '.join(missing)}"
    if public_url and has_webhook_secret:
        return IntakeChoice("webhook", f"{why}; bot.public_url is set")
    if public_url:
        return IntakeChoice("polling", f"{why}; bot.public_url is set but no webhook secret")
    return IntakeChoice("polling", f"{why} and bot.public_url is not set")
