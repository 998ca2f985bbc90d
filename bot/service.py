"""The bot: wires its parts together and starts and stops them.

Each part does one job and gets only what it needs:

- `intake.IntakeQueue`: every way a message arrives ends on the bounded worker pool, after
  `intake.Screen` dropped (with no Webex call) what the bot ignores anyway: its own posts,
  others' messages where no command is open to them or beyond flood control (`flood`).
- `dispatch.Dispatcher`: a message to a command run and its reply; the one error handler.
- `posting.Poster`: posts as the user and remembers the posts, so the bot never answers itself;
  every reply is escaped there (`markup`).
- `bookkeeping.Bookkeeper`: counters and errors in the bot state (the panel reads them).
- `polling.Poller`, `upkeep.Upkeep`, `registration.ensure_webhook`: the intake's background
  work (finding new messages; keeping the webhook registered and old ids pruned; with
  `webhook_owners.WebhookJanitor`, deleting our webhooks of accounts the bot no longer acts as).
- `replay.Replayer`: after a re-login, answers what met the dead token (kept by the dispatcher
  in `core.reauth_waiting`).

Every part reports a failure it survived through one hook, `Bot.record_error`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from tokenbot.bot.bookkeeping import Bookkeeper
from tokenbot.bot.client import WebexClient
from tokenbot.bot.command_context import CommandServices
from tokenbot.bot.dispatch import Dispatcher
from tokenbot.bot.files import FileFetcher
from tokenbot.bot.flood import FloodControl
from tokenbot.bot.heal import IntakeHealer
from tokenbot.bot.heal import StateHook
from tokenbot.bot.identity import IdentityCache
from tokenbot.bot.intake import IntakeQueue
from tokenbot.bot.intake import Screen
from tokenbot.bot.message import Message
from tokenbot.bot.metrics import BotMetrics
from tokenbot.bot.options import BotOptions
from tokenbot.bot.polling import Poller
from tokenbot.bot.pool import WorkerPool
from tokenbot.bot.posting import Poster
from tokenbot.bot.registration import RegisteredWebhook
from tokenbot.bot.registration import check_webhook
from tokenbot.bot.registration import ensure_webhook
from tokenbot.bot.reminders import Reminders
from tokenbot.bot.replay import Replayer
from tokenbot.bot.router import Router
from tokenbot.bot.upkeep import Upkeep
from tokenbot.bot.webhook_owners import AccountLister
from tokenbot.bot.webhook_owners import WebhookJanitor
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.clock import Clock
from tokenbot.core.reauth_waiting import WaitingCommands

if TYPE_CHECKING:
    from tokenbot.bot.websocket_intake import WebsocketIntake

__all__ = ["Bot"]


class Bot:
    """The chat bot on the bot identity's token.

    Build it with `bot.create_bot(...)`; `start()` starts the workers, reminders and the
    configured intake; `stop()` stops them.
    """

    def __init__(
        self,
        *,
        options: BotOptions,
        client: WebexClient,
        identity: IdentityCache,
        state: BotStateStore,
        router: Router,
        metrics: BotMetrics,
        clock: Clock,
        monotonic: Callable[[], float] = time.monotonic,
        janitor: WebhookJanitor | None = None,
        accounts: AccountLister | None = None,
        waiting: WaitingCommands | None = None,
    ) -> None:
        self.options = options
        self.client = client
        self.identity = identity
        self.state = state
        self.router = router
        self.metrics = metrics
        self.clock = clock
        self._monotonic = monotonic
        self.books = Bookkeeper(state, clock, monotonic=monotonic)
        self.poster = Poster(client, state, identity)
        self.pool = WorkerPool(options.workers, options.queue_size)
        self.reminders = Reminders(
            self.poster.deliver_reminder, max_per_sender=options.reminders_per_sender
        )
        self.flood = FloodControl(
            sender_burst=options.sender_burst,
            sender_per_minute=options.sender_per_minute,
            space_burst=options.space_burst,
            space_per_minute=options.space_per_minute,
            others_burst=options.others_burst,
            others_per_minute=options.others_per_minute,
            monotonic=monotonic,
        )
        self.services = CommandServices(
            client=client,
            poster=self.poster,
            router=router,
            reminders=self.reminders,
            state=state,
            identities=identity,
            clock=clock,
            options=options,
            files=FileFetcher(
                api_base_url=options.api_base_url,
                token=lambda: client.bearer(),
                max_bytes=options.file_max_bytes,
                types=options.file_types,
                budget_seconds=options.file_fetch_budget_seconds,
                allow_unscannable=options.file_allow_unscannable,
            ),
        )
        self.dispatcher = Dispatcher(
            self.services,
            books=self.books,
            metrics=metrics,
            on_error=self.record_error,
            waiting=waiting,
            monotonic=monotonic,
        )
        self.screener = Screen(
            identity=identity,
            state=state,
            router=router,
            flood=self.flood,
            metrics=metrics,
            books=self.books,
        )
        self.intake = IntakeQueue(
            self.pool, self.dispatcher, metrics, self.screener, monotonic=monotonic
        )
        # Delete our webhooks of accounts the bot no longer acts as (`create_bot` sets them).
        self.janitor = janitor
        self.accounts = accounts
        self.webhook = RegisteredWebhook(state, monotonic=monotonic)
        self.card_webhook = RegisteredWebhook(state, monotonic=monotonic, key="card_webhook_id")
        self.poller: Poller | None = None
        self.upkeep: Upkeep | None = None
        self.websocket: WebsocketIntake | None = None  # set by create_bot for websocket intake
        self.healer: IntakeHealer | None = None
        # Told "down"/"up" by the healer; the process wires it to the notifications.
        self.on_intake_state: StateHook | None = None
        # What met a dead token, answered after the re-login (`create_bot` sets the store).
        self.waiting = waiting
        self.replayer = (
            Replayer(waiting, identity, self.pool, self.intake, monotonic=monotonic)
            if waiting is not None
            else None
        )
        self.started_at = clock.now()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers, the reminders, the upkeep (webhook registration) and polling."""
        self.pool.start()
        self.reminders.start()
        values: dict[str, Any] = {
            "mode": self.options.intake,
            "intake_reason": self.options.intake_reason,
            "started_at": self.started_at.isoformat(),
        }
        if self.options.intake in ("polling", "websocket"):
            values["webhook_registered"] = False
        self.state.set_values(values)
        if self.options.intake == "polling":
            self.poller = self.build_poller()
            self.poller.start()
        if self.websocket is not None:
            self.websocket.start()
        # Registers our webhook as soon as there is a bot identity, and again when it changes.
        self.upkeep = self.build_upkeep()
        self.upkeep.start()
        webhook = self.options.intake == "webhook" and self.options.webhook_url is not None
        if webhook or self.websocket is not None:
            # Websocket: the same reconciliation and silence watch, on the listener's instance.
            listener = self.websocket
            self.healer = IntakeHealer(
                self,
                check_webhook=webhook,
                listening=(lambda: listener.holds_lease) if listener else None,
                connected=(lambda: listener.connected) if listener else None,
                check_seconds=self.options.webhook_check_seconds,
                reconcile_seconds=self.options.reconcile_interval_seconds,
                on_state=self.on_intake_state,
                silence_grace_seconds=self.options.silence_grace_seconds,
                silence_misses=self.options.silence_misses,
                monotonic=self._monotonic,
            )
            self.healer.start()
        if self.replayer is not None:
            self.replayer.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop intake, let queued messages finish, stop workers and reminders, flush counters.

        Every part shares one deadline: the whole stop takes at most `timeout` seconds.
        """
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(0.1, deadline - time.monotonic())

        if self.upkeep is not None:
            self.upkeep.stop(left())
        if self.healer is not None:
            self.healer.stop(left())
        if self.poller is not None:
            self.poller.stop(left())
        if self.websocket is not None:
            self.websocket.stop(left())
        if self.replayer is not None:
            self.replayer.stop(left())
        self.pool.stop(left())
        self.reminders.stop(left())
        self.flush(force=True)

    def build_poller(
        self,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        submit: Callable[[Message], bool] | None = None,
    ) -> Poller:
        """Return a poller (not started) feeding this bot's intake queue (or `submit`)."""
        options = self.options
        return Poller(
            self.client,
            self.state,
            self.identity,
            submit or functools.partial(self.intake.submit_message, intake="polling"),
            on_error=self.record_error,
            clock=self.clock,
            interval_seconds=options.poll_interval_seconds,
            rooms=options.poll_rooms,
            budget_per_minute=options.poll_api_budget_per_minute,
            monotonic=monotonic,
        )

    def build_upkeep(self, *, monotonic: Callable[[], float] = time.monotonic) -> Upkeep:
        """Return the upkeep (not started): webhook registration (webhook intake), pruning."""
        wants_webhook = self.options.intake == "webhook" and self.options.webhook_url is not None
        return Upkeep(
            self.state,
            self.identity,
            register_webhook=self.register_webhook if wants_webhook else None,
            on_error=self.record_error,
            check_webhook=self.check_webhook if wants_webhook else None,
            janitor=self.janitor if wants_webhook else None,
            accounts=self.accounts,
            monotonic=monotonic,
        )

    # -- intake ------------------------------------------------------------------------------

    def submit_id(self, message_id: str, *, intake: str, urgent: bool = False) -> bool:
        """Queue a message known by id (webhook); False when the queue is full.

        `urgent` (the user's own message) jumps the queue.
        """
        return self.intake.submit_id(message_id, intake=intake, urgent=urgent)

    def submit_message(self, message: Message, *, intake: str) -> bool:
        """Screen and queue a fetched message (polling); False when the queue is full."""
        return self.intake.submit_message(message, intake=intake)

    def is_owner(self, person_id: str) -> bool:
        """Return whether `person_id` is the user the bot acts as."""
        return self.screener.is_owner(person_id)

    def screen(self, message_id: str, person_id: str, email: str, room_id: str) -> str | None:
        """Decide from a push event's metadata alone whether to ignore it; None: go on.

        A message flood control drops is claimed (source ``throttled``: one insert, no Webex
        call), so neither the background reconciliation, reading the space later with a
        refilled bucket, nor another instance answers a flood's leftovers in old threads.
        """
        skipped = self.screener.check(message_id, person_id, email, room_id)
        if skipped == "throttled":
            self.state.claim_message(message_id, source="throttled")
        return skipped

    def process_id(self, message_id: str, intake: str, received_at: float) -> str:
        """Fetch a message (deliveries carry no text) and process it; return the outcome."""
        return self.intake.process_id(message_id, intake, received_at)

    def process(self, message: Message, intake: str, received_at: float | None = None) -> str:
        """Decide what `message` is and act on it; return the outcome (never raises)."""
        return self.intake.process(message, intake, received_at)

    # -- webhook -----------------------------------------------------------------------------

    def register_webhook(self) -> str | None:
        """Create or update our webhook for the current identity; return its id."""
        options = self.options
        webhook_id = ensure_webhook(
            self.client,
            self.state,
            name=options.webhook_name,
            target_url=options.webhook_url,
            secret=options.webhook_secret,
        )
        # Card submits come only by webhook (or websocket): Webex has no list to poll.
        ensure_webhook(
            self.client,
            self.state,
            name=options.webhook_name,
            target_url=options.webhook_url,
            secret=options.webhook_secret,
            resource="attachmentActions",
        )
        self.webhook.forget()
        self.card_webhook.forget()
        return webhook_id

    def check_webhook(self) -> str:
        """Ask Webex how our webhook is; unless `active`, the panel stops saying registered."""
        return check_webhook(self.client, self.state, on_error=self.record_error)

    def registered_webhook_id(self) -> str | None:
        """Return the id of the webhook we registered (cached briefly), or None."""
        return self.webhook.id()

    def registered_card_webhook_id(self) -> str | None:
        """Return the id of our `attachmentActions` webhook (cached briefly), or None."""
        return self.card_webhook.id()

    def submit_card_action(self, action_id: str, *, intake: str) -> bool:
        """Queue a card submit known by id; False when the queue is full.

        The caller screened and claimed it (`take_card_action` does both).
        """
        return self.intake.submit_card_action(action_id, intake=intake)

    def take_card_action(
        self,
        action_id: str,
        *,
        card_id: str,
        person_id: str,
        email: str,
        room_id: str,
        intake: str,
    ) -> str:
        """Screen, claim and queue a card submit from its event (webhook or websocket).

        Costs no Webex call. Return `accepted`, or why not: `card_not_our_card` (the card the
        event names is not one we posted), the screen's reasons (`throttled`,
        `no_command_open`), `duplicate` (this or another intake, here or on another instance,
        took the same submit already), `queue_full` (released again: the sender may retry).
        The dispatcher checks the card again on the fetched submit.
        """
        if not card_id or not self.state.is_own_post(card_id):
            self.books.count("card_actions", outcome="not_our_card")
            return "card_not_our_card"
        # Presses by anyone but the user pass the same screen as their messages, keyed by
        # person id (a webhook envelope has no email): one sender, one bucket.
        skipped = self.screen(action_id, person_id, email, room_id)
        if skipped is not None:
            return skipped
        if not self.state.claim_message(action_id, source=intake):
            return "duplicate"
        if not self.submit_card_action(action_id, intake=intake):
            self.state.release_message(action_id)
            return "queue_full"
        return "accepted"

    # -- posting and books -------------------------------------------------------------------

    def post(self, room_id: str, markdown: str, *, parent_id: str | None = None) -> list[Message]:
        """Post a reply as the user (split, escaped unless `Markdown`), remembering it as ours."""
        return self.poster.post(room_id, markdown, parent_id=parent_id)

    def reply(self, message: Message, markdown: str) -> list[Message]:
        """Answer `message` in its thread (mentioning nobody unless it is the user's)."""
        return self.poster.reply(message, markdown)

    def flush(self, *, force: bool = False) -> None:
        """Write counters and the last event time to the database (at most once a second)."""
        self.books.flush(force=force)

    def record_error(self, text: str, error_id: str | None = None) -> None:
        """The one error hook: keep an error in the bot state (for the panel); never raises."""
        self.books.record_error(text, error_id)
