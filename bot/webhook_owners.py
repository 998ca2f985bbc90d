"""Our webhooks must not outlive their owner: delete them while the owner's token still works.

A webhook belongs to the person whose token created it. When the bot identity changes, or an
account is disconnected, a webhook left at Webex keeps delivering that person's message
metadata to us, signed with our secret. So ours (named `options.webhook_name` *and* pointing
at `options.webhook_url`: another deployment's webhook of the same name is not ours) is
deleted before the token is wiped, on every connected account but the bot identity at start
(strays of an earlier identity or a crash), and on the old identity when it changes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from typing import Protocol

from tokenbot.bot.client import TokenSource
from tokenbot.bot.client import WebexClient
from tokenbot.bot.options import BotOptions
from tokenbot.bot.sdk import Sdk
from tokenbot.core.errors import TokenbotError

__all__ = ["AccountLister", "WebhookJanitor", "is_ours"]

log = logging.getLogger(__name__)
_PAGE = 200
# Accounts whose token no longer works: nothing can be deleted with it.
_NO_TOKEN = {"needs_reauth", "disconnected"}


class AccountLister(Protocol):
    """The part of `core.store.TokenStore` the janitor reads accounts from."""

    def list_accounts(self, *, offset: int = 0, limit: int = 50) -> list[Any]:
        """Return a page of accounts."""
        ...


def is_ours(hook: dict[str, Any], options: BotOptions) -> bool:
    """Tell whether a webhook is this deployment's: our name and our target."""
    return (
        hook.get("name") == options.webhook_name
        and options.webhook_url is not None
        and hook.get("targetUrl") == options.webhook_url
    )


class WebhookJanitor:
    """Delete our webhooks of accounts the bot no longer acts as.

    Args:
        options: The bot's settings (name and target of our webhook).
        tokens: The token service (each account's current token).
        sdk: The SDK the bot uses.
        **client_options: Passed to each account's `WebexClient` (timeout, ...).
    """

    def __init__(
        self,
        *,
        options: BotOptions,
        tokens: TokenSource,
        sdk: Sdk | None = None,
        **client_options: Any,
    ) -> None:
        self.options = options
        self._tokens = tokens
        self._sdk = sdk
        self._client_options = client_options

    def client_for(self, account_id: Any) -> WebexClient:
        """Return a Webex client on `account_id`'s token (not the bot identity's)."""
        return WebexClient(
            tokens=self._tokens,
            account_id=lambda: account_id,
            base_url=self.options.api_base_url,
            sdk=self._sdk,
            proxy_url=self.options.proxy_url,
            **self._client_options,
        )

    def remove(self, account_id: Any) -> int:
        """Delete our webhooks of `account_id`; return how many (0 without a public URL).

        Raises:
            TokenbotError: Webex could not be asked (the caller logs it).
        """
        if self.options.intake != "webhook" or self.options.webhook_url is None:
            return 0
        client = self.client_for(account_id)
        removed = 0
        for hook in client.list_webhooks():
            if is_ours(hook, self.options):
                client.delete_webhook(str(hook["id"]))
                removed += 1
        if removed:
            log.info("removed %d webhook(s) of account %s at Webex", removed, account_id)
        return removed

    def remove_strays(self, store: AccountLister, *, keep: Any) -> int:
        """Delete our webhooks of every account with a usable token but `keep`; never raises."""
        removed = 0
        for account in _accounts(store):
            status = str(getattr(account.status, "value", account.status))
            if account.id == keep or status in _NO_TOKEN:
                continue
            try:
                removed += self.remove(account.id)
            except TokenbotError as error:
                log.warning("could not check account %s for stray webhooks: %s", account.id, error)
        return removed


def _accounts(store: AccountLister) -> Iterator[Any]:
    offset = 0
    while True:
        page = store.list_accounts(offset=offset, limit=_PAGE)
        yield from page
        if len(page) < _PAGE:
            return
        offset += _PAGE
