"""Panel administrators and their passwords: who may log in, and checking what they type.

Passwords are stored as argon2id hashes (argon2-cffi defaults, t=3, m=64 MiB, p=4; R-26), and
a hash made with older parameters is upgraded at the next successful login. Sessions
(core.admin_sessions) and failed-login counts (core.admin_login_throttle) live elsewhere;
core.admins puts the parts together for the panel and the CLI.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from tokenbot.core.clock import Clock
from tokenbot.core.db import Database
from tokenbot.core.errors import AdminError
from tokenbot.core.errors import AdminExists
from tokenbot.core.errors import WeakPassword
from tokenbot.core.models import Base

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MAX_USERNAME_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "AdminAccounts",
    "AdminPrincipal",
    "AdminUser",
    "check_password_policy",
    "normalize_username",
]

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
# argon2 copes with long inputs, but a megabyte "password" is a cheap denial of service.
MAX_PASSWORD_LENGTH = 1024
MAX_USERNAME_LENGTH = 150


def normalize_username(username: str) -> str:
    """Return the stored form of `username` (trimmed, lower case).

    Raises:
        AdminError: empty, too long, or containing whitespace or control characters.
    """
    name = username.strip().lower()
    if not name or len(name) > MAX_USERNAME_LENGTH:
        raise AdminError(
            f"a username needs 1 to {MAX_USERNAME_LENGTH} characters",
            hint="choose a short name such as 'alice'",
        )
    if any(ch.isspace() or ord(ch) < 0x20 for ch in name):
        raise AdminError("a username cannot contain spaces or control characters")
    return name


def check_password_policy(password: str) -> None:
    """Refuse passwords shorter than 8 or longer than 1024 characters (ASVS 6.2.1).

    Raises:
        WeakPassword: with the rule that was broken; never with the password.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"the password is shorter than {MIN_PASSWORD_LENGTH} characters",
            hint="use 15 or more characters; a passphrase of several words works well",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")


class AdminUser(Base):
    """A person who may log in to the panel."""

    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(MAX_USERNAME_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


@dataclass(frozen=True, slots=True)
class AdminPrincipal:
    """Who a valid session or login belongs to."""

    admin_id: int
    username: str


class AdminAccounts:
    """Create admins, change their passwords, and check a username and password.

    Args:
        database: The database holding `admin_users` (migrated to head).
        clock: The time source.
        hasher: argon2 parameters; the defaults are the production ones.
    """

    def __init__(
        self, database: Database, *, clock: Clock, hasher: PasswordHasher | None = None
    ) -> None:
        self._db = database
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    def create(self, username: str, password: str) -> int:
        """Add an admin and return its id.

        Raises:
            AdminError: the username is not acceptable.
            WeakPassword: the password breaks the policy.
            AdminExists: the username is taken.
        """
        name = normalize_username(username)
        check_password_policy(password)
        password_hash = self._hasher.hash(password)
        now = self._clock.now()
        try:
            with self._db.write() as session:
                user = AdminUser(username=name, password_hash=password_hash, created_at=now)
                session.add(user)
                session.flush()
                admin_id = user.id
        except IntegrityError:
            raise AdminExists(
                f"an admin named {name!r} already exists",
                hint="pick another name, or use `tokenbot admin set-password`",
            ) from None
        log.info("admin created", extra={"admin_id": admin_id})
        return admin_id

    def set_password(
        self,
        username: str,
        password: str,
        *,
        in_same_transaction: Callable[[Session, int], object] | None = None,
    ) -> int:
        """Replace an admin's password and return the admin's id.

        Args:
            username: Whose password.
            password: The new password.
            in_same_transaction: Called with the open session and the admin's id, so that a
                change that must go with the new password (ending the sessions) commits with it.

        Raises:
            AdminError: no such admin.
            WeakPassword: the password breaks the policy.
        """
        name = normalize_username(username)
        check_password_policy(password)
        password_hash = self._hasher.hash(password)
        with self._db.write() as session:
            user = session.scalars(sa.select(AdminUser).where(AdminUser.username == name)).first()
            if user is None:
                raise AdminError(f"no admin named {name!r}", hint="create it with admin create")
            user.password_hash = password_hash
            if in_same_transaction is not None:
                in_same_transaction(session, user.id)
            return user.id

    def count(self) -> int:
        """Return how many admins exist."""
        with self._db.read() as session:
            return int(session.scalar(sa.select(sa.func.count()).select_from(AdminUser)) or 0)

    def check(self, name: str, password: str) -> AdminPrincipal | None:
        """Return the admin whose username is `name` and password `password`, or None.

        `name` is already normalized. The password is verified outside any transaction
        (argon2 takes ~0.1 s by design), and an unknown username is verified against a dummy
        hash so both cases take as long. A success records the login time and upgrades a hash
        made with other parameters.
        """
        with self._db.read() as session:
            user = session.scalars(sa.select(AdminUser).where(AdminUser.username == name)).first()
            stored_hash = user.password_hash if user else None
            admin_id = user.id if user else None
        if not self._verify(stored_hash, password) or admin_id is None:
            return None
        values: dict[str, object] = {"last_login_at": self._clock.now()}
        if stored_hash and self._hasher.check_needs_rehash(stored_hash):
            values["password_hash"] = self._hasher.hash(password)
        with self._db.write() as session:
            session.execute(sa.update(AdminUser).where(AdminUser.id == admin_id).values(values))
        return AdminPrincipal(admin_id=admin_id, username=name)

    def _verify(self, stored_hash: str | None, password: str) -> bool:
        if stored_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
            try:
                self._hasher.verify(self._dummy_hash, password)
            except (VerificationError, InvalidHashError):
                pass
            return False
        try:
            return bool(self._hasher.verify(stored_hash, password))
        except (VerificationError, InvalidHashError):
            return False
