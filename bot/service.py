"""The bot: turns a message into a command run and a reply, safely, and keeps its books.

One message goes through `process`:

1. Loop safety: a message the bot posted itself (known by id, or by content fingerprint while
   its post call is still in flight) is dropped. The bot posts *as the user*, so without this
   an `echo /echo` would run forever.
2. Recognition: a command starts with the prefix; in group spaces a leading mention of the user
   also works (and is stripped). Messages the user typed count only with the prefix.
3. Access, argument parsing, the handler, and the reply into the command's thread, split at
   Webex's byte limit.
4. One error handler: log with an error id, reply with the id, keep running.
"""

from __future__ import annotations

import difflib
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from tokenbot.bot.args import parse_args
from tokenbot.bot.client import WebexClient
from tokenbot.bot.command_context import CommandContext
from tokenbot.bot.flood import FloodControl
from tokenbot.bot.flood import Hints
from tokenbot.bot.identity import IdentityCache
from tokenbot.bot.markup import Markdown
from tokenbot.bot.markup import render_reply
from tokenbot.bot.markup import reply_parts
from tokenbot.bot.message import Message
from tokenbot.bot.metrics import BotMetrics
from tokenbot.bot.options import BotOptions
from tokenbot.bot.pool import WorkerPool
from tokenbot.bot.recognize import fingerprint
from tokenbot.bot.recognize import recognize
from tokenbot.bot.reminders import Reminder
from tokenbot.bot.reminders import Reminders
from tokenbot.bot.router import Command
from tokenbot.bot.router import Router
from tokenbot.bot.text import neutralize_mentions
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.clock import Clock
from tokenbot.core.errors import CommandArgumentError
from tokenbot.core.errors import NeedsReauth
from tokenbot.core.errors import TokenbotError

if TYPE_CHECKING:
    from tokenbot.bot.polling import Poller
    from tokenbot.bot.upkeep import Upkeep
    from tokenbot.bot.webhook_owners import AccountLister
    from tokenbot.bot.webhook_owners import WebhookJanitor

__all__ = ["Bot"]

