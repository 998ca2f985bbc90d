"""The intake queue: every way a message arrives ends here, on the bounded worker pool.

Webhook deliveries carry only a message id (the worker fetches the message); polling hands
over messages it already fetched. Both are refused when the queue is full, so the caller can
answer 503 (webhook) or stop its round (polling) instead of piling up work.

Before anything is queued, `Screen` decides from the event's metadata alone (no Webex call)
what the bot will ignore whatever the message says: its own posts, other people's messages
where no command is open to them, and other people's messages beyond flood control's buckets
(`bot.flood`). The user's own messages jump the queue.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from tokenbot.bot.bookkeeping import Bookkeeper
from tokenbot.bot.dispatch import Dispatcher
from tokenbot.bot.flood import FloodControl
from tokenbot.bot.identity import IdentityCache
from tokenbot.bot.message import Message
from tokenbot.bot.metrics import BotMetrics
from tokenbot.bot.pool import WorkerPool
from tokenbot.bot.router import Router
from tokenbot.core.botstate import BotStateStore

__all__ = ["IntakeQueue", "Screen"]


class Screen:
    """Decide from an event's metadata alone whether to ignore it; costs no Webex call.

    Args:
        identity: Who the bot is (the user is never throttled).
        state: Knows our own posts by id.
        router: Which commands are open to a sender in a space.
        flood: The buckets others' messages pass.
        metrics: Counts throttled messages by bucket.
        books: Counts throttled messages in the bot state.
    """

    def __init__(
        self,
        *,
        identity: IdentityCache,
        state: BotStateStore,
        router: Router,
        flood: FloodControl,
        metrics: BotMetrics,
        books: Bookkeeper,
    ) -> None:
        self._identity = identity
        self._state = state
        self._router = router
        self._flood = flood
        self._metrics = metrics
        self._books = books

    def is_owner(self, person_id: str) -> bool:
        """Return whether `person_id` is the user the bot acts as."""
        me = self._identity.get()
        return me is not None and person_id == me.person_id

    def check(self, message_id: str, person_id: str, email: str, room_id: str) -> str | None:
        """Return why the message is ignored (`own_post`, `no_command_open`, `throttled`).

        None: go on. Ignored are our own posts (known by id), anyone else's message in a space
        outside `bot.allowed_spaces` or from a sender for whom no command is open, and anyone
        else's message beyond their or their space's flood bucket (counted).
        """
        me = self._identity.get()
        if me is None:
            return None  # the dispatcher says why nothing can happen
        if person_id == me.person_id:
            return "own_post" if self._state.is_own_post(message_id) else None
        if not self._router.open_commands(email=email, room_id=room_id, is_owner=False):
            return "no_command_open"
        # By person id first: a card press's envelope carries no email, and one sender's
        # messages and presses must spend from the same bucket.
        refused = self._flood.admit(person_id or email, room_id)
        if refused is not None:
            self._metrics.throttled.labels(scope=refused).inc()
            self._books.count("messages", outcome="throttled")
            return "throttled"
        return None


class IntakeQueue:
    """Screen messages, then queue them for the dispatcher on `pool` (gauge kept current).

    Args:
        pool: The worker pool messages are processed on.
        dispatcher: What processes each message.
        metrics: Holds the queue-depth gauge and the delivery outcomes.
        screen: What is ignored before any Webex call.
        monotonic: Stamps the arrival time (latency is measured from it).
    """

    def __init__(
        self,
        pool: WorkerPool,
        dispatcher: Dispatcher,
        metrics: BotMetrics,
        screen: Screen,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._dispatcher = dispatcher
        self._metrics = metrics
        self.screen = screen
        self._monotonic = monotonic

    def submit_id(self, message_id: str, *, intake: str, urgent: bool = False) -> bool:
        """Queue a message known by id (webhook, already screened); False when full.

        `urgent` (the user's own message) jumps the queue.
        """
        accepted = self._pool.submit(
            functools.partial(self.process_id, urgent=urgent),
            message_id,
            intake,
            self._monotonic(),
            urgent=urgent,
        )
        self._metrics.queue_depth.set(self._pool.pending())
        return accepted

    def submit_message(self, message: Message, *, intake: str) -> bool:
        """Screen and queue a fetched message (polling); False when the queue is full."""
        return self.admit_message(message, intake=intake) != "queue_full"

    def admit_message(self, message: Message, *, intake: str) -> str:
        """Screen and queue a fetched message; return ``queued``, ``queue_full`` or why skipped.

        The reconciliation tells from it which messages the intake should have delivered
        (those the screen lets through: the intake would have claimed them).
        """
        skipped = self.screen.check(
            message.id, message.person_id, message.person_email, message.room_id
        )
        if skipped is not None:
            self._metrics.deliveries.labels(intake=intake, outcome=skipped).inc()
            return skipped
        urgent = self.screen.is_owner(message.person_id)
        accepted = self._pool.submit(
            self.process, message, intake, self._monotonic(), urgent=urgent
        )
        self._metrics.queue_depth.set(self._pool.pending())
        return "queued" if accepted else "queue_full"

    def submit_card_action(self, action_id: str, *, intake: str) -> bool:
        """Queue a card submit known by id (webhook, websocket); False when the queue is full."""
        accepted = self._pool.submit(self.process_card_action, action_id, intake, self._monotonic())
        self._metrics.queue_depth.set(self._pool.pending())
        return accepted

    def process_card_action(self, action_id: str, intake: str, received_at: float) -> str:
        """Process a card submit now; return the outcome (never raises)."""
        outcome = self._dispatcher.process_card_action(action_id, intake, received_at)
        self._metrics.queue_depth.set(self._pool.pending())
        return outcome

    def process_id(
        self, message_id: str, intake: str, received_at: float, *, urgent: bool = False
    ) -> str:
        """Fetch a message and process it now; return the outcome."""
        outcome = self._dispatcher.process_id(message_id, intake, received_at, urgent=urgent)
        self._metrics.queue_depth.set(self._pool.pending())
        return outcome

    def process(self, message: Message, intake: str, received_at: float | None = None) -> str:
        """Process `message` now; return the outcome (never raises)."""
        outcome = self._dispatcher.process(message, intake, received_at)
        self._metrics.queue_depth.set(self._pool.pending())
        return outcome
