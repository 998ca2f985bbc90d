"""Build the framework-free parts from one `Settings`, in one place.

The panel, the bot and the command line all need the same database, cipher, store, OAuth client
and token service. `build_runtime` makes them once per process; nothing here starts a thread or
a scheduler (that is the process wiring's decision, docs/architecture.md "Processes").
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta

from tokenbot.core.clock import Clock
from tokenbot.core.clock import SystemClock
from tokenbot.core.config import Settings
from tokenbot.core.config import notify_secret_key
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.db import Database
from tokenbot.core.db import upgrade
from tokenbot.core.notify import Dispatcher
from tokenbot.core.notify import DispatchReport
from tokenbot.core.notify import Outbox
from tokenbot.core.notify import Sender
from tokenbot.core.notify import WebhookSender
from tokenbot.core.notify import targets_from
from tokenbot.core.notify_webex import WebexSender
from tokenbot.core.oauth import WebexOAuthClient
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.probe import ProbeReport
from tokenbot.core.probe import probe_accounts
from tokenbot.core.refresher import make_owner
from tokenbot.core.relink import RelinkLinks
from tokenbot.core.relink import notification_links
from tokenbot.core.rotation import verify_keys
from tokenbot.core.store import TokenStore
from tokenbot.core.sweep import SweepReport
from tokenbot.core.sweep import sweep
from tokenbot.core.token_service import TokenService

__all__ = ["Runtime", "build_runtime", "oauth_client_from", "policy_from"]

log = logging.getLogger(__name__)

_PURGE_EVERY = timedelta(hours=1)
_LOGINS_KEPT = timedelta(days=1)
_NOTIFY_KEPT = timedelta(days=7)


@dataclass(eq=False)
class Runtime:
    """The parts one process shares, built from one `Settings`.

    Attributes:
        settings: The validated settings everything was built from.
        clock: The time source (a `FrozenClock` in tests).
        database: Engines and transactions.
        cipher: Encrypts token material at rest.
        policy: Refresh-ahead and back-off arithmetic.
        store: Accounts, grants, events and pending logins.
        oauth: The Webex OAuth client.
        tokens: Valid access tokens on demand (refreshing inline when due).
        owner: This process's name in leases and events.
        stopping: Set when the process shuts down; a running sweep starts no new refresh.
        outbox: Lifecycle notifications written with each state change (core.notify).
        dispatcher: Delivers the outbox (any instance may run it).
    """

    settings: Settings
    clock: Clock
    database: Database
    cipher: TokenCipher
    policy: RefreshPolicy
    store: TokenStore
    oauth: WebexOAuthClient
    tokens: TokenService
    owner: str = field(default_factory=make_owner)
    stopping: threading.Event = field(default_factory=threading.Event)
    outbox: Outbox | None = None
    dispatcher: Dispatcher | None = None
    _purged_at: datetime | None = field(default=None, repr=False)
    _notify_purged_at: datetime | None = field(default=None, repr=False)

    def deliver_notifications(self) -> DispatchReport:
        """Send every due notification (the notify job); forget week-old ones once an hour."""
        if self.dispatcher is None or self.outbox is None:
            return DispatchReport()
        now = self.clock.now()
        if self._notify_purged_at is None or now - self._notify_purged_at >= _PURGE_EVERY:
            try:
                self.outbox.purge(now - _NOTIFY_KEPT)
            except Exception:  # housekeeping must never cost a delivery
                log.exception("could not purge old notifications")
            self._notify_purged_at = now
        return self.dispatcher.run()

    def sweep(self) -> SweepReport:
        """Refresh every due account once, as the scheduler's job does.

        Once an hour it also forgets pending logins older than a day (a login state is only
        valid for ten minutes; the rows only grow otherwise).
        """
        now = self.clock.now()
        if self._purged_at is None or now - self._purged_at >= _PURGE_EVERY:
            try:
                self.store.purge_logins(now - _LOGINS_KEPT)
            except Exception:  # housekeeping must never cost a sweep
                log.exception("could not purge old pending logins")
            self._purged_at = now
        refresh = self.settings.refresh
        report = sweep(
            self.store,
            self.oauth,
            clock=self.clock,
            policy=self.policy,
            owner=self.owner,
            max_workers=refresh.max_concurrency,
            lease_seconds=refresh.lease_seconds,
            stop=self.stopping,
        )
        for outcome in report.outcomes:
            if outcome.result != "fresh":
                self.tokens.forget(outcome.account_id)  # this process uses the new token now
        return report

    def probe(self) -> ProbeReport:
        """Verify the active accounts' tokens at Webex (the probe job; core.probe)."""
        return probe_accounts(
            self.store,
            self.tokens,
            self.oauth,
            clock=self.clock,
            batch=self.settings.refresh.probe_batch,
            stop=self.stopping,
        )

    def close(self) -> None:
        """Release the database connections."""
        self.database.dispose()


