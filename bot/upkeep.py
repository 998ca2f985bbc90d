"""Keep the bot's intake healthy while it runs: webhook registration and old-id pruning.

At start there may be no bot identity yet (nobody has connected a Webex account), and the
admin may later pick another account. A webhook belongs to the person whose token created it,
so the bot (re-)registers whenever the identity it registered for is not the current one, or
the registration is missing; before registering for a new identity it deletes ours of the old
one, and at start ours of every other connected account (`bot.webhook_owners`). Every
`check_seconds` it asks Webex how our webhook is: one Webex disabled (`inactive`) or deleted
is not "registered" on the panel's card (and is registered again on the next round).
De-duplication and own-post rows are pruned once a day: a
delivery older than the replay window can no longer arrive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from tokenbot.bot.bookkeeping import ErrorHook
from tokenbot.bot.identity import IdentityCache
from tokenbot.bot.loop import Repeater
from tokenbot.bot.webhook_owners import AccountLister
from tokenbot.bot.webhook_owners import WebhookJanitor
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.errors import TokenbotError

__all__ = ["Upkeep"]

log = logging.getLogger(__name__)

KEEP_IDS_FOR = timedelta(days=7)
PRUNE_EVERY_SECONDS = 86_400.0


class Upkeep:
    """A thread running `run_once` every `interval_seconds` until `stop`.

    Args:
        state: The bot state: whether the webhook is registered, the ids to prune.
        identity: The bot identity (re-read each round: the admin may pick another).
        register_webhook: Registers our webhook for the current identity; None when the bot
            needs no webhook (polling intake, or no public URL).
        on_error: The bot's error hook, told of every failed registration.
        check_webhook: Asks Webex how our webhook is (every `check_seconds`); None: never.
        janitor: Deletes our webhooks of accounts the bot no longer acts as; None: never.
        accounts: Where the janitor finds the other connected accounts (strays at start).
        interval_seconds: Pause between two rounds.
        keep_ids_for: How long processed and posted message ids are kept.
        prune_every_seconds: Pause between two prunings.
        check_seconds: Pause between two checks of our webhook at Webex.
        monotonic: Time source for the pruning schedule (tests pass a fake).
    """

    def __init__(
        self,
        state: BotStateStore,
        identity: IdentityCache,
        *,
        register_webhook: Callable[[], object] | None,
        on_error: ErrorHook,
        check_webhook: Callable[[], object] | None = None,
        janitor: WebhookJanitor | None = None,
        accounts: AccountLister | None = None,
        interval_seconds: float = 2.0,
        keep_ids_for: timedelta = KEEP_IDS_FOR,
        prune_every_seconds: float = PRUNE_EVERY_SECONDS,
        check_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._state = state
        self._identity = identity
        self._register_webhook = register_webhook
        self._on_error = on_error
        self._check_webhook = check_webhook
        self._janitor = janitor
        self._accounts = accounts
        self.interval_seconds = interval_seconds
        self._keep_ids_for = keep_ids_for
        self._prune_every_seconds = prune_every_seconds
        self._monotonic = monotonic
        self._pruned_at: float | None = None
        self._registered_for: str | None = None
        self._registered_account: int | None = None
        self._swept = False
        self.check_seconds = check_seconds
        self._checked_at: float | None = None
        self._loop = Repeater("bot-upkeep", interval_seconds, self.run_once)

    def start(self) -> None:
        """Run one round now (before returning), then every `interval_seconds` on a thread."""
        self.run_once()
        self._loop.start(pause_first=True)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and wait for the running round."""
        self._loop.stop(timeout)

    def run_once(self) -> None:
        """Register the webhook if it is due, prune if due; never raises."""
        try:
            self._register_if_needed()
        except TokenbotError as error:
            log.error("webhook registration failed: %s", error)
            self._on_error(f"webhook registration failed: {error.code}")
        except Exception as error:  # keep the thread alive; the cause is in the log
            log.exception("webhook registration failed")
            self._on_error(f"webhook registration failed: {type(error).__name__}")
        now = self._monotonic()
        if self._pruned_at is None or now - self._pruned_at >= self._prune_every_seconds:
            try:
                removed = self._state.prune(self._keep_ids_for)
                self._pruned_at = now
                if removed:
                    log.info("pruned %d old message id(s)", removed)
            except Exception:
                log.exception("pruning old message ids failed")

    def _register_if_needed(self) -> None:
        if self._register_webhook is None:
            return
        # Read the store, not the cache: a connect in the panel should reach Webex in seconds.
        self._identity.invalidate()
        identity = self._identity.get()
        registered = bool(self._state.value("webhook_registered"))
        if identity is None:
            if registered:
                # The identity was disconnected (its webhook went before its token did).
                self._state.set_values({"webhook_registered": False, "webhook_id": None})
            return
        janitor = self._janitor
        if janitor is not None and not self._swept and self._accounts is not None:
            janitor.remove_strays(self._accounts, keep=identity.account_id)
            self._swept = True
        if registered and self._registered_for == identity.person_id:
            self._check_if_due()
            return
        old = self._registered_account
        if janitor is not None and old is not None and old != identity.account_id:
            try:
                janitor.remove(old)
            except TokenbotError as error:
                log.warning("could not remove the former identity's webhook: %s", error)
        self._register_webhook()
        self._registered_for = identity.person_id
        self._registered_account = identity.account_id
        self._checked_at = self._monotonic()

    def _check_if_due(self) -> None:
        now = self._monotonic()
        if self._checked_at is not None and now - self._checked_at < self.check_seconds:
            return
        self._checked_at = now
        if self._check_webhook is not None:
            self._check_webhook()
