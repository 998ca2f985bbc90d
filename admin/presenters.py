"""Turn the store's views into what pages and the JSON API show: one shape for both.

Times are ISO 8601 UTC strings (``...Z``); the browser renders them in the viewer's time zone.
No token material ever passes through here: `AccountView` has none.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from typing import Any

from tokenbot.admin.metrics import TokenSample
from tokenbot.admin.panel import BotFacts
from tokenbot.core.clock import Clock
from tokenbot.core.durations import format_duration
from tokenbot.core.records import AccountView
from tokenbot.core.records import EventView
from tokenbot.core.store import TokenStore

__all__ = [
    "EVENT_LABELS",
    "HEALTH_LABELS",
    "account_dict",
    "bot_card",
    "event_dict",
    "iso",
    "duration_text",
    "token_samples",
    "utc_text",
]

HEALTH_LABELS = {
    "healthy": "healthy",
    "refresh_due": "refresh due",
    "failing": "failing",
    "needs_reauth": "needs re-login",
    "disconnected": "disconnected",
}
# The History column's words: the same terms as the badges ("needs re-login", never "reauth").
EVENT_LABELS = {
    "connected": "connected",
    "reconnected": "reconnected",
    "refreshed": "refreshed",
    "refresh_failed": "refresh failed",
    "refresh_token_expiring": "refresh token expiring",
    "needs_reauth": "needs re-login",
    "disconnected": "disconnected",
    "tested": "tested",
    "bot_identity_set": "made bot identity",
    "keys_rotated": "keys rotated",
}
_SAMPLE_PAGE = 500


def iso(moment: datetime | None) -> str | None:
    """Return `moment` as ISO 8601 UTC with a ``Z``, or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _token(
    expires_at: datetime | None, started_at: datetime | None, now: datetime
) -> dict[str, Any]:
    if expires_at is None:
        return {"expires_at": None, "seconds_left": None, "fraction_left": None}
    left = (expires_at - now).total_seconds()
    fraction = None
    if started_at is not None:
        lifetime = (expires_at - started_at).total_seconds()
        if lifetime > 0:
            fraction = round(min(1.0, max(0.0, left / lifetime)), 4)
    return {"expires_at": iso(expires_at), "seconds_left": int(left), "fraction_left": fraction}


def account_dict(view: AccountView, now: datetime) -> dict[str, Any]:
    """Describe an account for a page or the JSON API."""
    health = view.health(now)
    started = view.obtained_at or view.last_refreshed_at or view.created_at
    return {
        "id": view.id,
        "person_id": view.person_id,
        "email": view.email,
        "display_name": view.display_name,
        "org_id": view.org_id,
        "scopes": list(view.scopes),
        "status": view.status.value,
        "health": health,
        "health_label": HEALTH_LABELS.get(health, health),
        "is_bot_identity": bool(view.is_bot_identity),
        "has_tokens": bool(view.has_tokens),
        # A wiped grant (needs re-login, disconnected) has no time left, whatever was stored.
        "access_token": _token(view.access_expires_at if view.has_tokens else None, started, now),
        "refresh_token": _token(
            view.refresh_expires_at if view.has_tokens else None, view.created_at or started, now
        ),
        "connected_at": iso(view.created_at),
        "obtained_at": iso(view.obtained_at),
        "last_refreshed_at": iso(view.last_refreshed_at),
        "last_verified_at": iso(view.last_verified_at),
        "next_refresh_at": iso(view.next_refresh_at),
        "failure_count": view.failure_count,
        "last_error": view.last_error,
    }


def event_dict(view: EventView) -> dict[str, Any]:
    """Describe one history entry."""
    return {
        "id": view.id,
        "kind": view.kind.value,
        "label": EVENT_LABELS.get(view.kind.value, view.kind.value.replace("_", " ")),
        "at": iso(view.at),
        "duration_ms": view.duration_ms,
        "detail": view.detail,
    }


