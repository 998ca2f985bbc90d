"""Fixtures for the bot: its state store on a real database, and a bot on a fake Webex client.

The fake client stands below our own seam (`WebexClient`'s methods) for unit tests of routing,
loop safety and intake; the end-to-end tests use the real client, the real SDK and the emulator.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

import pytest

from tokenbot.bot.commands import register_builtins
from tokenbot.bot.identity import IdentityCache
from tokenbot.bot.message import Message
from tokenbot.bot.metrics import BotMetrics
from tokenbot.bot.options import BotOptions
from tokenbot.bot.router import AccessPolicy
from tokenbot.bot.router import Router
from tokenbot.bot.service import Bot
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.clock import FrozenClock
from tokenbot.core.db import Database
from tokenbot.core.db import upgrade
from tokenbot.core.models import AccountStatus
from tokenbot.core.records import AccountView

OWNER_ID = "PERSON-ALICE"
OWNER_EMAIL = "alice@example.com"
SECRET = "test-webhook-secret-0123456789abcdef"


def owner_account(**overrides: Any) -> AccountView:
    """Return the store's view of the owner's account, as `TokenStore.bot_identity()` would."""
    values: dict[str, Any] = {
        "id": 1,
        "person_id": OWNER_ID,
        "email": OWNER_EMAIL,
        "display_name": "Alice Liddell",
        "org_id": None,
        "scopes": (),
        "status": AccountStatus.ACTIVE,
        "is_bot_identity": True,
        "access_expires_at": None,
        "refresh_expires_at": None,
        "obtained_at": None,
        "last_refreshed_at": None,
        "next_refresh_at": None,
        "failure_count": 0,
        "last_error": None,
        "version": 1,
        "has_tokens": True,
    }
    values.update(overrides)
    return AccountView(**values)


class FakeIdentityStore:
    """A token store that only knows the bot identity."""

    def __init__(self, account: AccountView | None = None) -> None:
        self.account: AccountView | None = account or owner_account()

    def bot_identity(self) -> AccountView | None:
        """Return the bot identity."""
        return self.account


@dataclass
class FakeClient:
    """Webex as far as the bot's client seam goes: rooms, messages, webhooks, in memory."""

    messages: dict[str, Message] = field(default_factory=dict)
    rooms: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    posted: list[Message] = field(default_factory=list)
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_with: Exception | None = None
    on_post: Callable[[Message], None] | None = None
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, message: Message) -> Message:
        """Store a message as if someone posted it."""
        with self._lock:
            if not message.created:
                message = replace(message, created=_stamp(next(self._ids)))
            self.messages[message.id] = message
        return message

    def get_message(self, message_id: str) -> Message:
        """Return a stored message."""
        if self.fail_with is not None:
            raise self.fail_with
        return self.messages[message_id]

    def post_message(
        self, room_id: str, markdown: str | None, *, parent_id: str | None = None, **extra: Any
    ) -> Message:
        """Post as the owner (`extra`: text, attachments, file_path, kept in `extras`)."""
        markdown = markdown or extra.get("text") or ""
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            number = next(self._ids)
        message = Message(
            id=f"POSTED-{number}",
            room_id=room_id,
            person_id=OWNER_ID,
            person_email=OWNER_EMAIL,
            text=markdown,
            markdown=markdown,
            parent_id=parent_id,
            created=_stamp(number),
        )
        if self.on_post is not None:
            self.on_post(message)  # e.g. deliver our own post back before we return
        with self._lock:
            self.messages[message.id] = message
            self.posted.append(message)
            self.extras[message.id] = extra
        return message

    def list_messages(self, room_id: str, *, limit: int, **_: Any) -> list[Message]:
        """Return the newest messages of a room, newest first."""
        with self._lock:
            found = [m for m in self.messages.values() if m.room_id == room_id]
        found.sort(key=lambda m: m.created, reverse=True)
        return found[:limit]

    def list_rooms(self, *, limit: int, **_: Any) -> list[dict[str, Any]]:
        """Return the rooms, most recently active first (activity from their messages)."""
        rooms = []
        for room in self.rooms:
            activity = max(
                (m.created for m in self.messages.values() if m.room_id == room["id"]),
                default=room.get("created", "2026-01-01T00:00:00.000Z"),
            )
            rooms.append({**room, "lastActivity": activity})
        rooms.sort(key=lambda room: room["lastActivity"], reverse=True)
        return rooms[:limit]

    def list_webhooks(self) -> list[dict[str, Any]]:
        """Return the webhooks."""
        return [dict(hook) for hook in self.webhooks]

    def create_webhook(
        self, *, name: str, target_url: str, secret: str, resource: str = "messages"
    ) -> dict[str, Any]:
        """Create a webhook."""
        hook = {
            "id": f"HOOK-{next(self._ids)}",
            "name": name,
            "targetUrl": target_url,
            "secret": secret,
            "resource": resource,
            "event": "created",
        }
        self.webhooks.append(hook)
        return dict(hook)

    def update_webhook(
        self, webhook_id: str, *, name: str, target_url: str, secret: str
    ) -> dict[str, Any]:
        """Update a webhook."""
        for hook in self.webhooks:
            if hook["id"] == webhook_id:
                hook.update(name=name, targetUrl=target_url, secret=secret)
                return dict(hook)
        raise KeyError(webhook_id)

    def delete_webhook(self, webhook_id: str) -> None:
        """Delete a webhook."""
        self.webhooks = [hook for hook in self.webhooks if hook["id"] != webhook_id]

    def replies_to(self, room_id: str) -> list[Message]:
        """Return what the bot posted into a room, in order."""
        with self._lock:
            return [m for m in self.posted if m.room_id == room_id]


