"""Tell people in Webex: lifecycle events as a short message, posted by a HEALTHY identity.

The account an event is about is never the one that posts (a failing or logged-out account
cannot). The bot identity posts when it is healthy, else the first healthy connected account
that may write messages. When none exists, a delivery fails with a clear log line and the
outbox retries it with back-off like any other delivery.

Messages are plain ``text``, not markdown: names and reasons come from Webex and from error
texts, and must not become mentions or links in the message.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import requests

from tokenbot.core.clock import Clock
from tokenbot.core.errors import TokenbotError
from tokenbot.core.notify import SendResult
from tokenbot.core.notify import Target
from tokenbot.core.records import AccountView
from tokenbot.core.store import TokenStore
from tokenbot.core.token_service import TokenService

__all__ = ["WebexSender", "message_text"]

log = logging.getLogger(__name__)

WRITE_SCOPE = "spark:messages_write"
_HEALTHY = ("healthy", "refresh_due")
_MAX_TRIES = 3
_ALARMS = ("account.refresh_failed", "account.needs_reauth", "account.disconnected")
_MAX_REASON = 200


def message_text(event_type: str, data: dict[str, Any]) -> str:
    """Return the short message for one event."""
    who = data.get("display_name") or data.get("email") or f"account {data.get('account_id')}"
    who = f"{who} ({data['email']})" if data.get("display_name") and data.get("email") else who
    reason = str(data.get("reason") or "")[:_MAX_REASON]
    link = data.get("relink_url")
    texts = {
        "account.connected": f"tokenbot: {who} is connected.",
        "account.refresh_failed": f"tokenbot: refreshing the token of {who} is failing "
        f"({reason}); tokenbot keeps retrying.",
        "account.needs_reauth": f"tokenbot: {who} needs a new Webex login ({reason}).",
        "account.recovered": f"tokenbot: {who} works again.",
        "account.refresh_token_expiring": f"tokenbot: the refresh token of {who} expires soon; "
        "log in with Webex again to keep it working.",
        "account.disconnected": f"tokenbot: {who} was disconnected.",
        "intake.down": f"tokenbot: the bot's message intake is down ({reason}).",
        "intake.up": "tokenbot: the bot's message intake works again.",
        "notify.test": "tokenbot: a test notification. If you read this, Webex notifications work.",
    }
    if event_type == "intake.down" and data.get("state") == "silent":
        texts[event_type] = (
            "tokenbot: the bot's message intake is silent: Webex says it delivers, yet messages "
            "reach the bot only through the slow reconciliation (check the webhook's address "
            "and any proxy in front of tokenbot)."
        )
    text = texts.get(event_type, f"tokenbot: {event_type}")
    if link:
        text += f" Log in again here: {link}"
    return text


class WebexSender:
    """Post events to `notify.webex` through a healthy connected identity.

    Args:
        store: Where the accounts are.
        tokens: Hands out valid access tokens.
        api_base_url: Webex's REST base (``.../v1/``).
        room_id: Post into this space; or
        person_email: send a direct message to this person.
        clock: The time source (health badges).
        timeout_seconds: One POST's timeout.
    """

    def __init__(
        self,
        store: TokenStore,
        tokens: TokenService,
        *,
        api_base_url: str,
        room_id: str | None,
        person_email: str | None,
        clock: Clock,
        timeout_seconds: float = 10,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.url = api_base_url.rstrip("/") + "/messages"
        self.where: dict[str, str] = (
            {"roomId": room_id} if room_id else {"toPersonEmail": person_email or ""}
        )
        self.clock = clock
        self.timeout_seconds = timeout_seconds
        self._http = requests.Session()

    def candidates(self, exclude: int | None) -> list[AccountView]:
        """Return the identities that may post, best first (the bot identity leads)."""
        now = self.clock.now()
        accounts = self.store.list_accounts(limit=500)
        usable = [
            a
            for a in accounts
            if a.id != exclude and a.health(now) in _HEALTHY and WRITE_SCOPE in a.scopes
        ]
        usable.sort(key=lambda a: (not a.is_bot_identity, a.id))
        return usable

    def send(self, target: Target, message_id: str, body: str) -> SendResult:
        """Post the event's message; try the next healthy identity if one fails."""
        event = json.loads(body)
        data = event.get("data") or {}
        # The account an alarm is about cannot post (its grant is failing or gone).
        exclude = data.get("account_id") if event["type"] in _ALARMS else None
        candidates = self.candidates(exclude)
        if not candidates:
            log.error(
                "notify: no healthy connected identity can post %s to Webex (the account it is "
                "about cannot post for itself); connect another account with %s, or fix this "
                "one; the message is retried",
                event["type"],
                WRITE_SCOPE,
            )
            return SendResult(False, None, "no healthy identity to post with")
        text = message_text(event["type"], data)
        last = SendResult(False, None, "not sent")
        for account in candidates[:_MAX_TRIES]:
            try:
                token = self.tokens.access_token(account.id)
            except TokenbotError as exc:
                last = SendResult(False, None, f"account {account.id}: {exc.code}")
                continue
            try:
                response = self._http.post(
                    self.url,
                    json={**self.where, "text": text},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self.timeout_seconds,
                )
            except requests.RequestException as exc:
                last = SendResult(False, None, type(exc).__name__)
                continue
            with response:
                if 200 <= response.status_code < 300:
                    log.info("notify: posted %s to Webex as account %s", event["type"], account.id)
                    return SendResult(True, response.status_code)
                last = SendResult(
                    False,
                    response.status_code,
                    f"Webex answered HTTP {response.status_code} to account {account.id}",
                )
        return last