def bot_card(
    status: BotFacts | None, identity: AccountView | None, now: datetime
) -> dict[str, Any]:
    """Describe the bot for its card: what `bot_status()` said, plus the bot identity."""
    facts: BotFacts = status or {}
    last_event = _moment(facts.get("last_event_at"))
    last_poll = _moment(facts.get("last_poll_at"))
    error_at = _moment(facts.get("last_error_at"))
    # An error is current until the bot shows it works again: a later event or poll.
    latest_ok = max((m for m in (last_event, last_poll) if m), default=None)
    return {
        "last_error_at": error_at,
        "error_resolved": bool(error_at and latest_ok and latest_ok > error_at),
        "last_poll_at": last_poll,
        "spaces_watched": facts.get("spaces_watched"),
        "api_budget_used": facts.get("api_budget_used"),
        "api_budget_per_minute": facts.get("api_budget_per_minute"),
        "running": status is not None,
        "intake_mode": facts.get("intake_mode") or ("off" if status is None else "unknown"),
        "webhook_registered": bool(facts.get("webhook_registered", False)),
        "last_event_at": last_event,
        "commands_handled": int(facts.get("commands_handled", 0) or 0),
        "errors": int(facts.get("errors", 0) or 0),
        "last_error": facts.get("last_error"),
        "intake_reason": facts.get("intake_reason"),
        "websocket": None
        if facts.get("intake_mode") != "websocket"
        else {
            "state": facts.get("websocket_state") or "starting",
            "connected_since": facts.get("websocket_connected_since"),
            "last_frame_at": facts.get("websocket_last_frame_at"),
            "reconnects": int(facts.get("websocket_reconnects", 0) or 0),
            "devices": int(facts.get("websocket_devices", 0) or 0),
            "backfilled": int(facts.get("events_backfilled", 0) or 0),
        },
        "webhook_status": facts.get("webhook_status"),
        "webhook_reactivated_at": facts.get("webhook_reactivated_at"),
        "intake_state": facts.get("intake_state") or None,
        "intake_state_reason": facts.get("intake_state_reason"),
        "intake_state_since": _moment(facts.get("intake_state_since")),
        "intake_missed": int(facts.get("intake_missed", 0) or 0),
        "waiting_for_relogin": int(facts.get("waiting_for_relogin", 0) or 0),
        "identity": None
        if identity is None
        else {
            "id": identity.id,
            "email": identity.email,
            "display_name": identity.display_name,
            "health": identity.health(now),
        },
    }


def _moment(value: str | datetime | None) -> str | None:
    """Normalize a stored time (ISO text with any offset, or a datetime) to ISO UTC ``...Z``."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return iso(value)


def token_samples(store: TokenStore, clock: Clock) -> Iterator[TokenSample]:
    """Yield every account's token expiries, a page at a time (for the metrics scrape)."""
    now = clock.now()
    total = store.count_accounts(search=None)
    for offset in range(0, total, _SAMPLE_PAGE):
        for view in store.list_accounts(search=None, offset=offset, limit=_SAMPLE_PAGE):
            usable = view.has_tokens
            yield TokenSample(
                account_id=view.id,
                health=view.health(now),
                access_expires_at=_timestamp(view.access_expires_at) if usable else None,
                refresh_expires_at=_timestamp(view.refresh_expires_at) if usable else None,
                last_verified_at=_timestamp(view.last_verified_at),
            )


def _timestamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def utc_text(value: str | None) -> str:
    """Render an ISO UTC string for readers without JavaScript: ``2026-01-01 12:00 UTC``."""
    if not value:
        return ""
    return value.replace("T", " ").replace("Z", "")[:16] + " UTC"


def duration_text(seconds: float | None) -> str:
    """Render a span of seconds compactly: ``13 d 4 h``, ``2 h 5 min``, ``4 min 10 s``, ``45 s``.

    The one duration format of the panel; ``panel.js`` writes the same for its countdowns.
    """
    if seconds is None:
        return ""
    if seconds <= 0:
        return "expired"
    return format_duration(seconds)
