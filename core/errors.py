"""The one error hierarchy of tokenbot: every exception core raises on purpose is defined here.

Every error has a stable `code` (for logs, metrics and JSON answers) and a message that says
what went wrong and what to do about it. Boundaries (the Flask error blueprint, the bot's error
handler, the CLI) handle them once; inside, raise `... from` the cause. Messages never contain
a secret. Importing this module imports nothing else of ours and no third-party package.

The hierarchy (a test checks that this map and the classes agree):

* TokenbotError
  * ConfigError - a setting is missing or invalid
    * ConfigProblems - several settings at once, one line each
  * CryptoError - token material does not encrypt or decrypt
  * StoreError - the token store could not do what was asked
    * AccountNotFound
    * NeedsReauth - the grant is gone; someone must log in again
    * StaleWrite - a refresh claim no longer holds; nothing was stored
    * PersistenceFailed - Webex issued tokens we could not store (an alarm)
    * LoginStateInvalid - an OAuth callback's state is not a pending login of this browser
    * TokenUnavailable - no access token with enough validity now
      * BrokerUnavailable - the broker has no usable token now: ask after `retry_after_seconds`
    * RelinkInvalid - a re-login link is unknown, used, expired or replaced
  * OAuthError - a call to the Webex OAuth endpoints failed
    * FatalOAuthError - the grant or client was rejected: do not retry
    * TransientOAuthError - timeout, 5xx, 429: retry later
      * OAuthAnswerLost - the request may have reached Webex; its answer never came
  * BrokerDenied - an API token may not read that account's access token
  * AdminError - an admin or API token could not be created or changed
    * AdminExists
    * WeakPassword
  * BotError - the chat bot could not do what a message asked
    * CommandArgumentError - a command's arguments do not match its spec
    * WebexApiError - a Webex REST call failed (`status`)
      * RateLimited - 429: wait `retry_after` seconds
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccountNotFound",
    "AdminError",
    "AdminExists",
    "BotError",
    "BrokerDenied",
    "BrokerUnavailable",
    "CommandArgumentError",
    "ConfigError",
    "ConfigProblems",
    "CryptoError",
    "FatalOAuthError",
    "LoginStateInvalid",
    "NeedsReauth",
    "OAuthAnswerLost",
    "OAuthError",
    "PersistenceFailed",
    "RelinkInvalid",
    "RateLimited",
    "StaleWrite",
    "StoreError",
    "TokenUnavailable",
    "TokenbotError",
    "TransientOAuthError",
    "WeakPassword",
    "WebexApiError",
]


# The base


class TokenbotError(Exception):
    """Base of every error tokenbot raises on purpose."""

    code: ClassVar[str] = "tokenbot_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


# Configuration and key material


class ConfigError(TokenbotError):
    """A setting is missing or invalid; `key` names it (e.g. `refresh.margin_seconds`)."""

    code = "config_invalid"

    def __init__(self, key: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{key}: {message}", hint=hint)
        self.key = key


class ConfigProblems(ConfigError):
    """Several settings are wrong at once: `problems` holds one `ConfigError` per line.

    `key` and `message` are the first problem's; `str()` is every problem, one per line, so a
    user fixes them all in one go instead of one per run.
    """

    code = "config_problems"

    def __init__(self, problems: list[ConfigError]) -> None:
        first = problems[0]
        super().__init__(first.key, first.message.partition(": ")[2], hint=first.hint)
        self.problems = tuple(problems)

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


class CryptoError(TokenbotError):
    """Token material could not be encrypted or decrypted (wrong key, tampered or moved row)."""

    code = "crypto_failed"


# The token store


class StoreError(TokenbotError):
    """The token store could not do what was asked."""

    code = "store_error"


class AccountNotFound(StoreError):
    """No account with that id or Webex person id."""

    code = "account_not_found"


class NeedsReauth(StoreError):
    """The account's grant is gone (revoked, expired, rejected): someone must log in again."""

    code = "needs_reauth"