log = logging.getLogger(__name__)
# Counters reach the database at most this often (each flush is a write transaction).
_FLUSH_SECONDS = 1.0
# Another instance may re-register the webhook; its id is re-read this often.
_WEBHOOK_ID_TTL = 10.0


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
    ) -> None:
        self.options = options
        self.client = client
        self.identity = identity
        self.state = state
        self.router = router
        self.metrics = metrics
        self.clock = clock
        self._monotonic = monotonic
        self.pool = WorkerPool(options.workers, options.queue_size)
        self.reminders = Reminders(
            self._deliver_reminder, max_per_sender=options.reminders_per_sender
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
        self.hints = Hints()
        self.poller: Poller | None = None
        self.upkeep: Upkeep | None = None
        self._counts: Counter[str] = Counter()
        self._last_event_at: str | None = None
        self._flushed_at = monotonic()
        self._counts_lock = threading.Lock()
        self.started_at = clock.now()
        self._webhook_id: tuple[float, str | None] | None = None
        # Set by `create_bot`: deletes our webhooks of accounts the bot no longer acts as.
        self.janitor: WebhookJanitor | None = None
        self.accounts: AccountLister | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers, the reminders, the upkeep (webhook registration) and polling."""
        from tokenbot.bot.polling import Poller
        from tokenbot.bot.upkeep import Upkeep

        self.pool.start()
        self.reminders.start()
        values: dict[str, Any] = {
            "mode": self.options.intake,
            "started_at": self.started_at.isoformat(),
        }
        if self.options.intake == "polling":
            values["webhook_registered"] = False
        self.state.set_values(values)
        if self.options.intake == "polling":
            self.poller = Poller(self)
            self.poller.start()
        # Registers our webhook as soon as there is a bot identity, and again when it changes.
        self.upkeep = Upkeep(self)
        self.upkeep.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop intake, let queued messages finish, stop workers and reminders, flush counters."""
        if self.upkeep is not None:
            self.upkeep.stop(timeout)
        if self.poller is not None:
            self.poller.stop(timeout)
        self.pool.stop(timeout)
        self.reminders.stop(timeout)
        self.flush(force=True)

    # -- intake ------------------------------------------------------------------------------

    def submit_id(self, message_id: str, *, intake: str, urgent: bool = False) -> bool:
        """Queue a message known by id (webhook); False when the queue is full.

        `urgent` (the user's own message) jumps the queue.
        """
        accepted = self.pool.submit(
            self.process_id, message_id, intake, self._monotonic(), urgent=urgent
        )
        self.metrics.queue_depth.set(self.pool.pending())
        return accepted

    def submit_message(self, message: Message, *, intake: str) -> bool:
        """Screen and queue a fetched message (polling); False when the queue is full."""
        skipped = self.screen(message.id, message.person_id, message.person_email, message.room_id)
        if skipped is not None:
            self.metrics.deliveries.labels(intake=intake, outcome=skipped).inc()
            return True
        urgent = self.is_owner(message.person_id)
        accepted = self.pool.submit(self.process, message, intake, self._monotonic(), urgent=urgent)
        self.metrics.queue_depth.set(self.pool.pending())
        return accepted

    def is_owner(self, person_id: str) -> bool:
        """Return whether `person_id` is the user the bot acts as."""
        me = self.identity.get()
        return me is not None and person_id == me.person_id

    def screen(self, message_id: str, person_id: str, email: str, room_id: str) -> str | None:
        """Decide from an event's metadata alone whether to ignore it; None: go on.

        Costs no Webex call. Ignored: our own posts (known by id), anyone else's message in
        a space outside `bot.allowed_spaces` or from a sender for whom no command is open, and
        anyone else's message beyond their or their space's flood bucket (counted).
        """
        me = self.identity.get()
        if me is None:
            return None  # `process` says why nothing can happen
        if person_id == me.person_id:
            return "own_post" if self.state.is_own_post(message_id) else None
        if not self.router.open_commands(email=email, room_id=room_id, is_owner=False):
            return "no_command_open"
        refused = self.flood.admit(email or person_id, room_id)
        if refused is not None:
            self.metrics.throttled.labels(scope=refused).inc()
            self._count("messages", outcome="throttled")
            return "throttled"
        return None

    def process_id(self, message_id: str, intake: str, received_at: float) -> str:
        """Fetch a message (deliveries carry no text) and process it; return the outcome."""
        try:
            message = self.client.get_message(message_id)
        except NeedsReauth as error:
            return self._needs_reauth(error, "fetch message")
        except TokenbotError as error:
            log.warning("could not fetch message for processing: %s", error)
            self.record_error(f"fetch message failed: {error.code}", None)
            self.metrics.deliveries.labels(intake=intake, outcome="fetch_failed").inc()
            return "fetch_failed"
        return self.process(message, intake, received_at)

    def process(self, message: Message, intake: str, received_at: float | None = None) -> str:
        """Decide what `message` is and act on it; return the outcome (never raises)."""
        received_at = self._monotonic() if received_at is None else received_at
        try:
            outcome = self._process(message, received_at)
        except NeedsReauth as error:
            outcome = self._needs_reauth(error, "process message")
        except Exception as error:  # the one error handler's last line: keep running
            error_id = secrets.token_hex(4)
            log.exception("bot failed on a message (error id %s)", error_id)
            self.record_error(f"{type(error).__name__} (error id {error_id})", error_id)
            outcome = "error"
        self.metrics.deliveries.labels(intake=intake, outcome=outcome).inc()
        self._count("messages", outcome=outcome)
        self.metrics.queue_depth.set(self.pool.pending())
        return outcome

    def registered_webhook_id(self) -> str | None:
        """Return the id of the webhook we registered (cached briefly), or None."""
        now = self._monotonic()
        cached = self._webhook_id
        if cached is None or now - cached[0] > _WEBHOOK_ID_TTL:
            value = self.state.value("webhook_id")
            cached = (now, str(value) if value else None)
            self._webhook_id = cached
        return cached[1]

    def forget_webhook_id(self) -> None:
        """Drop the cached webhook id (after registering)."""
        self._webhook_id = None

    # -- posting -----------------------------------------------------------------------------

    def post(self, room_id: str, markdown: str, *, parent_id: str | None = None) -> list[Message]:
        """Post a reply as the user (split if long), remembering every part as ours.

        Every post goes through `markup.reply_parts`: `Markdown` we built is posted as markup,
        any other text shows as the plain text it is (no link, image or mention).
        """
        posted = []
        for part in reply_parts(markdown):
            key = self.state.begin_post(room_id, fingerprint(room_id, part))
            try:
                message = self.client.post_message(room_id, part, parent_id=parent_id)
            except BaseException:
                self.state.abandon_post(key)
                raise
            self.state.finish_post(key, message.id)
            posted.append(message)
        return posted

    def reply(self, message: Message, markdown: str) -> list[Message]:
        """Answer `message` in its thread.

        A reply to anyone but the user mentions nobody: whatever text a command repeats, other
        people cannot make the user @mention a space (or everyone) in their name.
        """
        me = self.identity.get()
        if isinstance(markdown, Markdown) and (me is None or message.person_id != me.person_id):
            markdown = Markdown(neutralize_mentions(markdown))  # plain text: `post` escapes
        return self.post(message.room_id, markdown, parent_id=message.thread_id)

    # -- bookkeeping -------------------------------------------------------------------------

    def flush(self, *, force: bool = False) -> None:
        """Write counters and the last event time to the database (at most once a second)."""
        with self._counts_lock:
            if not force and self._monotonic() - self._flushed_at < _FLUSH_SECONDS:
                return
            counts, self._counts = self._counts, Counter()
            last_event_at, self._last_event_at = self._last_event_at, None
            self._flushed_at = self._monotonic()
        try:
            if counts:
                self.state.add_counters(counts)
            if last_event_at:
                self.state.set_values({"last_event_at": last_event_at})
        except Exception:
            log.exception("could not store the bot's counters")
            with self._counts_lock:
                self._counts.update(counts)

    # -- internals ---------------------------------------------------------------------------

    def _process(self, message: Message, received_at: float) -> str:
        me = self.identity.get()
        if me is None:
            log.warning("a message arrived but no account is the bot identity")
            return "no_identity"
        is_owner = message.person_id == me.person_id
        if is_owner and self._is_own_post(message):
            return "own_post"
        found = recognize(message, me, is_owner=is_owner, prefix=self.router.prefix)
        if found is None:
            return "ignored"
        body, explicit = found
        name, raw_args = self.router.split(body)
        command = self.router.find(name) if name else None
        if command is None:
            if not explicit:
                return "ignored"
            self._finish(message, None, "unknown", self._unknown(message, name), received_at)
            return "unknown"
        if not self.router.may_run(
            command, email=message.person_email, room_id=message.room_id, is_owner=is_owner
        ):
            log.info("refused %s to a sender not allowed", command.name)
            text = Markdown("Sorry, you are not allowed to run {} here.").format(
                self.router.prefix + command.name
            )
            self._finish(message, command, "denied", text, received_at)
            return "denied"
        try:
            args = parse_args(command.args, raw_args)
        except CommandArgumentError as error:
            # Our argument errors are Markdown with the sender's words as literals; any
            # other message (a plugin's) is shown as plain text.
            text = Markdown("{}. Usage: {}").format(
                Markdown(render_reply(error.message)), command.usage(self.router.prefix)
            )
            self._finish(message, command, "bad_arguments", text, received_at)
            return "bad_arguments"
        context = CommandContext(
            bot=self,
            message=message,
            command=command,
            args=args,
            raw_args=raw_args,
            identity=me,
            is_owner=is_owner,
        )
        try:
            result = command.handler(context)
        except NeedsReauth:
            self.metrics.commands.labels(command=command.name, outcome="needs_reauth").inc()
            raise
        except Exception as error:
            error_id = secrets.token_hex(4)
            log.exception("command %s failed (error id %s)", command.name, error_id)
            self.record_error(
                f"command {command.name} failed: {_error_name(error)} (error id {error_id})",
                error_id,
            )
            text = Markdown("Something went wrong running {} (error id {}). It has been logged.")
            text = text.format(self.router.prefix + command.name, error_id)
            self._finish(message, command, "error", text, received_at)
            return "error"
        self._finish(message, command, "ok", result, received_at)
        return "ok"

    def _is_own_post(self, message: Message) -> bool:
        prints = {
            fingerprint(message.room_id, content)
            for content in (message.markdown, message.text)
            if content
        }
        return self.state.is_own_post(message.id, prints)

    def _finish(
        self,
        message: Message,
        command: Command | None,
        outcome: str,
        reply: str | Markdown | None,
        received_at: float,
    ) -> None:
        name = command.name if command else "unknown"
        if reply:
            self.reply(message, reply)
        self.metrics.commands.labels(command=name, outcome=outcome).inc()
        self.metrics.latency.observe(self._monotonic() - received_at)
        self._count("commands", outcome=outcome)

    def _unknown(self, message: Message, name: str) -> Markdown | None:
        prefix = self.router.prefix
        helping = Markdown("Try {}.").format(prefix + "help")
        if not self.is_owner(message.person_id) and not self.router.may_run_restricted(
            email=message.person_email, room_id=message.room_id, is_owner=False
        ):
            # Someone who may run no restricted command gets one short hint, once, without
            # their own words in it; after that their unknown commands cost nothing.
            if not self.hints.first(message.person_email or message.person_id):
                return None
            return Markdown("Unknown command. ") + helping
        names = [command.name for command in self.router.commands()]
        close = difflib.get_close_matches(name.lower(), names, n=1)
        hint = Markdown(" Did you mean {}?").format(prefix + close[0]) if close else Markdown("")
        return Markdown("Unknown command {}.").format(prefix + name) + hint + " " + helping

    def _needs_reauth(self, error: NeedsReauth, doing: str) -> str:
        log.error("bot identity needs a new login (%s): %s", doing, error)
        self.record_error(f"{doing}: needs_reauth", None)
        self.identity.invalidate()
        return "needs_reauth"

    def record_error(self, text: str, error_id: str | None = None) -> None:
        """Keep an error in the bot state (for the panel); never raises."""
        try:
            self.state.record_error(text, error_id=error_id)
        except Exception:
            log.exception("could not record the bot error in the database")

    def _count(self, family: str, *, outcome: str) -> None:
        with self._counts_lock:
            self._counts[f"{family}_{outcome}"] += 1
            self._counts[f"{family}_total"] += 1
            self._last_event_at = self.clock.now().isoformat()
        self.flush()

    def _deliver_reminder(self, reminder: Reminder) -> None:
        me = self.identity.get()
        if me is not None and reminder.requested_by == me.email:
            # The user's own words, as they wrote them.
            text = Markdown("⏰ Reminder for {}: ").format(reminder.requested_by)
            text += Markdown(reminder.text)
        else:
            text = Markdown("⏰ Reminder for {}: {}").format(reminder.requested_by, reminder.text)
        self.post(reminder.room_id, text, parent_id=reminder.parent_id)


def _error_name(error: BaseException) -> str:
    code = getattr(error, "code", None)
    return str(code) if code else type(error).__name__
