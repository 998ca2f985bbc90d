"""From a message to a command run and its reply, safely; the one error handler.

One message goes through `process`:

1. Loop safety: a message the bot posted itself (known by id, or by content fingerprint while
   its post call is still in flight) is dropped. The bot posts *as the user*, so without this
   an `echo /echo` would run forever.
2. Recognition: a command starts with the prefix; in group spaces a leading mention of the user
   also works (and is stripped). Messages the user typed count only with the prefix.
3. Access, argument parsing, the handler, and the reply into the command's thread, split at
   Webex's byte limit. Replies are `markup.Markdown` with every sender's word a literal; the
   poster escapes anything else (finding 1 of issue 11). Someone who may run no restricted
   command gets one short "unknown command" hint, without their words, then silence.
4. One error handler: log with an error id, reply with the id, report to the error hook, keep
   running.

Two things come late. A message (or card press) that met a bot identity needing re-login before
its command started is kept by id (`core.reauth_waiting`) and processed again once the login is
renewed (`bot.replay`); one whose command had started is not (a reminder set twice would be
worse than a reply lost). And a command reached more than `bot.late_command_seconds` after it
was sent (by its Webex `created`) is not run, since running a `remind` hours late could do
harm: its sender is asked, in its thread, to send it again.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokenbot.bot.args import parse_args
from tokenbot.bot.bookkeeping import Bookkeeper
from tokenbot.bot.bookkeeping import ErrorHook
from tokenbot.bot.command_context import CommandContext
from tokenbot.bot.command_context import CommandServices
from tokenbot.bot.files import FileRefused
from tokenbot.bot.files import ReceivedFile
from tokenbot.bot.flood import Hints
from tokenbot.bot.identity import BotIdentity
from tokenbot.bot.markup import Markdown
from tokenbot.bot.markup import escape_text
from tokenbot.bot.markup import render_reply
from tokenbot.bot.message import Message
from tokenbot.bot.message import webex_time
from tokenbot.bot.metrics import BotMetrics
from tokenbot.bot.recognize import recognize
from tokenbot.bot.replies import CALLBACK_KEY
from tokenbot.bot.replies import Replies
from tokenbot.bot.replies import RunCommand
from tokenbot.bot.replies import as_replies
from tokenbot.bot.router import Command
from tokenbot.bot.router import Handler
from tokenbot.core.errors import CommandArgumentError
from tokenbot.core.errors import NeedsReauth
from tokenbot.core.errors import TokenbotError
from tokenbot.core.reauth_waiting import WaitingCommands

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)


class Dispatcher:
    """Decide what each message is and act on it; never raise.

    Args:
        services: What commands get (client, poster, router, identity, ...).
        books: Counts every outcome.
        metrics: The Prometheus side of the outcomes.
        on_error: The bot's error hook.
        waiting: Keeps what met a dead token, for after the re-login; None: nothing is kept.
        monotonic: Measures latency (tests pass a fake).
    """

    def __init__(
        self,
        services: CommandServices,
        *,
        books: Bookkeeper,
        metrics: BotMetrics,
        on_error: ErrorHook,
        waiting: WaitingCommands | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._services = services
        self._router = services.router
        self._identity = services.identities
        self._poster = services.poster
        self._books = books
        self._metrics = metrics
        self._on_error = on_error
        self._monotonic = monotonic
        self._hints = Hints()
        self._waiting = waiting
        # Whether the current thread's command has started (a handler was called): what met
        # a dead token after that point is not kept for a second run.
        self._local = threading.local()

    def process_id(
        self, message_id: str, intake: str, received_at: float, *, urgent: bool = False
    ) -> str:
        """Fetch a message (deliveries carry no text) and process it; return the outcome.

        `urgent`: the user's own message (kept first when the token is dead).
        """
        try:
            message = self._services.client.get_message(message_id)
        except NeedsReauth as error:
            self._keep(message_id, "message", intake, urgent=urgent)
            return self._needs_reauth(error, "fetch message")
        except TokenbotError as error:
            log.warning("could not fetch message for processing: %s", error)
            self._on_error(f"fetch message failed: {error.code}", None)
            self._metrics.deliveries.labels(intake=intake, outcome="fetch_failed").inc()
            return "fetch_failed"
        return self.process(message, intake, received_at)

    def process(self, message: Message, intake: str, received_at: float | None = None) -> str:
        """Decide what `message` is and act on it; return the outcome (never raises)."""
        received_at = self._monotonic() if received_at is None else received_at
        self._local.started = False
        try:
            outcome = self._process(message, received_at)
        except NeedsReauth as error:
            if not self._local.started:
                me = self._identity.get()
                owner = me is not None and message.person_id == me.person_id
                self._keep(message.id, "message", intake, urgent=owner)
            outcome = self._needs_reauth(error, "process message")
        except Exception as error:  # the one error handler's last line: keep running
            error_id = secrets.token_hex(4)
            log.exception("bot failed on a message (error id %s)", error_id)
            self._on_error(f"{type(error).__name__} (error id {error_id})", error_id)
            outcome = "error"
        self._metrics.deliveries.labels(intake=intake, outcome=outcome).inc()
        self._books.count("messages", outcome=outcome)
        return outcome

    def _process(self, message: Message, received_at: float) -> str:
        me = self._identity.get()
        if me is None:
            log.warning("a message arrived but no account is the bot identity")
            return "no_identity"
        is_owner = message.person_id == me.person_id
        if is_owner and self._poster.is_own_post(message):
            return "own_post"
        router = self._router
        found = recognize(message, me, is_owner=is_owner, prefix=router.prefix)
        if found is None:
            return "ignored"
        body, explicit = found
        name, raw_args = router.split(body)
        command = router.find(name) if name else None
        if command is None:
            if not explicit:
                return "ignored"
            self._finish(message, None, "unknown", self._unknown(message, name), received_at)
            return "unknown"
        if not router.may_run(
            command, email=message.person_email, room_id=message.room_id, is_owner=is_owner
        ):
            log.info("refused %s to a sender not allowed", command.name)
            text = Markdown("Sorry, you are not allowed to run {} here.").format(
                router.prefix + command.name
            )
            self._finish(message, command, "denied", text, received_at)
            return "denied"
        return self._run(message, command, raw_args, me, is_owner, received_at)

    def _run(
        self,
        message: Message,
        command: Command,
        raw_args: str,
        me: BotIdentity,
        is_owner: bool,
        received_at: float,
        *,
        handler: Handler | None = None,
        inputs: Mapping[str, str] | None = None,
    ) -> str:
        router = self._router
        if self._too_late(message):
            text = Markdown(
                "I could not answer {} when it was sent (my login was being renewed, or I was "
                "offline), and it is too old to run now. Please send it again."
            ).format(router.prefix + command.name)
            self._finish(message, command, "too_late", text, received_at)
            return "too_late"
        try:
            args = parse_args(command.args, raw_args) if handler is None else {}
        except CommandArgumentError as error:
            # Our argument errors are Markdown with the sender's words as literals; any
            # other message (a plugin's) is shown as plain text.
            text = Markdown("{}. Usage: {}").format(
                Markdown(render_reply(error.message)), command.usage(router.prefix)
            )
            self._finish(message, command, "bad_arguments", text, received_at)
            return "bad_arguments"
        with contextlib.ExitStack() as scope:
            try:
                files = self._fetch_files(message, command, scope)
            except FileRefused as refused:
                # Our words, but they may quote the file's name or type (the sender's): text.
                text = Markdown("I did not take your file: {}.").format(escape_text(refused.reason))
                self._finish(message, command, "file_refused", text, received_at)
                return "file_refused"
            context = CommandContext(
                services=self._services,
                message=message,
                command=command,
                args=args,
                raw_args=raw_args,
                identity=me,
                is_owner=is_owner,
                files=files,
                inputs=dict(inputs or {}),
            )
            self._local.started = True
            try:
                result = as_replies((handler or command.handler)(context))
            except NeedsReauth:
                self._metrics.commands.labels(command=command.name, outcome="needs_reauth").inc()
                raise
            except Exception as error:
                error_id = secrets.token_hex(4)
                log.exception("command %s failed (error id %s)", command.name, error_id)
                self._on_error(
                    f"command {command.name} failed: {_error_name(error)} (error id {error_id})",
                    error_id,
                )
                text = Markdown(
                    "Something went wrong running {} (error id {}). It has been logged."
                ).format(router.prefix + command.name, error_id)
                self._finish(message, command, "error", text, received_at)
                return "error"
            runs = [reply for reply in result if isinstance(reply, RunCommand)]
            result = [reply for reply in result if not isinstance(reply, RunCommand)]
            # Replies go out while the received files still exist (echo sends one back).
            self._finish(message, command, "ok", result, received_at)
        for run in runs[:1]:
            # A help button: that command, as if the submitter had typed it.
            return self._typed(message, run.name, me, is_owner, received_at)
        return "ok"

    def _typed(
        self, message: Message, name: str, me: BotIdentity, is_owner: bool, received_at: float
    ) -> str:
        router = self._router
        command = router.find(name)
        if command is None:
            self._finish(message, None, "unknown", self._unknown(message, name), received_at)
            return "unknown"
        if not router.may_run(
            command, email=message.person_email, room_id=message.room_id, is_owner=is_owner
        ):
            text = Markdown("Sorry, you are not allowed to run {} here.").format(
                router.prefix + command.name
            )
            self._finish(message, command, "denied", text, received_at)
            return "denied"
        return self._run(message, command, "", me, is_owner, received_at)

    def _fetch_files(
        self, message: Message, command: Command, scope: contextlib.ExitStack
    ) -> tuple[ReceivedFile, ...]:
        fetcher = self._services.files
        if not command.takes_files or not message.files or fetcher is None:
            return ()
        # The folder lives as long as `scope` (the command's run); made only when a file is
        # fetched: creating and removing one cost ~1 ms of disk work on every command.
        folder = Path(scope.enter_context(tempfile.TemporaryDirectory(prefix="tokenbot-files-")))
        # Webex allows one file per message; anything beyond is not ours to fetch.
        return (fetcher.fetch(message.files[0], folder),)

    # -- card submits ------------------------------------------------------------------------

    def process_card_action(
        self, action_id: str, intake: str, received_at: float | None = None
    ) -> str:
        """Act on a card submit known by id (webhook `attachmentActions`; websocket `cardAction`).

        The hook for every intake that hears submits: the caller has already de-duplicated the
        id (`state.claim_message`). Accepted only on a card this bot posted, from a person the
        callback's command allows; anything else does nothing and posts nothing. Webex calls:
        GET the action (its inputs), GET the card message (its thread), GET the person (the
        email the access policy needs; not when the user pressed), then the replies.
        """
        received_at = self._monotonic() if received_at is None else received_at
        self._local.started = False
        try:
            outcome = self._card_action(action_id, received_at)
        except NeedsReauth as error:
            if not self._local.started:
                self._keep(action_id, "card", intake)
            outcome = self._needs_reauth(error, "process card submit")
        except TokenbotError as error:
            log.warning("could not process a card submit: %s", error)
            outcome = "fetch_failed"
        except Exception as error:  # the one error handler's last line: keep running
            error_id = secrets.token_hex(4)
            log.exception("bot failed on a card submit (error id %s)", error_id)
            self._on_error(f"{type(error).__name__} (error id {error_id})", error_id)
            outcome = "error"
        self._metrics.deliveries.labels(intake=intake, outcome=f"card_{outcome}").inc()
        self._books.count("card_actions", outcome=outcome)
        return outcome

    def _card_action(self, action_id: str, received_at: float) -> str:
        me = self._identity.get()
        if me is None:
            return "no_identity"
        client = self._services.client
        action = client.get_attachment_action(action_id)
        card_id = str(action.get("messageId") or "")
        if not card_id or not self._services.state.is_own_post(card_id):
            log.info("card submit on a card we did not post; ignored")
            return "not_our_card"
        inputs = validate_inputs(action.get("inputs"), self._services.options.card_input_max_bytes)
        if inputs is None:
            log.info("card submit with invalid or oversized inputs; ignored")
            return "bad_inputs"
        callback = self._router.find_callback(inputs.pop(CALLBACK_KEY, ""))
        command = self._router.find(callback.command) if callback else None
        if callback is None or command is None:
            return "unknown_callback"
        card = client.get_message(card_id)
        room_id = str(action.get("roomId") or "")
        if room_id != card.room_id:
            return "not_our_card"
        person_id = str(action.get("personId") or "")
        is_owner = person_id == me.person_id
        email = me.email if is_owner else str(_first(client.get_person(person_id), "emails"))
        if not self._router.may_run(command, email=email, room_id=room_id, is_owner=is_owner):
            log.info("card submit refused: the sender may not run %s", command.name)
            return "denied"
        submit = Message(
            id=action_id,
            room_id=room_id,
            person_id=person_id,
            person_email=email.lower(),
            room_type=card.room_type,
            parent_id=card.thread_id,
            created=str(action.get("created") or ""),
        )
        return self._run(
            submit, command, "", me, is_owner, received_at, handler=callback.handler, inputs=inputs
        )

    def _finish(
        self,
        message: Message,
        command: Command | None,
        outcome: str,
        reply: Replies,
        received_at: float,
    ) -> None:
        name = command.name if command else "unknown"
        replies = as_replies(reply)
        if replies:
            self._poster.reply_all(message, replies)
        self._metrics.commands.labels(command=name, outcome=outcome).inc()
        self._metrics.latency.observe(self._monotonic() - received_at)
        self._books.count("commands", outcome=outcome)

    def _unknown(self, message: Message, name: str) -> Markdown | None:
        prefix = self._router.prefix
        helping = Markdown("Try {}.").format(prefix + "help")
        me = self._identity.get()
        is_owner = me is not None and message.person_id == me.person_id
        if not is_owner and not self._router.may_run_restricted(
            email=message.person_email, room_id=message.room_id, is_owner=False
        ):
            # Someone who may run no restricted command gets one short hint, once, without
            # their own words in it; after that their unknown commands cost nothing.
            if not self._hints.first(message.person_email or message.person_id):
                return None
            return Markdown("Unknown command. ") + helping
        names = [command.name for command in self._router.commands()]
        close = difflib.get_close_matches(name.lower(), names, n=1)
        hint = Markdown(" Did you mean {}?").format(prefix + close[0]) if close else Markdown("")
        return Markdown("Unknown command {}.").format(prefix + name) + hint + " " + helping

    def _too_late(self, message: Message) -> bool:
        """Tell whether a command came too long after it was sent to be run now."""
        window = self._services.options.late_command_seconds
        sent = webex_time(message.created)
        if not window or sent is None:
            return False
        return (self._services.clock.now() - sent).total_seconds() > window

    def _keep(self, item_id: str, kind: str, intake: str, *, urgent: bool = False) -> None:
        """Keep what met a dead token, to process it after the re-login; never raises."""
        if self._waiting is None:
            return
        try:
            kept = self._waiting.keep(item_id, kind=kind, intake=intake, urgent=urgent)
        except Exception:  # the database is down too: the message is lost, the bot goes on
            log.exception("could not keep a %s for after the re-login", kind)
            return
        self._books.count("reauth_waiting", outcome="kept" if kept else "not_kept")

    def _needs_reauth(self, error: NeedsReauth, doing: str) -> str:
        log.error("bot identity needs a new login (%s): %s", doing, error)
        # Shown on the panel's bot card: the panel's words, and the way out.
        self._on_error(
            f"{doing}: the bot identity needs re-login (Reconnect it in the panel)", None
        )
        self._identity.invalidate()
        return "needs_reauth"


_INPUT_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def validate_inputs(raw: object, max_bytes: int) -> dict[str, str] | None:
    """Return a submit's inputs as short strings, or None when they are not acceptable.

    Inputs are untrusted: an object of at most 50 keys (letters, digits, `_.-`, 64 chars at
    most) whose values are strings, numbers or booleans, `max_bytes` in all as JSON.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > 50:
        return None
    if len(json.dumps(raw, ensure_ascii=False).encode("utf-8")) > max_bytes:
        return None
    inputs: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not _INPUT_KEY.fullmatch(key):
            return None
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, str | int | float):
            return None
        inputs[key] = str(value)
    return inputs


def _first(data: Mapping[str, Any], key: str) -> str:
    values = data.get(key) or [""]
    return str(values[0])


def _error_name(error: BaseException) -> str:
    # Our errors, and some of other libraries, carry a stable code; the rest go by type name.
    code = getattr(error, "code", None)
    return str(code) if code else type(error).__name__
