"""Named, scoped bearer tokens for the panel's JSON API; only a SHA-256 of each token is stored.

A token is 256 random bits behind a ``tbt_`` prefix (so a leaked one is recognizable in a
secret scanner). A fast hash is enough for a value that cannot be guessed; the lookup is by
hash, so no comparison leaks timing about a stored value. Each token records when it last
authenticated (`last_used_at`, written at most once a minute), so `tokenbot api-token list`
shows which tokens are still in use before one is revoked.

Scopes say what a token may do. ``status:read`` (the default) reads account and status
metadata, never a token. ``tokens:read`` fetches live Webex access tokens from the broker
(`POST /api/v1/accounts/{id}/access-token`), only for the accounts the token names (or all),
and optionally only while the account's grant includes given Webex scopes. A token may carry
an expiry; past it, it authenticates no more (401), as if revoked.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from tokenbot.core.admin_login_throttle import ThrottleLimit
from tokenbot.core.admin_login_throttle import admit_attempt
from tokenbot.core.admin_login_throttle import throttle_key
from tokenbot.core.clock import Clock
from tokenbot.core.db import Database
from tokenbot.core.errors import AdminError
from tokenbot.core.hashing import sha256_hex
from tokenbot.core.models import Base

__all__ = [
    "ALL_ACCOUNTS",
    "API_SCOPES",
    "API_TOKEN_PREFIX",
    "SCOPE_STATUS",
    "SCOPE_TOKENS",
    "ApiClient",
    "ApiToken",
    "ApiTokenInfo",
    "ApiTokenStore",
]

API_TOKEN_PREFIX = "tbt_"
SCOPE_STATUS = "status:read"
SCOPE_TOKENS = "tokens:read"
API_SCOPES = (SCOPE_STATUS, SCOPE_TOKENS)
ALL_ACCOUNTS: Literal["all"] = "all"
_ALL_MARK = "*"  # how "every account" is stored in the accounts column
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
    # Space-separated API scopes; tokens made before scopes existed read status only.
    scopes: Mapped[str] = mapped_column(sa.String(200), server_default=SCOPE_STATUS)
    # Accounts whose access tokens `tokens:read` covers: "" none, "*" all, else ids.
    accounts: Mapped[str] = mapped_column(sa.Text, server_default="")
    # Webex scopes the account's grant must include for a handout (space-separated).
    webex_scopes: Mapped[str] = mapped_column(sa.Text, server_default="")
    expires_at: Mapped[datetime | None]


AccountChoice = Sequence[int] | Literal["all"]


@dataclass(frozen=True, slots=True)
class ApiClient:
    """Who authenticated with an API token, and what that token may do."""

    name: str
    scopes: tuple[str, ...]
    accounts: tuple[int, ...] | None  # None: every account
    webex_scopes: tuple[str, ...] = ()
    expires_at: datetime | None = None

    def has_scope(self, scope: str) -> bool:
        """Tell whether the token carries the API scope `scope`."""
        return scope in self.scopes

    def covers_account(self, account_id: int) -> bool:
        """Tell whether `tokens:read` extends to `account_id` (ignoring the Webex scopes)."""
        if not self.has_scope(SCOPE_TOKENS):
            return False
        return self.accounts is None or account_id in self.accounts

    def missing_webex_scopes(self, granted: Iterable[str]) -> tuple[str, ...]:
        """Return the required Webex scopes that `granted` lacks (empty: all present)."""
        have = set(granted)
        return tuple(scope for scope in self.webex_scopes if scope not in have)

    @classmethod
    def of(cls, row: ApiToken) -> ApiClient:
        """Build the view of a loaded row."""
        return cls(
            name=row.name,
            scopes=tuple(row.scopes.split()),
            accounts=_parse_accounts(row.accounts),
            webex_scopes=tuple(row.webex_scopes.split()),
            expires_at=row.expires_at,
        )


@dataclass(frozen=True, slots=True)
class ApiTokenInfo:
    """What may be shown about an API token: never the token or its hash."""

    name: str
    created_at: datetime
    last_used_at: datetime | None
    scopes: tuple[str, ...] = (SCOPE_STATUS,)
    accounts: tuple[int, ...] | None = ()  # None: every account
    webex_scopes: tuple[str, ...] = ()
    expires_at: datetime | None = None


def _parse_accounts(text: str) -> tuple[int, ...] | None:
    if text.strip() == _ALL_MARK:
        return None
    return tuple(int(part) for part in text.split())


def _check_grant(
    scopes: Sequence[str], accounts: AccountChoice, webex_scopes: Sequence[str]
) -> tuple[str, str, str]:
    """Validate what a new token may do; return the three columns' values."""
    chosen = tuple(dict.fromkeys(scope.strip() for scope in scopes if scope.strip()))
    if not chosen:
        chosen = (SCOPE_STATUS,)
    unknown = [scope for scope in chosen if scope not in API_SCOPES]
    if unknown:
        raise AdminError(
            f"unknown API token scope {unknown[0]!r}",
            hint=f"use one of: {', '.join(API_SCOPES)}",
        )
    if accounts == ALL_ACCOUNTS:
        stored_accounts = _ALL_MARK
    else:
        ids = tuple(dict.fromkeys(accounts))
        if any(isinstance(i, bool) or not isinstance(i, int) or i < 1 for i in ids):
            raise AdminError("an account id is a positive whole number, or 'all'")
        stored_accounts = " ".join(str(i) for i in ids)
    webex = tuple(dict.fromkeys(scope.strip() for scope in webex_scopes if scope.strip()))
    if SCOPE_TOKENS in chosen and not stored_accounts:
        raise AdminError(
            f"a {SCOPE_TOKENS} token needs the accounts it may read",
            hint="name them with --account ID (repeat it), or --account all",
        )
    if SCOPE_TOKENS not in chosen and (stored_accounts or webex):
        raise AdminError(
            f"accounts and Webex scopes only apply to a token with the {SCOPE_TOKENS} scope",
            hint=f"add --scope {SCOPE_TOKENS}, or leave out --account and --webex-scope",
        )
    return " ".join(chosen), stored_accounts, " ".join(webex)


