"""The one front the panel and the CLI use for admins: it composes four parts, one job each.

- core.admin_accounts: admin users and their argon2id password hashes (R-26).
- core.admin_sessions: server-side sessions, stored as SHA-256 hashes of their ids (R-24).
- core.api_tokens: named bearer tokens for the JSON API.
- core.admin_login_throttle: failed logins counted per username and per address (R-27).

`AdminStore.authenticate` is the one flow that spans two parts (throttle, then password). All
of it is data in the token store's database, so several panel processes share one view of who
is logged in and how many logins failed. Framework-free: the panel maps these results to HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher

from tokenbot.core.admin_accounts import MAX_PASSWORD_LENGTH
from tokenbot.core.admin_accounts import MIN_PASSWORD_LENGTH
from tokenbot.core.admin_accounts import AdminAccounts
from tokenbot.core.admin_accounts import AdminPrincipal
from tokenbot.core.admin_accounts import AdminUser
from tokenbot.core.admin_accounts import normalize_username
from tokenbot.core.admin_login_throttle import LoginLimiter
from tokenbot.core.admin_login_throttle import LoginThrottle
from tokenbot.core.admin_login_throttle import ThrottleLimit
from tokenbot.core.admin_login_throttle import UserPace
from tokenbot.core.admin_sessions import AdminSession
from tokenbot.core.admin_sessions import AdminSessions
from tokenbot.core.api_tokens import ALL_ACCOUNTS
from tokenbot.core.api_tokens import API_SCOPES
from tokenbot.core.api_tokens import API_TOKEN_PREFIX
from tokenbot.core.api_tokens import SCOPE_STATUS
from tokenbot.core.api_tokens import SCOPE_TOKENS
from tokenbot.core.api_tokens import AccountChoice
from tokenbot.core.api_tokens import ApiClient
from tokenbot.core.api_tokens import ApiToken
from tokenbot.core.api_tokens import ApiTokenInfo
from tokenbot.core.api_tokens import ApiTokenStore
from tokenbot.core.clock import Clock
from tokenbot.core.db import Database
from tokenbot.core.errors import AdminError

__all__ = [
    "ALL_ACCOUNTS",
    "API_SCOPES",
    "API_TOKEN_PREFIX",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "AdminPrincipal",
    "AdminSession",
    "AdminStore",
    "AdminUser",
    "ApiClient",
    "ApiToken",
    "ApiTokenInfo",
    "LoginResult",
    "LoginThrottle",
    "SCOPE_STATUS",
    "SCOPE_TOKENS",
    "ThrottleLimit",
]

log = logging.getLogger(__name__)


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

    The parts are attributes (`accounts`, `sessions`, `api_tokens`, `limiter`); the methods
    below are the names the panel and CLI call.

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
        self.accounts = AdminAccounts(database, clock=clock, hasher=hasher)
        self.sessions = AdminSessions(database, clock=clock)
        self.api_tokens = ApiTokenStore(database, clock=clock)
        self.limiter = LoginLimiter(
            database, clock=clock, user_limit=user_limit, ip_limit=ip_limit, user_pace=user_pace
        )

    @property
    def user_limit(self) -> ThrottleLimit:
        """Failed logins allowed per username in a window."""
        return self.limiter.user_limit

    @property
    def ip_limit(self) -> ThrottleLimit:
        """Failed logins allowed per client address in a window."""
        return self.limiter.ip_limit

    @property
    def user_pace(self) -> UserPace:
        """How a username tried from many addresses is slowed down (never locked)."""
        return self.limiter.user_pace

    # -- admins (core.admin_accounts) -------------------------------------------------------

    def create_admin(self, username: str, password: str) -> int:
        """Add an admin and return its id (see `AdminAccounts.create`).

        Raises:
            AdminError: the username is not acceptable.
            WeakPassword: the password breaks the policy.
            AdminExists: the username is taken.
        """
        return self.accounts.create(username, password)

    def set_password(self, username: str, password: str) -> None:
        """Replace an admin's password and end all of their sessions, in one transaction.

        Raises:
            AdminError: no such admin.
            WeakPassword: the password breaks the policy.
        """
        self.accounts.set_password(username, password, in_same_transaction=AdminSessions.end_all_of)

    def count_admins(self) -> int:
        """Return how many admins exist."""
        return self.accounts.count()

    def authenticate(self, username: str, password: str, *, client_ip: str) -> LoginResult:
        """Check a login attempt, counting failures per username and per client address.

        A throttled attempt is refused before its password is looked at; an unknown username
        costs as much as a wrong password and is counted the same (see `AdminAccounts.check`).
        """
        try:
            name = normalize_username(username)
        except AdminError:
            name = username
        wait = self.limiter.admit(name, client_ip)
        if wait:
            log.warning("login throttled", extra={"retry_after": wait})
            return LoginResult(admin=None, throttled=True, retry_after_seconds=wait)
        admin = self.accounts.check(name, password)
        if admin is None:
            log.warning("login failed")
            return LoginResult(admin=None)
        self.limiter.succeeded(name, client_ip)
        log.info("login succeeded", extra={"admin_id": admin.admin_id})
        return LoginResult(admin=admin)

    # -- sessions (core.admin_sessions) -----------------------------------------------------

    def start_session(self, admin_id: int) -> str:
        """Create a server-side session for `admin_id` and return its opaque id (for a cookie)."""
        return self.sessions.start(admin_id)

    def resolve_session(
        self, session_id: str, *, idle_seconds: int, absolute_seconds: int
    ) -> AdminPrincipal | None:
        """Return who owns `session_id`, or None when it is unknown, idle or too old."""
        return self.sessions.resolve(
            session_id, idle_seconds=idle_seconds, absolute_seconds=absolute_seconds
        )

    def end_session(self, session_id: str) -> None:
        """Invalidate `session_id` on the server (logout)."""
        self.sessions.end(session_id)

    def purge_expired(self, *, idle_seconds: int, absolute_seconds: int) -> int:
        """Delete sessions past either timeout and throttle rows past a day; return sessions cut."""
        cut = self.sessions.purge_expired(
            idle_seconds=idle_seconds, absolute_seconds=absolute_seconds
        )
        self.limiter.purge(older_than_seconds=86400)
        return cut

    # -- API tokens (core.api_tokens) -------------------------------------------------------

    def create_api_token(
        self,
        name: str,
        *,
        scopes: Sequence[str] = (SCOPE_STATUS,),
        accounts: AccountChoice = (),
        webex_scopes: Sequence[str] = (),
        expires_at: datetime | None = None,
    ) -> str:
        """Create a named API token and return it (see `ApiTokenStore.create`).

        Raises:
            AdminError: the name or the grant is not acceptable.
        """
        return self.api_tokens.create(
            name, scopes=scopes, accounts=accounts, webex_scopes=webex_scopes, expires_at=expires_at
        )

    def verify_api_token(self, token: str) -> str | None:
        """Return the name of the API token `token`, or None (see `ApiTokenStore.verify`)."""
        return self.api_tokens.verify(token)

    def authenticate_api_token(self, token: str) -> ApiClient | None:
        """Return who holds `token` and what it may do, or None (unknown, revoked, expired)."""
        return self.api_tokens.authenticate(token)

    def take_api_request(self, name: str, *, per_minute: int) -> int:
        """Count a request of API token `name`; return seconds to wait (0: go ahead)."""
        return self.api_tokens.take_request(name, per_minute=per_minute)

    def revoke_api_token(self, name: str) -> bool:
        """Delete the API token called `name`; return whether one existed."""
        return self.api_tokens.revoke(name)

    def list_api_tokens(self) -> list[ApiTokenInfo]:
        """Return every API token's name, grant, creation, expiry and last use, oldest first."""
        return self.api_tokens.infos()

    def api_token_names(self) -> list[str]:
        """Return the names of all API tokens, oldest first."""
        return self.api_tokens.names()
