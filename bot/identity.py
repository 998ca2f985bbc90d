"""Who the bot is: the account marked as the bot identity in the token store, briefly cached."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tokenbot.bot.message import fold_email
from tokenbot.core.errors import AccountNotFound
from tokenbot.core.records import AccountView

__all__ = ["BotIdentity", "IdentityCache", "IdentityStore"]


class IdentityStore(Protocol):
    """The part of `core.store.TokenStore` the bot reads its identity from."""

    def bot_identity(self) -> AccountView | None:
        """Return the bot identity's account view, or None when no account is marked."""
        ...


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """The Webex user the bot acts as (no token material)."""

    account_id: int
    person_id: str
    email: str
    display_name: str = ""
    status: str = "active"
    access_expires_at: datetime | None = None
    last_refreshed_at: datetime | None = None
    # When the current grant was obtained (the Connect): polling's first round answers what
    # was said since, so a newcomer's first command is not lost to the bootstrap.
    connected_at: datetime | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Return the names a mention of this user may start with (full, then first name)."""
        full = self.display_name.strip()
        first = full.split(" ")[0] if full else ""
        return tuple(name for name in (full, first) if name)

    @classmethod
    def from_view(cls, view: AccountView) -> BotIdentity:
        """Copy the fields the bot needs from the store's account view."""
        return cls(
            account_id=view.id,
            person_id=view.person_id,
            email=fold_email(view.email),
            display_name=view.display_name or "",
            status=view.status.value,
            access_expires_at=view.access_expires_at,
            last_refreshed_at=view.last_refreshed_at,
            connected_at=view.obtained_at,
        )


class IdentityCache:
    """Read the bot identity from the store at most every `ttl` seconds.

    Every command needs it; the store is the truth (a reconnect may change it), but a read per
    message is wasted work under load.
    """

    def __init__(
        self,
        store: IdentityStore,
        *,
        ttl: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._value: BotIdentity | None = None
        self._read_at: float | None = None

    def get(self) -> BotIdentity | None:
        """Return the current bot identity, or None when no account is the bot identity."""
        with self._lock:
            now = self._monotonic()
            if self._read_at is None or now - self._read_at >= self._ttl:
                view = self._store.bot_identity()
                self._value = BotIdentity.from_view(view) if view is not None else None
                self._read_at = now
            return self._value

    def invalidate(self) -> None:
        """Forget the cached value: the next `get` reads the store."""
        with self._lock:
            self._read_at = None

    def account_id(self) -> int:
        """Return the bot identity's account id (for the token service)."""
        identity = self.get()
        if identity is None:
            raise AccountNotFound(
                "no account is marked as the bot identity",
                hint="connect a Webex account in the panel and mark it as the bot identity",
            )
        return identity.account_id