class ApiTokenStore:
    """Create, check and revoke API tokens in `database`."""

    def __init__(self, database: Database, *, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def create(
        self,
        name: str,
        *,
        scopes: Sequence[str] = (SCOPE_STATUS,),
        accounts: AccountChoice = (),
        webex_scopes: Sequence[str] = (),
        expires_at: datetime | None = None,
    ) -> str:
        """Create a named API token and return it; only its hash is stored, so show it once.

        Args:
            name: A unique name (who or what uses the token).
            scopes: API scopes; `SCOPE_STATUS` alone by default.
            accounts: With `SCOPE_TOKENS`: the account ids it may read, or "all".
            webex_scopes: With `SCOPE_TOKENS`: Webex scopes an account's grant must include
                for its token to be handed out.
            expires_at: When the token stops working (None: never).

        Raises:
            AdminError: the name is empty, too long or already used; a scope is unknown;
                accounts are missing for (or given without) `SCOPE_TOKENS`; the expiry has
                passed.
        """
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise AdminError(f"an API token name needs 1 to {MAX_NAME_LENGTH} characters")
        scope_text, account_text, webex_text = _check_grant(scopes, accounts, webex_scopes)
        now = self._clock.now()
        if expires_at is not None and expires_at <= now:
            raise AdminError(
                "the expiry of an API token must lie in the future",
                hint="give a span such as --expires 30d",
            )
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            with self._db.write() as session:
                session.add(
                    ApiToken(
                        name=name,
                        token_hash=sha256_hex(token),
                        created_at=now,
                        scopes=scope_text,
                        accounts=account_text,
                        webex_scopes=webex_text,
                        expires_at=expires_at,
                    )
                )
        except IntegrityError:
            raise AdminError(
                f"an API token named {name!r} already exists",
                hint="pick another name or revoke the old token first",
            ) from None
        return token

    def verify(self, token: str) -> str | None:
        """Return the name of the API token `token`, or None when it is not one of ours.

        See `authenticate`, which this calls.
        """
        client = self.authenticate(token)
        return None if client is None else client.name

    def authenticate(self, token: str) -> ApiClient | None:
        """Return who holds `token` and what it may do, or None (unknown, revoked, expired).

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
        if row.expires_at is not None and row.expires_at <= now:
            return None
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() >= TOUCH_SECONDS:
            with self._db.write() as session:
                session.execute(
                    sa.update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now)
                )
        return ApiClient.of(row)

    def take_request(self, name: str, *, per_minute: int) -> int:
        """Count one request of the token `name`; return the seconds to wait (0: go ahead).

        A fixed one-minute window per token, kept in the login throttle table so that every
        panel process shares it; checked and counted in one transaction (`admit_attempt`), so
        parallel requests cannot all pass; a refused request is not counted.
        """
        key = throttle_key("api", name)
        limit = ThrottleLimit(failures=per_minute, window_seconds=60)
        with self._db.write() as session:
            return admit_attempt(session, [(key, limit)], self._clock.now())

    def revoke(self, name: str) -> bool:
        """Delete the API token called `name`; return whether one existed."""
        with self._db.write() as session:
            result = session.execute(sa.delete(ApiToken).where(ApiToken.name == name.strip()))
            return bool(getattr(result, "rowcount", 0))

    def infos(self) -> list[ApiTokenInfo]:
        """Return every API token's name, grant, creation, expiry and last use, oldest first."""
        with self._db.read() as session:
            return [
                ApiTokenInfo(
                    name=row.name,
                    created_at=row.created_at,
                    last_used_at=row.last_used_at,
                    scopes=tuple(row.scopes.split()),
                    accounts=_parse_accounts(row.accounts),
                    webex_scopes=tuple(row.webex_scopes.split()),
                    expires_at=row.expires_at,
                )
                for row in session.scalars(sa.select(ApiToken).order_by(ApiToken.id))
            ]

    def names(self) -> list[str]:
        """Return the names of all API tokens, oldest first."""
        with self._db.read() as session:
            return list(session.scalars(sa.select(ApiToken.name).order_by(ApiToken.id)))
