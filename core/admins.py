"""Panel administrators and their server-side sessions; the one store the panel and CLI use.

`AdminStore` also fronts the API tokens (core.api_tokens) and checks logins against the
throttle (core.login_throttle). All of it is data in the token store's database, so several
panel processes share one view of who is logged in and how many logins failed (R-24, R-27).
Nothing secret is stored in a form that gives it back: passwords are argon2id hashes
(argon2-cffi defaults, t=3, m=64 MiB, p=4; R-26); session ids are SHA-256 hashes of 256-bit
random values (a fast hash is enough for values that cannot be guessed). Framework-free: the
panel maps these results to HTTP.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from tokenbot.core.admin_login_throttle import LoginThrottle
from tokenbot.core.admin_login_throttle import ThrottleLimit
from tokenbot.core.admin_login_throttle import UserPace
from tokenbot.core.admin_login_throttle import admit_attempt
from tokenbot.core.admin_login_throttle import forget_success
from tokenbot.core.admin_login_throttle import known_key
from tokenbot.core.admin_login_throttle import pair_key
from tokenbot.core.admin_login_throttle import purge_throttles
from tokenbot.core.admin_login_throttle import throttle_key
from tokenbot.core.api_tokens import API_TOKEN_PREFIX
from tokenbot.core.api_tokens import ApiToken
from tokenbot.core.api_tokens import ApiTokenStore
from tokenbot.core.clock import Clock
from tokenbot.core.db import Database
from tokenbot.core.errors import AdminError
from tokenbot.core.errors import AdminExists
from tokenbot.core.errors import WeakPassword
from tokenbot.core.models import Base

__all__ = [
    "API_TOKEN_PREFIX",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "AdminPrincipal",
    "AdminSession",
    "AdminStore",
    "AdminUser",
    "ApiToken",
    "LoginResult",
    "LoginThrottle",
    "ThrottleLimit",
]

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
# argon2 copes with long inputs, but a megabyte "password" is a cheap denial of service.
MAX_PASSWORD_LENGTH = 1024
MAX_USERNAME_LENGTH = 150
# A session's last_seen_at is written at most this often: the dashboard polls every few
# seconds, and a write per poll would serialize readers behind SQLite's write lock for nothing.
_TOUCH_SECONDS = 30


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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


class AdminSession(Base):
    """A logged-in browser: the cookie holds the id, the table only its SHA-256."""

    __tablename__ = "admin_sessions"

    id_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    admin_id: Mapped[int] = mapped_column(
        sa.ForeignKey("admin_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class AdminPrincipal:
    """Who a valid session or login belongs to."""

    admin_id: int
    username: str


@dataclass(frozen=True, slots=True)
class LoginResult:
    """The outcome of a login attempt.

    `admin` is set on success. `throttled` means the password was not even checked;
    `retry_after_seconds` says when trying again makes sense. An unknown user and a wrong
    password give the same result, by design (no user enumeration, ASVS 6.3.8).
    """

    admin: AdminPrincipal | None
    throttled: bool = False
    retry_after_seconds: int = 0


class AdminStore:
    """Admins, sessions, API tokens and throttling over one `Database`.

    Args:
        database: The database holding the panel's tables (migrated to head).
        clock: The time source; tests pass a `FrozenClock` to travel past timeouts.
        hasher: argon2 parameters; the defaults are the production ones (tests may pass a
            cheaper hasher to stay fast; hashes made with other parameters are upgraded at the
            next successful login).
        user_limit: Failed logins allowed per username from one client address in a window.
        ip_limit: Failed logins allowed per client address in a window.
        user_pace: How a username tried from many addresses is slowed down (never locked).
    """

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock,
        hasher: PasswordHasher | None = None,
        user_limit: ThrottleLimit | None = None,
        ip_limit: ThrottleLimit | None = None,
        user_pace: UserPace | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        self.user_limit = user_limit or ThrottleLimit(failures=10, window_seconds=900)
        self.ip_limit = ip_limit or ThrottleLimit(failures=50, window_seconds=900)
        # Past 10 failures of one username (from anywhere), one try per 5 s for it, except from
        # its known addresses: slowed, never locked (issue 11 finding 6).
        self.user_pace = user_pace or UserPace(
            after=self.user_limit.failures, window_seconds=900, spacing_seconds=5
        )
        self._dummy_hash: str | None = None
        self.api_tokens = ApiTokenStore(database, clock=clock)

    # -- admins -----------------------------------------------------------------------------

    def create_admin(self, username: str, password: str) -> int:
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

    def set_password(self, username: str, password: str) -> None:
        """Replace an admin's password and end all of their sessions.

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
            session.execute(sa.delete(AdminSession).where(AdminSession.admin_id == user.id))

    def count_admins(self) -> int:
        """Return how many admins exist."""
        with self._db.read() as session:
            return int(session.scalar(sa.select(sa.func.count()).select_from(AdminUser)) or 0)

    def authenticate(self, username: str, password: str, *, client_ip: str) -> LoginResult:
        """Check a login attempt, counting failures per username and per client address.

        The password is verified outside any transaction (argon2 takes ~0.1 s by design), and
        an unknown username is verified against a dummy hash so both cases take as long.
        """
        now = self._clock.now()
        try:
            name = normalize_username(username)
        except AdminError:
            name = username
        ip_key = throttle_key("ip", client_ip)
        pair = pair_key(name, client_ip)
        user_key = throttle_key("user", name)
        known = known_key(name, client_ip)
        # Counted before the password is checked, atomically (see core.admin_login_throttle).
        with self._db.write() as session:
            wait = admit_attempt(
                session,
                ((pair, self.user_limit), (ip_key, self.ip_limit)),
                now,
                user=(user_key, known, self.user_pace),
            )
        if wait:
            log.warning("login throttled", extra={"retry_after": wait})
            return LoginResult(admin=None, throttled=True, retry_after_seconds=wait)
        with self._db.read() as session:
            user = session.scalars(sa.select(AdminUser).where(AdminUser.username == name)).first()
            stored_hash = user.password_hash if user else None
            admin_id = user.id if user else None

        valid = self._verify(stored_hash, password)
        if not valid or admin_id is None:
            log.warning("login failed")
            return LoginResult(admin=None)

        new_hash = None
        if stored_hash and self._hasher.check_needs_rehash(stored_hash):
            new_hash = self._hasher.hash(password)
        with self._db.write() as session:
            values: dict[str, object] = {"last_login_at": now}
            if new_hash:
                values["password_hash"] = new_hash
            session.execute(sa.update(AdminUser).where(AdminUser.id == admin_id).values(values))
            # A success clears this user's counts and takes back the address's count of this
            # attempt; the address keeps its other failures, so one valid account cannot be
            # used to reset guessing against the others.
            forget_success(
                session, cleared=(pair, user_key), undone=(ip_key,), known=known, now=now
            )
        log.info("login succeeded", extra={"admin_id": admin_id})
        return LoginResult(admin=AdminPrincipal(admin_id=admin_id, username=name))

    def _verify(self, stored_hash: str | None, password: str) -> bool:
        if stored_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
            stored_hash = self._dummy_hash
            try:
                self._hasher.verify(stored_hash, password)
            except (VerificationError, InvalidHashError):
                pass
            return False
        try:
            return bool(self._hasher.verify(stored_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    # -- sessions ---------------------------------------------------------------------------

    def start_session(self, admin_id: int) -> str:
        """Create a server-side session for `admin_id` and return its opaque id (for a cookie)."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock.now()
        with self._db.write() as session:
            session.add(
                AdminSession(
                    id_hash=_sha256(session_id),
                    admin_id=admin_id,
                    created_at=now,
                    last_seen_at=now,
                )
            )
        return session_id

    def resolve_session(
        self, session_id: str, *, idle_seconds: int, absolute_seconds: int
    ) -> AdminPrincipal | None:
        """Return who owns `session_id`, or None when it is unknown, idle or too old.

        An expired session is deleted, so its cookie can never come back to life.
        """
        if not session_id:
            return None
        now = self._clock.now()
        id_hash = _sha256(session_id)
        with self._db.read() as session:
            row = session.execute(
                sa.select(AdminSession, AdminUser.username)
                .join(AdminUser, AdminUser.id == AdminSession.admin_id)
                .where(AdminSession.id_hash == id_hash)
            ).first()
        if row is None:
            return None
        stored, username = row
        idle_end = stored.last_seen_at + timedelta(seconds=idle_seconds)
        absolute_end = stored.created_at + timedelta(seconds=absolute_seconds)
        if now >= idle_end or now >= absolute_end:
            self.end_session(session_id)
            return None
        if (now - stored.last_seen_at).total_seconds() >= min(_TOUCH_SECONDS, idle_seconds / 10):
            with self._db.write() as session:
                session.execute(
                    sa.update(AdminSession)
                    .where(AdminSession.id_hash == id_hash)
                    .values(last_seen_at=now)
                )
        return AdminPrincipal(admin_id=stored.admin_id, username=str(username))

    def end_session(self, session_id: str) -> None:
        """Invalidate `session_id` on the server (logout)."""
        with self._db.write() as session:
            session.execute(
                sa.delete(AdminSession).where(AdminSession.id_hash == _sha256(session_id))
            )

    def purge_expired(self, *, idle_seconds: int, absolute_seconds: int) -> int:
        """Delete sessions past either timeout and throttle rows past a day; return sessions cut."""
        now = self._clock.now()
        with self._db.write() as session:
            result = session.execute(
                sa.delete(AdminSession).where(
                    sa.or_(
                        AdminSession.last_seen_at <= now - timedelta(seconds=idle_seconds),
                        AdminSession.created_at <= now - timedelta(seconds=absolute_seconds),
                    )
                )
            )
            purge_throttles(session, now - timedelta(days=1), known_before=now - timedelta(days=30))
            return int(getattr(result, "rowcount", 0) or 0)

    # -- API tokens (core.api_tokens) -------------------------------------------------------

    def create_api_token(self, name: str) -> str:
        """Create a named API token and return it (see `ApiTokenStore.create`)."""
        return self.api_tokens.create(name)

    def verify_api_token(self, token: str) -> str | None:
        """Return the name of the API token `token`, or None (see `ApiTokenStore.verify`)."""
        return self.api_tokens.verify(token)

    def revoke_api_token(self, name: str) -> bool:
        """Delete the API token called `name`; return whether one existed."""
        return self.api_tokens.revoke(name)

    def api_token_names(self) -> list[str]:
        """Return the names of all API tokens, oldest first."""
        return self.api_tokens.names()
