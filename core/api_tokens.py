"""Named bearer tokens for the panel's JSON API; only a SHA-256 of each token is stored.

A token is 256 random bits behind a ``tbt_`` prefix (so a leaked one is recognizable in a
secret scanner). A fast hash is enough for a value that cannot be guessed; the lookup is by
hash, so no comparison leaks timing about a stored value. Each token records when it last
authenticated (`last_used_at`, written at most once a minute), so `tokenbot api-token list`
shows which tokens are still in use before one is revoked.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from tokenbot.core.clock import Clock
from tokenbot.core.db import Database
from tokenbot.core.errors import AdminError
from tokenbot.core.hashing import sha256_hex
from tokenbot.core.models import Base

__all__ = ["API_TOKEN_PREFIX", "ApiToken", "ApiTokenInfo", "ApiTokenStore"]

API_TOKEN_PREFIX = "tbt_"
MAX_NAME_LENGTH = 100
# last_used_at is bookkeeping: one write a minute per token is plenty (a scraper polling
# /api/v1 every few seconds must not queue a write behind SQLite's lock per request).
TOUCH_SECONDS = 60


class ApiToken(Base):
    """A named bearer token for the JSON API; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(MAX_NAME_LENGTH), unique=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


@dataclass(frozen=True, slots=True)
class ApiTokenInfo:
    """What may be shown about an API token: never the token or its hash."""

    name: str
    created_at: datetime
    last_used_at: datetime | None


class ApiTokenStore:
    """Create, check and revoke API tokens in `database`."""

    def __init__(self, database: Database, *, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def create(self, name: str) -> str:
        """Create a named API token and return it; only its hash is stored, so show it once.

        Raises:
            AdminError: the name is empty, too long or already used.
        """
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise AdminError(f"an API token name needs 1 to {MAX_NAME_LENGTH} characters")
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            with self._db.write() as session:
                session.add(
                    ApiToken(name=name, token_hash=sha256_hex(token), created_at=self._clock.now())
                )
        except IntegrityError:
            raise AdminError(
                f"an API token named {name!r} already exists",
                hint="pick another name or revoke the old token first",
            ) from None
        return token

    def verify(self, token: str) -> str | None:
        """Return the name of the API token `token`, or None when it is not one of ours.

        A success records the time in `last_used_at`, unless it was recorded less than
        `TOUCH_SECONDS` ago.
        """
        if not token.startswith(API_TOKEN_PREFIX) or len(token) > 200:
            return None
        with self._db.read() as session:
            row = session.scalars(
                sa.select(ApiToken).where(ApiToken.token_hash == sha256_hex(token))
            ).first()
        if row is None:
            return None
        now = self._clock.now()
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() >= TOUCH_SECONDS:
            with self._db.write() as session:
                session.execute(
                    sa.update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now)
                )
        return row.name

    def revoke(self, name: str) -> bool:
        """Delete the API token called `name`; return whether one existed."""
        with self._db.write() as session:
            result = session.execute(sa.delete(ApiToken).where(ApiToken.name == name.strip()))
            return bool(getattr(result, "rowcount", 0))

    def infos(self) -> list[ApiTokenInfo]:
        """Return every API token's name, creation and last use, oldest first."""
        query = sa.select(ApiToken.name, ApiToken.created_at, ApiToken.last_used_at).order_by(
            ApiToken.id
        )
        with self._db.read() as session:
            return [
                ApiTokenInfo(name=name, created_at=created_at, last_used_at=last_used_at)
                for name, created_at, last_used_at in session.execute(query)
            ]

    def names(self) -> list[str]:
        """Return the names of all API tokens, oldest first."""
        with self._db.read() as session:
            return list(session.scalars(sa.select(ApiToken.name).order_by(ApiToken.id)))
