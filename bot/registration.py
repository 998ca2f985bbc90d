"""Register our webhook: create or update it with the secret, remove stale ones.

"Ours" means a webhook of the user with our name (`bot.webhook_name`): one is kept (the one
already pointing at our URL, else the first) and updated to our URL and secret (which also
re-activates a webhook Webex disabled); the others are deleted. `RegisteredWebhook` answers,
for each delivery, which webhook id is ours, without a database read per delivery.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tokenbot.bot.bookkeeping import ErrorHook
from tokenbot.bot.client import WebexClient
from tokenbot.core.botstate import BotStateStore

__all__ = ["RegisteredWebhook", "check_webhook", "ensure_webhook"]

log = logging.getLogger(__name__)
# Another instance may re-register the webhook; its id is re-read this often.
_WEBHOOK_ID_TTL = 10.0


def ensure_webhook(
    client: WebexClient,
    state: BotStateStore,
    *,
    name: str,
    target_url: str | None,
    secret: str | None,
    resource: str = "messages",
) -> str | None:
    """Make Webex deliver new messages (or card submits) to `target_url`; return the webhook id.

    Args:
        client: The Webex client, on the token of the user the webhook is for.
        state: Where the registration is recorded (the panel shows it).
        name: The name marking webhooks this bot owns.
        target_url: Where Webex should deliver; None (no public URL) registers nothing.
        secret: What deliveries are signed with; None or empty registers nothing.
        resource: `messages`, or `attachmentActions` (card submits, which polling cannot see;
            its id is recorded as `card_webhook_id`).

    Returns:
        The id of our webhook, or None when nothing was registered.
    """
    cards = resource != "messages"
    if target_url is None or not secret:
        state.set_values(
            {"card_webhook_id": None}
            if cards
            else {"webhook_registered": False, "webhook_id": None}
        )
        return None
    ours = [
        hook
        for hook in client.list_webhooks()
        if hook.get("name") == name and hook.get("resource") == resource
    ]
    keep = next((hook for hook in ours if hook.get("targetUrl") == target_url), None)
    keep = keep or (ours[0] if ours else None)
    if keep is None:
        hook = client.create_webhook(
            name=name, target_url=target_url, secret=secret, resource=resource
        )
        log.info("webhook created for %s", target_url)
    else:
        hook = client.update_webhook(
            str(keep["id"]), name=name, target_url=target_url, secret=secret
        )
        log.info("webhook updated for %s", target_url)
    stale = [other for other in ours if keep is None or other["id"] != keep["id"]]
    for other in stale:
        client.delete_webhook(str(other["id"]))
        log.info("stale webhook removed (%s)", other.get("targetUrl"))
    webhook_id = str(hook["id"])
    if cards:
        state.set_values({"card_webhook_id": webhook_id})
        return webhook_id
    state.set_values(
        {
            "webhook_registered": True,
            "webhook_id": webhook_id,
            "webhook_url": target_url,
            "webhook_status": str(hook.get("status") or "active"),
        }
    )
    return webhook_id


class RegisteredWebhook:
    """The id of the webhook we registered, as recorded in the bot state, cached briefly.

    Args:
        state: Where `ensure_webhook` (of any instance) recorded the id.
        ttl: How long a read is trusted.
        monotonic: Time source for the cache (tests pass a fake).
    """

    def __init__(
        self,
        state: BotStateStore,
        *,
        ttl: float = _WEBHOOK_ID_TTL,
        monotonic: Callable[[], float] = time.monotonic,
        key: str = "webhook_id",
    ) -> None:
        self._key = key
        self._state = state
        self._ttl = ttl
        self._monotonic = monotonic
        self._cached: tuple[float, str | None] | None = None

    def id(self) -> str | None:
        """Return the id of the webhook we registered, or None."""
        now = self._monotonic()
        cached = self._cached
        if cached is None or now - cached[0] > self._ttl:
            value = self._state.value(self._key)
            cached = (now, str(value) if value else None)
            self._cached = cached
        return cached[1]

    def forget(self) -> None:
        """Drop the cached id (after registering)."""
        self._cached = None


def check_webhook(client: WebexClient, state: BotStateStore, *, on_error: ErrorHook) -> str:
    """Ask Webex how our webhook is; unless `active`, it is no longer "registered".

    Args:
        client: The Webex client, on the token the webhook was registered with.
        state: Where the registration is recorded (the panel shows it).
        on_error: The bot's error hook (the panel shows why deliveries stopped).

    Returns:
        Its status at Webex (`active`, `inactive`), or `missing`.
    """
    webhook_id = state.value("webhook_id")
    hook = next(
        (hook for hook in client.list_webhooks() if str(hook.get("id")) == webhook_id), None
    )
    status = str(hook.get("status") or "active") if hook is not None else "missing"
    if status != "active":
        log.warning("Webex reports our webhook %s; it will be registered again", status)
        on_error(f"webhook {status} at Webex (deliveries stopped)", None)
        state.set_values({"webhook_registered": False, "webhook_status": status})
    else:
        state.set_values({"webhook_status": status})
    return status