class StaleWrite(StoreError):
    """A writer lost its lease or its version is old; its result was not stored."""

    code = "stale_write"


class PersistenceFailed(StoreError):
    """Webex issued new tokens but storing them failed: an alarm, never a silent success."""

    code = "persistence_failed"


class LoginStateInvalid(StoreError):
    """An OAuth callback's `state` is not a pending login of this browser: start over.

    `reason` is one of "missing", "unknown", "foreign", "expired", "replayed".
    """

    code = "login_state_invalid"
    REASONS: ClassVar[frozenset[str]] = frozenset(
        {"missing", "unknown", "foreign", "expired", "replayed"}
    )

    def __init__(self, reason: str, *, hint: str | None = None) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown LoginStateInvalid reason {reason!r}")
        super().__init__(
            f"the login state is {reason}",
            hint=hint or "start the Webex login again from the admin panel",
        )
        self.reason = reason


class TokenUnavailable(StoreError):
    """No access token with enough validity could be obtained now (Webex down, lease held)."""

    code = "token_unavailable"


# The token broker (core.broker)


class BrokerDenied(TokenbotError):
    """The API token may not read this account's access token (or the account is unknown)."""

    code = "broker_denied"


class BrokerUnavailable(TokenUnavailable):
    """No usable token for the broker now (Webex failing); ask again after the wait."""

    code = "broker_unavailable"

    def __init__(self, message: str, *, retry_after_seconds: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after_seconds = retry_after_seconds


# Webex OAuth


class OAuthError(TokenbotError):
    """A call to the Webex OAuth endpoints failed.

    When Webex answered, `status` is its HTTP status and `error` / `description` its RFC 6749
    §5.2 fields (cleaned of secrets and control characters, length-capped); else None and "".
    """

    code = "oauth_error"
    status: int | None = None
    error: str = ""
    description: str = ""


class FatalOAuthError(OAuthError):
    """Webex rejected the grant or the client (`invalid_grant`, `invalid_client`): do not retry."""

    code = "oauth_fatal"

    def __init__(self, error: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.error = error


class TransientOAuthError(OAuthError):
    """Timeout, connection error, 5xx or 429: keep the token and retry later."""

    code = "oauth_transient"

    def __init__(
        self, message: str, *, retry_after: float | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class OAuthAnswerLost(TransientOAuthError):
    """The request may have reached Webex, but its answer never came (read timeout, drop).

    Retried like any transient error; but if Webex processed it and rotated the refresh token,
    the token we still hold is dead, so a later `invalid_grant` is explained by this.
    """

    code = "oauth_answer_lost"


# Panel administrators and API tokens


class AdminError(TokenbotError):
    """A panel administrator or API token could not be created or changed as asked."""

    code = "admin_error"


class AdminExists(AdminError):
    """An admin with that username already exists."""

    code = "admin_exists"


class WeakPassword(AdminError):
    """A password breaks the policy (at least 8 characters; 15 or more recommended)."""

    code = "weak_password"


# The chat bot


class BotError(TokenbotError):
    """The chat bot could not do what a message asked."""

    code = "bot_error"


class CommandArgumentError(BotError):
    """A chat command's arguments do not match its spec; the message says what is expected."""

    code = "bad_arguments"


class WebexApiError(BotError):
    """A Webex REST call made for the bot failed; `status` is the HTTP status (0: no answer)."""

    code = "webex_api_error"

    def __init__(self, message: str, *, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class RateLimited(WebexApiError):
    """Webex answered 429: wait `retry_after` seconds before the next call."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, hint: str | None = None) -> None:
        super().__init__(message, status=429, hint=hint)
        self.retry_after = retry_after


class RelinkInvalid(StoreError):
    """A re-login link cannot be used: `reason` is unknown, used, expired or revoked."""

    code = "relink_invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(f"this re-login link is {reason}", hint="ask for a new link")
        self.reason = reason
