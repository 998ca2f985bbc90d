"""The intake queue: every way a message arrives ends here, on the bounded worker pool.

Webhook deliveries carry only a message id (the worker fetches the message); polling hands
over messages it already fetched. Both are refused when the queue is full, so the caller can
answer 503 (webhook) or stop its round (polling) instead of piling up work.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tokenbot.bot.dispatch import Dispatcher
from tokenbot.bot.message import Message
from tokenbot.bot.metrics import BotMetrics
from tokenbot.bot.pool import WorkerPool

__all__ = ["IntakeQueue"]


class IntakeQueue:
    """Queue messages for the dispatcher on `pool`, keeping the queue-depth gauge current.

    Args:
        pool: The worker pool messages are processed on.
        dispatcher: What processes each message.
        metrics: Holds the queue-depth gauge.
        monotonic: Stamps the arrival time (latency is measured from it).
    """

    def __init__(
        self,
        pool: WorkerPool,
        dispatcher: Dispatcher,
        metrics: BotMetrics,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._monotonic = monotonic

    def submit_id(self, message_id: str, *, intake: str) -> bool:
        """Queue a message known by id (webhook); False when the queue is full."""
        accepted = self._pool.submit(self.process_id, message_id, intake, self._monotonic())
        self._metrics.queue_depth.set(self._pool.pending())
        return accepted

    def submit_message(self, message: Message, *, intake: str) -> bool:
        """Queue a fetched message (polling); False when the queue is full."""
        accepted = self._pool.submit(self.process, message, intake, self._monotonic())
        self._metrics.queue_depth.set(self._pool.pending())
        return accepted

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

    def process_id(self, message_id: str, intake: str, received_at: float) -> str:
        """Fetch a message and process it now; return the outcome."""
        outcome = self._dispatcher.process_id(message_id, intake, received_at)
        self._metrics.queue_depth.set(self._pool.pending())
        return outcome

    def process(self, message: Message, intake: str, received_at: float | None = None) -> str:
        """Process `message` now; return the outcome (never raises)."""
        outcome = self._dispatcher.process(message, intake, received_at)
        self._metrics.queue_depth.set(self._pool.pending())
        return outcome
