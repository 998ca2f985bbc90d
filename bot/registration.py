"""Register our webhook at start: create or update it with the secret, remove stale ones.

"Ours" means a webhook of the user named `options.webhook_name`: one is kept (the one already
pointing at our URL, else the first) and updated to our URL and secret (which also re-activates
a webhook Webex disabled); the others are deleted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenbot.bot.service import Bot

__all__ = ["check_webhook", "ensure_webhook"]

log = logging.getLogger(__name__)


def ensure_webhook(bot: Bot) -> str | None:
    """Make Webex deliver new messages to us; return the webhook id (None: no public URL)."""
    options = bot.options
    target = options.webhook_url
    if target is None or not options.webhook_secret:
        bot.state.set_values({"webhook_registered": False, "webhook_id": None})
        return None
    client = bot.client
    ours = [
        hook
        for hook in client.list_webhooks()
        if hook.get("name") == options.webhook_name and hook.get("resource") == "messages"
    ]
    keep = next((hook for hook in ours if hook.get("targetUrl") == target), None)
    keep = keep or (ours[0] if ours else None)
    if keep is None:
        hook = client.create_webhook(
            name=options.webhook_name, target_url=target, secret=options.webhook_secret
        )
        log.info("webhook created for %s", target)
    else:
        hook = client.update_webhook(
            str(keep["id"]),
            name=options.webhook_name,
            target_url=target,
            secret=options.webhook_secret,
        )
        log.info("webhook updated for %s", target)
    stale = [other for other in ours if keep is None or other["id"] != keep["id"]]
    for other in stale:
        client.delete_webhook(str(other["id"]))
        log.info("stale webhook removed (%s)", other.get("targetUrl"))
    webhook_id = str(hook["id"])
    bot.state.set_values(
        {
            "webhook_registered": True,
            "webhook_id": webhook_id,
            "webhook_url": target,
            "webhook_status": str(hook.get("status") or "active"),
        }
    )
    bot.forget_webhook_id()
    return webhook_id


def check_webhook(bot: Bot) -> str:
    """Ask Webex how our webhook is; unless `active`, it is no longer "registered".

    Returns:
        Its status at Webex (`active`, `inactive`), or `missing`.
    """
    webhook_id = bot.state.value("webhook_id")
    hook = next(
        (hook for hook in bot.client.list_webhooks() if str(hook.get("id")) == webhook_id), None
    )
    status = str(hook.get("status") or "active") if hook is not None else "missing"
    if status != "active":
        log.warning("Webex reports our webhook %s; it will be registered again", status)
        bot.record_error(f"webhook {status} at Webex (deliveries stopped)")
        bot.state.set_values({"webhook_registered": False, "webhook_status": status})
    else:
        bot.state.set_values({"webhook_status": status})
    return status
