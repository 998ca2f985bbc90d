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

__all__ = ["ensure_webhook"]

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
        {"webhook_registered": True, "webhook_id": webhook_id, "webhook_url": target}
    )
    bot.forget_webhook_id()
    return webhook_id
