"""After a re-login, answer what arrived while the bot identity's token was dead.

A message or card press that met a dead token before its command started is kept by id
(`core.reauth_waiting`, by the dispatcher). Every `interval_seconds` the replayer looks: while
something waits and the bot identity is usable again (its status no longer `needs_reauth`:
the admin's Reconnect, in the panel or through a relink link, set it `active`), it takes each
row (a delete: of two instances, one gets it) and puts it on the worker pool, oldest first,
where it is fetched and processed as it would have been. The dispatcher's late rule applies:
a command older than `bot.late_command_seconds` is not run, its sender is told to send it
again. If the token dies again on the way, the dispatcher keeps it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tokenbot.bot.identity import IdentityCache
from tokenbot.bot.intake import IntakeQueue
from tokenbot.bot.loop import Repeater
from tokenbot.bot.pool import WorkerPool
from tokenbot.core.models import AccountStatus
from tokenbot.core.reauth_waiting import Waiting
from tokenbot.core.reauth_waiting import WaitingCommands

__all__ = ["Replayer"]

log = logging.getLogger(__name__)

_UNUSABLE = frozenset({AccountStatus.NEEDS_REAUTH.value, AccountStatus.DISCONNECTED.value})


class Replayer:
    """Put kept messages back on the worker pool once the bot identity works again.

    Args:
        waiting: The kept messages and card presses (shared by every instance).
        identity: The bot identity: its status says whether the token is usable.
        pool: Where the kept ones are processed (bounded: a full pool ends the round).
        intake: Fetches and processes one by id.
        interval_seconds: Pause between two looks.
        batch: The most taken in one round.
        monotonic: Stamps the replay's start (the latency metric).
    """

    def __init__(
        self,
        waiting: WaitingCommands,
        identity: IdentityCache,
        pool: WorkerPool,
        intake: IntakeQueue,
        *,
        interval_seconds: float = 2.0,
        batch: int = 20,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._waiting = waiting
        self._identity = identity
        self._pool = pool
        self._intake = intake
        self._batch = batch
        self._monotonic = monotonic
        self._loop = Repeater("bot-replay", interval_seconds, self.run_once)

    def start(self) -> None:
        """Look every `interval_seconds` on a thread until `stop`."""
        self._loop.start(pause_first=True)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and wait for the running round."""
        self._loop.stop(timeout)

    def run_once(self) -> int:
        """Queue what waits if the identity is usable; return how many were queued."""
        items = self._waiting.oldest(self._batch)
        if not items:
            return 0
        me = self._identity.get()
        if me is None or me.status in _UNUSABLE:
            return 0
        queued = 0
        for item in items:
            if not self._waiting.take(item.item_id):
                continue  # another instance (or round) has it
            if not self._pool.submit(self._answer, item, self._monotonic(), urgent=item.urgent):
                # The pool is full: back it goes, for the next round.
                self._waiting.keep(
                    item.item_id, kind=item.kind, intake=item.intake, urgent=item.urgent
                )
                break
            queued += 1
        if queued:
            log.info("answering %d message(s) that waited for the re-login", queued)
        return queued

    def _answer(self, item: Waiting, received_at: float) -> str:
        if item.kind == "card":
            return self._intake.process_card_action(item.item_id, item.intake, received_at)
        return self._intake.process_id(item.item_id, item.intake, received_at, urgent=item.urgent)