def policy_from(settings: Settings) -> RefreshPolicy:
    """Return the refresh policy the `refresh` section describes."""
    refresh = settings.refresh
    return RefreshPolicy(
        margin_seconds=refresh.margin_seconds,
        keepalive_hours=refresh.keepalive_hours,
        refresh_token_warning_days=refresh.refresh_token_warning_days,
        backoff_base_seconds=refresh.backoff_base_seconds,
        backoff_max_seconds=refresh.backoff_max_seconds,
        min_token_validity_seconds=refresh.min_token_validity_seconds,
        expiry_skew_seconds=refresh.expiry_skew_seconds,
    )


def oauth_client_from(settings: Settings) -> WebexOAuthClient:
    """Return the Webex OAuth client the `webex` section and the secrets describe."""
    webex = settings.webex
    return WebexOAuthClient(
        client_id=webex.client_id.reveal(),
        client_secret=webex.client_secret.reveal(),
        authorize_url=webex.authorize_url,
        token_url=webex.token_url,
        api_base_url=webex.api_base_url,
        redirect_uri=webex.redirect_uri,
        scopes=webex.scopes,
        timeout_seconds=webex.timeout_seconds,
        token_auth_method=webex.token_auth_method,
    )


def _notifications(
    settings: Settings, database: Database, clock: Clock, owner: str
) -> tuple[Outbox, Dispatcher]:
    """Build the outbox (always: it tracks announced states) and its dispatcher."""
    notify = settings.notify
    extra = None
    if notify.include_relink_link:
        links = RelinkLinks(database, clock=clock)
        extra = notification_links(
            links, base_url=settings.panel.url, minutes=notify.relink_minutes
        )
    outbox = Outbox(
        database, targets_from(notify.webhooks, notify.webex), clock=clock, extra_data=extra
    )
    senders: dict[str, Sender] = {}
    if notify.secret is not None:
        key = notify_secret_key(notify.secret.reveal())
        senders["webhook"] = WebhookSender(key, timeout_seconds=notify.timeout_seconds)
    dispatcher = Dispatcher(
        outbox,
        senders,
        clock=clock,
        owner=owner,
        lease_seconds=notify.lease_seconds,
        give_up_hours=notify.give_up_hours,
    )
    return outbox, dispatcher


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
    check_keys: bool = True,
) -> Runtime:
    """Build the shared parts of one process from `settings`.

    Args:
        settings: Validated settings (`core.config.load_settings`).
        clock: The time source; the system clock unless a test passes a frozen one.
        migrate: Bring the database schema to the newest migration first (idempotent). Every
            process may do it: a database-wide lock makes a second run a no-op.
        check_keys: Refuse to build when the keys cannot open the stored tokens (the service
            does; maintenance commands skip it so an operator can still repair and disconnect).

    Returns:
        The runtime; call `close()` when the process ends.

    Raises:
        CryptoError: TOKENBOT_ENCRYPTION_KEYS cannot open the stored tokens (wrong or missing
            key); the message names the key id.
    """
    clock = clock or SystemClock()
    if migrate:
        upgrade(settings.database.url)
    database = Database(
        settings.database.url, busy_timeout_seconds=settings.database.busy_timeout_seconds
    )
    cipher = settings.cipher()
    if check_keys:
        try:
            # A wrong or missing key must stop the service now, not fail every refresh later.
            verify_keys(database, cipher)
        except BaseException:
            database.dispose()
            raise
    policy = policy_from(settings)
    owner = make_owner()
    store = TokenStore(database, cipher, clock=clock, policy=policy, owner=owner)
    oauth = oauth_client_from(settings)
    tokens = TokenService(
        store,
        oauth,
        clock=clock,
        policy=policy,
        owner_prefix="tokenbot",
        lease_seconds=settings.refresh.lease_seconds,
    )
    outbox, dispatcher = _notifications(settings, database, clock, owner)
    store.rows.on_event = outbox.on_account_event
    webex_target = settings.notify.webex
    if webex_target is not None:
        dispatcher.senders["webex"] = WebexSender(
            store,
            tokens,
            api_base_url=settings.webex.api_base_url,
            room_id=webex_target.room_id,
            person_email=webex_target.person_email,
            clock=clock,
            timeout_seconds=settings.notify.timeout_seconds,
        )
    return Runtime(
        outbox=outbox,
        dispatcher=dispatcher,
        settings=settings,
        clock=clock,
        database=database,
        cipher=cipher,
        policy=policy,
        store=store,
        oauth=oauth,
        tokens=tokens,
        owner=owner,
    )
