"""The tables the token store owns: accounts, their event history, and pending OAuth logins.

Token columns hold ciphertexts only (core.crypto); no column ever holds a secret in plain.
Times are stored as naive UTC and come back aware (`UTCDateTime`).
"""

from __future__ import annotations

import enum
import importlib
import importlib.util
from datetime import UTC
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Account",
    "AccountStatus",
    "Base",
    "EventKind",
    "MODEL_MODULES",
    "OAuthLogin",
    "TokenEvent",
    "UTCDateTime",
    "schema_metadata",
]

# Deterministic constraint names, identical on SQLite and PostgreSQL, so migrations can
# refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Modules that declare tables on `Base`. Migrations and the schema check import them all, so
# a module that adds tables appends its name here (and ships its own migration).
MODEL_MODULES: tuple[str, ...] = (
    "tokenbot.core.models",
    "tokenbot.core.admin_accounts",
    "tokenbot.core.admin_sessions",
    "tokenbot.core.admin_login_throttle",
    "tokenbot.core.api_tokens",
    "tokenbot.core.botstate",
    "tokenbot.core.reauth_waiting",
    "tokenbot.core.listener_lease",
    "tokenbot.core.notify",
    "tokenbot.core.relink",
)


def schema_metadata() -> sa.MetaData:
    """Import every model module that is installed and return the shared metadata."""
    for name in MODEL_MODULES:
        # A module listed before its author has committed it is simply not there yet.
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    return Base.metadata


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and returned as an aware UTC datetime.

    Naive input is refused: a naive value is ambiguous, and a silent guess is how expiry
    arithmetic ends up an hour off.
    """

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to naive UTC for storage."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("UTCDateTime refuses naive datetimes; pass tzinfo=UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Mark a stored naive UTC value as UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class AccountStatus(enum.StrEnum):
    """Where an account's grant stands."""

    ACTIVE = "active"
    REFRESH_FAILING = "refresh_failing"
    NEEDS_REAUTH = "needs_reauth"
    DISCONNECTED = "disconnected"


class EventKind(enum.StrEnum):
    """What happened to an account, as the panel's history lists it."""

    CONNECTED = "connected"
    RECONNECTED = "reconnected"
    REFRESHED = "refreshed"
    REFRESH_FAILED = "refresh_failed"
    REFRESH_TOKEN_EXPIRING = "refresh_token_expiring"
    NEEDS_REAUTH = "needs_reauth"
    DISCONNECTED = "disconnected"
    TESTED = "tested"
    BOT_IDENTITY_SET = "bot_identity_set"
    KEYS_ROTATED = "keys_rotated"
    TOKEN_HANDED_OUT = "token_handed_out"  # the broker gave an API client the access token
    TOKEN_REJECTED = "token_rejected"


def _str_enum(enum_class: type[enum.Enum]) -> sa.Enum:
    # Stored as VARCHAR(32) holding the value (no native enum type, no CHECK): adding a value
    # later needs no migration of the column type on either backend.
    return sa.Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Declarative base with the shared naming convention."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime}


class Account(Base):
    """A connected Webex person, with its encrypted grant and refresh bookkeeping."""

    __tablename__ = "accounts"
    __table_args__ = (
        # At most one bot identity, enforced by the database too (a partial unique index
        # works on both backends), so two racing `set_bot_identity` calls cannot both win.
        sa.Index(
            "uq_accounts_one_bot_identity",
            "is_bot_identity",
            unique=True,
            sqlite_where=sa.text("is_bot_identity"),
            postgresql_where=sa.text("is_bot_identity"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    email: Mapped[str] = mapped_column(sa.String(320), default="")
    display_name: Mapped[str] = mapped_column(sa.String(255), default="")
    org_id: Mapped[str | None] = mapped_column(sa.String(255))
    scopes: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[AccountStatus] = mapped_column(
        _str_enum(AccountStatus), default=AccountStatus.ACTIVE
    )
    is_bot_identity: Mapped[bool] = mapped_column(default=False)
    access_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    access_expires_at: Mapped[datetime | None]
    refresh_expires_at: Mapped[datetime | None]
    obtained_at: Mapped[datetime | None]
    last_refreshed_at: Mapped[datetime | None]
    # When the health probe last saw Webex accept the access token (core.probe).
    last_verified_at: Mapped[datetime | None]
    # The sweep's only query filters and sorts on this column.
    next_refresh_at: Mapped[datetime | None] = mapped_column(index=True)
    refresh_warned_at: Mapped[datetime | None]
    failure_count: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(255))
    lease_until: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TokenEvent(Base):
    """One entry of an account's history; `detail` is human readable and never a secret."""

    __tablename__ = "token_events"
    __table_args__ = (sa.Index("ix_token_events_account_id_at", "account_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[EventKind] = mapped_column(_str_enum(EventKind))
    at: Mapped[datetime]
    duration_ms: Mapped[int | None]
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    owner: Mapped[str | None] = mapped_column(sa.String(255))


class OAuthLogin(Base):
    """A pending "Connect Webex" login: only a hash of the state is kept, never the state."""

    __tablename__ = "oauth_logins"

    id: Mapped[int] = mapped_column(primary_key=True)
    state_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # Encrypted PKCE verifier; wiped once the login is consumed.
    verifier_enc: Mapped[str | None] = mapped_column(sa.Text)
    session_binding: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