def _stamp(number: int) -> str:
    seconds, millis = divmod(number, 1000)
    minutes, seconds = divmod(seconds, 60)
    return f"2026-01-01T10:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


@pytest.fixture
def migrated_url(sqlite_url: str) -> str:
    """A SQLite database migrated to head."""
    upgrade(sqlite_url)
    return sqlite_url


@pytest.fixture
def bot_database(migrated_url: str) -> Iterator[Database]:
    """The migrated database, disposed after the test."""
    database = Database(migrated_url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def frozen_clock() -> FrozenClock:
    """A clock at 2026-01-01 10:00 UTC."""
    from datetime import UTC
    from datetime import datetime

    return FrozenClock(datetime(2026, 1, 1, 10, 0, tzinfo=UTC))


@pytest.fixture
def bot_state(bot_database: Database, frozen_clock: FrozenClock) -> BotStateStore:
    """The bot state store on a migrated SQLite database."""
    return BotStateStore(bot_database, frozen_clock)


@pytest.fixture
def fake_client() -> FakeClient:
    """A fresh in-memory Webex."""
    return FakeClient()


@pytest.fixture
def make_bot(
    bot_state: BotStateStore, fake_client: FakeClient, frozen_clock: FrozenClock
) -> Iterator[Callable[..., Bot]]:
    """Build bots on the fake client (stopped after the test); options may be overridden."""
    bots: list[Bot] = []

    def build(*, start: bool = False, waiting: Any = None, **overrides: Any) -> Bot:
        values: dict[str, Any] = {
            "api_base_url": "http://127.0.0.1:9/v1/",
            "intake": "webhook",
            "webhook_secret": SECRET,
            "policy": AccessPolicy.of(emails=["bob@example.com"]),
            "workers": 2,
            "queue_size": 8,
        }
        values.update(overrides)
        options = BotOptions(**values)
        router = Router(
            prefix=options.prefix, policy=options.policy, open_to_everyone=options.open_to_everyone
        )
        register_builtins(router)
        bot = Bot(
            options=options,
            client=fake_client,  # type: ignore[arg-type]
            identity=IdentityCache(FakeIdentityStore()),
            state=bot_state,
            router=router,
            metrics=BotMetrics(),
            clock=frozen_clock,
            waiting=waiting,
        )
        bots.append(bot)
        if start:
            bot.pool.start()
            bot.reminders.start()
        return bot

    try:
        yield build
    finally:
        for bot in bots:
            bot.stop(timeout=5)


# -- end to end: the real SDK, the real token service, the emulator over HTTP -------------------

BOT_SCOPES = (
    "spark:people_read",
    "spark:rooms_read",
    "spark:rooms_write",
    "spark:messages_read",
    "spark:messages_write",
)

# What the websocket intake needs: spark:all (Webex adds spark:kms with it).
WEBSOCKET_SCOPES = ("spark:all", "spark:kms", *BOT_SCOPES)


class _LateApp:
    """A WSGI app whose target is set after the server has a port (the URL goes in options)."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


@dataclass
class BotEnv:
    """A running bot on the emulator, with what a test needs to drive and inspect it."""

    emulator: Any
    bot: Bot
    store: Any
    tokens: Any
    oauth: Any
    integration: Any
    account_id: int
    webhook_url: str | None
    scopes: tuple[str, ...] = BOT_SCOPES

    def room(self, title: str) -> str:
        """Return the emulator room id with this title."""
        return str(self.emulator.room_id(title))

    def say(self, room_id: str, email: str, text: str, parent_id: str | None = None) -> str:
        """Post as a sandbox person (Webex delivers it); return the message id."""
        return str(self.emulator.post_message(room_id, email, text=text, parent_id=parent_id)["id"])

    def room_messages(self, room_id: str) -> list[dict[str, Any]]:
        """Return every message of a room, oldest first (from the emulator's control API)."""
        return list(self.emulator.control("GET", f"rooms/{room_id}/messages")["items"])

    def replies(self, room_id: str, parent_id: str) -> list[dict[str, Any]]:
        """Return the bot user's messages in the thread of `parent_id`, oldest first."""
        return [
            m
            for m in self.room_messages(room_id)
            if m.get("personEmail") == OWNER_EMAIL and m.get("parentId") == parent_id
        ]

    def wait_replies(
        self, room_id: str, parent_id: str, count: int = 1, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """Wait until the thread holds `count` replies of the bot user; return them."""
        from tests.plugins.tokens import wait_until

        return wait_until(
            lambda: (found := self.replies(room_id, parent_id)) and len(found) >= count and found,
            timeout=timeout,
            what=f"{count} bot replies in the thread",
        )

    def connect_alice(self) -> None:
        """(Re)connect alice with a freshly minted grant and make her the bot identity."""
        from tests.plugins.tokens import connect_minted
        from tokenbot.core.clock import SystemClock

        account = connect_minted(
            self.store,
            self.oauth,
            self.emulator,
            self.integration.client_id,
            OWNER_EMAIL,
            self.scopes,
            sent_at=SystemClock().now(),
        )
        self.store.set_bot_identity(account.id)
        self.account_id = account.id
        self.bot.identity.invalidate()


@pytest.fixture
def bot_env_factory(emulator: Any, sqlite_url: str) -> Iterator[Callable[..., BotEnv]]:
    """Start bots on the emulator: `bot_env_factory("webhook"|"polling", **option_overrides)`."""
    from werkzeug.serving import make_server

    from tests.plugins.tokens import REDIRECT_URI
    from tests.plugins.tokens import Integration
    from tests.plugins.tokens import make_client
    from tokenbot.bot.factory import create_bot
    from tokenbot.bot.webhook import create_webhook_app
    from tokenbot.core.clock import SystemClock
    from tokenbot.core.crypto import TokenCipher
    from tokenbot.core.policy import RefreshPolicy
    from tokenbot.core.store import TokenStore
    from tokenbot.core.token_service import TokenService

    upgrade(sqlite_url)
    cleanups: list[Callable[[], None]] = []

    def build(intake: str, scopes: tuple[str, ...] | None = None, **overrides: Any) -> BotEnv:
        # Runs after the Connect and before the bot starts (what a newcomer does first).
        before_start: Callable[[BotEnv], None] | None = overrides.pop("before_start", None)
        clock = SystemClock()
        database = Database(sqlite_url)
        cleanups.append(database.dispose)
        cipher = TokenCipher.from_spec(TokenCipher.generate_key_spec("kbot"))
        policy = RefreshPolicy()
        store = TokenStore(database, cipher, clock=clock, policy=policy)
        scopes = scopes or (WEBSOCKET_SCOPES if intake == "websocket" else BOT_SCOPES)
        client_id, secret = emulator.register_integration([REDIRECT_URI], list(scopes))
        integration = Integration(client_id, secret, REDIRECT_URI, scopes)
        oauth = make_client(emulator, integration, timeout=5.0)
        tokens = TokenService(store, oauth, clock=clock, policy=policy)
        public_url = None
        late = _LateApp()
        if intake == "webhook":
            server = make_server("127.0.0.1", 0, late, threaded=True)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()

            def stop_server() -> None:
                server.shutdown()
                thread.join(10)
                server.server_close()

            cleanups.append(stop_server)
            public_url = f"http://127.0.0.1:{server.server_port}"
        values: dict[str, Any] = {
            "api_base_url": emulator.api_url,
            "intake": intake,
            "public_url": public_url,
            "webhook_secret": SECRET,
            "policy": AccessPolicy.of(emails=["bob@example.com", "carol@example.com"]),
            "poll_interval_seconds": 0.1,
            "poll_api_budget_per_minute": 100_000,
            "workers": 4,
            "queue_size": 200,
            "u2c_url": f"{emulator.url}/u2c/api/v1",
            "listener_lease_seconds": 6.0,
        }
        values.update(overrides)
        bot = create_bot(
            options=BotOptions(**values),
            tokens=tokens,
            store=store,
            database=database,
            clock=clock,
            max_rate_limit_wait=5.0,
        )
        late.app = create_webhook_app(bot)
        env = BotEnv(
            emulator=emulator,
            bot=bot,
            store=store,
            tokens=tokens,
            oauth=oauth,
            integration=integration,
            account_id=0,
            webhook_url=bot.options.webhook_url,
            scopes=scopes,
        )
        env.connect_alice()
        if before_start is not None:
            before_start(env)
        bot.start()
        cleanups.append(bot.stop)
        return env

    try:
        yield build
    finally:
        for cleanup in reversed(cleanups):
            cleanup()
