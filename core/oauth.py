"""The Webex OAuth client: authorize URL, code exchange, refresh and `/people/me`.

Built on authlib's requests integration (`client_secret_post` by default, or
`client_secret_basic`; PKCE S256). Every call has a
timeout, and every failure is classified once, here, into the hierarchy of `core.errors`:
`FatalOAuthError` (the grant or the client was rejected: do not retry), `TransientOAuthError`
(timeouts, dropped connections, 5xx, 429: keep the token and retry later) or plain
`OAuthError`. No token, code, secret or verifier ever reaches an exception message or a log
line; logs carry fingerprints.

The client keeps no token state between calls and opens a fresh HTTP session per call, so one
instance is safe to share between threads.
"""

from __future__ import annotations

import email.utils
import json
import logging
import secrets
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests
import urllib3
from authlib.integrations.requests_client import OAuth2Session
from requests.adapters import HTTPAdapter

from tokenbot.core.errors import FatalOAuthError
from tokenbot.core.errors import OAuthAnswerLost
from tokenbot.core.errors import OAuthError
from tokenbot.core.errors import TransientOAuthError
from tokenbot.core.logs import fingerprint
from tokenbot.core.logs import register_secret
from tokenbot.core.tokens import Identity
from tokenbot.core.tokens import TokenSet

__all__ = ["WebexOAuthClient", "parse_retry_after"]

log = logging.getLogger(__name__)

# RFC 6749 §5.2 codes that mean "this grant or this client is not accepted": retrying cannot help.
_FATAL_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})
_AUTH_METHODS = ("client_secret_post", "client_secret_basic")
# Longest error description we copy from Webex into our own messages.
_MAX_DESCRIPTION = 200


class WebexOAuthClient:
    """Speak OAuth 2.0 to Webex for one integration (client id, secret, redirect URI, scopes).

    Args:
        client_id: The integration's client id.
        client_secret: The integration's client secret.
        authorize_url: The authorize endpoint, e.g. ``https://webexapis.com/v1/authorize``.
        token_url: The token endpoint, e.g. ``https://webexapis.com/v1/access_token``.
        api_base_url: The REST base ending in ``/v1/``, for ``people/me``.
        redirect_uri: The registered redirect URI, sent byte-identical in both requests.
        scopes: The scopes to request (space-separated in the URL).
        timeout_seconds: Connect and read timeout of every HTTP call.
        token_auth_method: ``client_secret_post`` (the secret in the form body, what Webex
            documents) or ``client_secret_basic`` (HTTP Basic, RFC 6749 §2.3.1).
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        authorize_url: str,
        token_url: str,
        api_base_url: str,
        redirect_uri: str,
        scopes: Sequence[str],
        timeout_seconds: float = 15.0,
        token_auth_method: str = "client_secret_post",
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        if not redirect_uri:
            raise ValueError("redirect_uri is required")
        if isinstance(scopes, str):
            raise TypeError("scopes must be a sequence of scope names, not one string")
        if not scopes:
            raise ValueError("at least one scope is required")
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if token_auth_method not in _AUTH_METHODS:
            raise ValueError(
                f"token_auth_method must be one of {', '.join(_AUTH_METHODS)}, "
                f"got {token_auth_method!r}"
            )
        self.token_auth_method = token_auth_method
        self.client_id = client_id
        self._client_secret = client_secret
        self.authorize_url = authorize_url
        self.token_url = token_url
        self.api_base_url = api_base_url if api_base_url.endswith("/") else api_base_url + "/"
        self.redirect_uri = redirect_uri
        self.scopes: tuple[str, ...] = tuple(scopes)
        self.timeout_seconds = timeout_seconds
        # Only the long-lived secret is registered: each registration recompiles the redactor's
        # pattern, too costly per token. Tokens are never logged here, only their fingerprints.
        register_secret(client_secret)
        # Every call gets its own OAuth2Session (authlib keeps token state on it, so sharing
        # one across threads is unsafe), but all of them share this connection pool: a TCP
        # connect per refresh cost both sides CPU (the refresher is CPU-bound). No retries:
        # a reused connection that breaks surfaces as a transient error, as before.
        self._pool = _SharedPool(pool_maxsize=32)

    def __repr__(self) -> str:
        return f"WebexOAuthClient(client_id={self.client_id!r}, token_url={self.token_url!r})"

    # -- authorization -------------------------------------------------------------------------

    def new_verifier(self) -> str:
        """Return a fresh PKCE code verifier: 32 random bytes, base64url (43 characters)."""
        return secrets.token_urlsafe(32)

    def authorization_url(self, *, state: str, code_verifier: str) -> str:
        """Build the URL that sends the browser to Webex's consent page.

        Args:
            state: The single-use CSRF value bound to the browser session.
            code_verifier: The PKCE verifier; only its S256 challenge goes into the URL.
        """
        if not state or not code_verifier:
            raise ValueError("state and code_verifier are required")
        with self._session() as session:
            url, _ = session.create_authorization_url(
                self.authorize_url,
                state=state,
                code_verifier=code_verifier,
                scope=" ".join(self.scopes),
                redirect_uri=self.redirect_uri,
            )
        # Form encoding writes a space as "+"; Webex documents "%20". A literal "+" in a value is
        # always encoded as "%2B", so every "+" left in the query is a space.
        base, _, query = str(url).partition("?")
        return f"{base}?{query.replace('+', '%20')}"

    # -- token endpoint ------------------------------------------------------------------------

    def exchange_code(self, code: str, *, code_verifier: str) -> TokenSet:
        """Redeem an authorization code (once) for tokens.

        Raises:
            FatalOAuthError: Webex rejected the code, the verifier or the client.
            TransientOAuthError: timeout, connection error, 5xx or 429.
            OAuthError: any other failure.
        """
        if not code or not code_verifier:
            raise ValueError("code and code_verifier are required")
        log.debug(
            "exchanging authorization code %s (verifier %s)",
            fingerprint(code),
            fingerprint(code_verifier),
        )
        captured: dict[str, Any] = {"secrets": (code, code_verifier)}
        with self._session(captured) as session:
            self._call(
                "authorization_code",
                lambda: session.fetch_token(
                    self.token_url,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    timeout=self.timeout_seconds,
                ),
                secrets_sent=(code, code_verifier, self._client_secret),
            )
        return self._token_set(captured, "authorization_code")

    def refresh(self, refresh_token: str) -> TokenSet:
        """Trade a refresh token for a new access token (and maybe a new refresh token).

        The returned `TokenSet.refresh_token` is None when Webex sent none back.

        Raises:
            FatalOAuthError: ``invalid_grant`` (token revoked, expired, rotated away) or a
                rejected client.
            TransientOAuthError: timeout, connection error, 5xx or 429.
            OAuthError: any other failure.
        """
        if not refresh_token:
            raise ValueError("refresh_token is required")
        log.debug("refreshing with refresh token %s", fingerprint(refresh_token))
        captured: dict[str, Any] = {"secrets": (refresh_token,)}
        with self._session(captured) as session:
            self._call(
                "refresh_token",
                lambda: session.refresh_token(
                    self.token_url,
                    refresh_token=refresh_token,
                    timeout=self.timeout_seconds,
                ),
                secrets_sent=(refresh_token, self._client_secret),
            )
        return self._token_set(captured, "refresh_token")

    # -- REST ------------------------------------------------------------------------------------

    def identify(self, access_token: str) -> Identity:
        """Ask Webex who owns `access_token` (``GET people/me``).

        Raises:
            FatalOAuthError: 401, the token is not (or no longer) valid (``invalid_token``).
            TransientOAuthError: timeout, connection error, 5xx or 429.
            OAuthError: any other failure, or an answer without an id or email.
        """
        if not access_token:
            raise ValueError("access_token is required")
        url = self.api_base_url + "people/me"
        token = {"access_token": access_token, "token_type": "Bearer"}
        with self._session(token=token) as session:
            response = self._call(
                "people/me",
                lambda: session.get(url, timeout=self.timeout_seconds),
                secrets_sent=(access_token,),
            )
            if response.status_code != 200:
                if response.status_code == 401:
                    raise FatalOAuthError(
                        "invalid_token",
                        "Webex rejected the access token on people/me (HTTP 401)",
                        hint="log in again",
                    )
                raise _classify_status(response, "people/me", (access_token,))
            body = _json_object(response)
        try:
            emails = body.get("emails") or []
            return Identity(
                person_id=str(body["id"]),
                email=str(emails[0]),
                display_name=str(body.get("displayName") or emails[0]),
                org_id=str(body["orgId"]) if body.get("orgId") else None,
            )
        except (KeyError, IndexError, TypeError) as exc:
            raise OAuthError("Webex answered people/me without an id or an email") from exc

    def revoke_grant(self, access_token: str, *, person_id: str) -> int:
        """Revoke at Webex this integration's grants of `person_id`; return how many went.

        Webex's admin API (``identity:tokens_write``): ``GET authorizations?personId=`` lists
        the person's authorizations; each of this client's is deleted by id. (``DELETE
        authorizations?clientId=`` would revoke every user's grant in the org: never used.)

        Raises:
            FatalOAuthError: 401, the token is not valid.
            TransientOAuthError: timeout, connection error, 5xx or 429.
            OAuthError: any other refusal (403: the token lacks the scope or admin rights).
        """
        url = self.api_base_url + "authorizations"
        token = {"access_token": access_token, "token_type": "Bearer"}
        sent = (access_token,)
        with self._session(token=token) as session:
            listed = self._call(
                "authorizations",
                lambda: session.get(
                    url, params={"personId": person_id}, timeout=self.timeout_seconds
                ),
                secrets_sent=sent,
            )
            if listed.status_code != 200:
                raise _classify_status(listed, "authorizations", sent)
            items = _json_object(listed).get("items") or []
            ours = [
                str(item["id"])
                for item in items
                if isinstance(item, dict)
                and item.get("clientId") == self.client_id
                and item.get("id")
            ]
            revoked = 0
            for authorization_id in ours:
                target = f"{url}/{quote(authorization_id, safe='')}"
                answer = self._call(
                    "authorizations",
                    lambda target=target: session.delete(target, timeout=self.timeout_seconds),
                    secrets_sent=sent,
                )
                if answer.status_code == 204:
                    revoked += 1
                elif answer.status_code != 404:  # 404: already gone, as wanted
                    raise _classify_status(answer, "authorizations", sent)
            return revoked

    # -- internals -------------------------------------------------------------------------------

    def _session(
        self, captured: dict[str, Any] | None = None, token: dict[str, str] | None = None
    ) -> OAuth2Session:
        session = OAuth2Session(
            client_id=self.client_id,
            client_secret=self._client_secret,
            token_endpoint_auth_method=self.token_auth_method,
            code_challenge_method="S256",
            redirect_uri=self.redirect_uri,
            token=token,
        )
        session.mount("https://", self._pool)
        session.mount("http://", self._pool)
        if captured is not None:

            def check(response: requests.Response) -> requests.Response:
                # Classify before authlib parses: authlib would take a 429 JSON body without an
                # "error" key for a token, and keeps no distinction between transient and fatal.
                captured["body"] = _check_token_response(response, captured.get("secrets", ()))
                return response

            session.register_compliance_hook("access_token_response", check)
            session.register_compliance_hook("refresh_token_response", check)
        return session

    def _call(self, what: str, send: Any, *, secrets_sent: Sequence[str]) -> Any:
        try:
            return send()
        except OAuthError:
            raise
        except (requests.ConnectionError, requests.Timeout) as exc:
            cause = None if _leaks(exc, secrets_sent) else exc
            if _never_sent(exc):
                raise TransientOAuthError(
                    f"could not connect to Webex for {what} ({type(exc).__name__})",
                    hint="retried automatically",
                ) from cause
            if isinstance(exc, requests.Timeout):
                message = f"Webex did not answer {what} within {self.timeout_seconds:g} s"
            else:
                message = f"the connection to Webex broke during {what} ({type(exc).__name__})"
            raise OAuthAnswerLost(message, hint="retried automatically") from cause
        except requests.exceptions.ChunkedEncodingError as exc:
            raise OAuthAnswerLost(
                f"Webex's answer to {what} was cut off", hint="retried automatically"
            ) from (None if _leaks(exc, secrets_sent) else exc)
        except requests.RequestException as exc:
            raise OAuthError(f"the request for {what} failed ({type(exc).__name__})") from None
        except Exception as exc:
            # authlib raises its own errors (and ValueError) for answers it cannot parse.
            raise OAuthError(
                f"Webex's answer to {what} could not be used ({type(exc).__name__})"
            ) from None

    def _token_set(self, captured: dict[str, Any], grant: str) -> TokenSet:
        body = captured.get("body")
        if not isinstance(body, dict):
            raise OAuthError(f"Webex's answer to {grant} had no token")
        try:
            access_token = body["access_token"]
            if not isinstance(access_token, str) or not access_token:
                raise TypeError("access_token")
            # Optional in RFC 6749 §5.1: without it the lifetime is unknown (None), not a failure.
            expires_in = int(body["expires_in"]) if body.get("expires_in") is not None else None
            refresh_token = body.get("refresh_token") or None
            if refresh_token is not None and not isinstance(refresh_token, str):
                raise TypeError("refresh_token")
            rt_expires = body.get("refresh_token_expires_in")
            tokens = TokenSet(
                access_token=access_token,
                expires_in=expires_in,
                refresh_token=refresh_token,
                refresh_token_expires_in=int(rt_expires) if rt_expires is not None else None,
                token_type=str(body.get("token_type") or "Bearer"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise OAuthError(
                f"Webex's answer to {grant} lacks a usable access_token (or a numeric expires_in)"
            ) from exc
        log.debug(
            "%s succeeded: access %s (%s s), refresh %s",
            grant,
            fingerprint(tokens.access_token),
            "unknown" if tokens.expires_in is None else tokens.expires_in,
            fingerprint(tokens.refresh_token) if tokens.refresh_token else "unchanged",
        )
        return tokens


class _SharedPool(HTTPAdapter):
    """A connection pool that outlives the per-call sessions mounting it."""

    def close(self) -> None:
        """Stay open when a session closes; idle connections are reused or dropped by urllib3."""


def _check_token_response(response: requests.Response, secrets_sent: Sequence[str]) -> Any:
    """Return the JSON body of a 200 token answer; raise the classified error otherwise."""
    if response.status_code == 200:
        return _json_object(response)
    raise _classify_status(response, "the token request", secrets_sent)


def _classify_status(
    response: requests.Response, what: str, secrets_sent: Sequence[str]
) -> OAuthError:
    status = response.status_code
    body: dict[str, Any] = {}
    try:
        parsed = response.json()
        if isinstance(parsed, dict):
            body = parsed
    except ValueError:
        pass
    error = str(body.get("error") or "")
    description = _safe_description(body, secrets_sent)
    detail = (
        f"HTTP {status}"
        + (f", {error}" if error else "")
        + (f": {description}" if description else "")
    )
    failure: OAuthError
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        failure = TransientOAuthError(
            f"Webex rate-limited {what} ({detail})", retry_after=retry_after
        )
    elif status >= 500:
        failure = TransientOAuthError(f"Webex failed {what} ({detail})")
    elif status in (400, 401) and error in _FATAL_ERRORS:
        hint = (
            "log in again"
            if error == "invalid_grant"
            else "check WEBEX_CLIENT_ID and WEBEX_CLIENT_SECRET"
        )
        failure = FatalOAuthError(error, f"Webex rejected {what} ({detail})", hint=hint)
    else:
        failure = OAuthError(f"Webex refused {what} ({detail})")
    # What Webex said, kept apart so that the panel can name the setup mistake behind it.
    failure.status = status
    failure.error = error[:64]
    failure.description = description
    return failure


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise OAuthError(f"Webex answered HTTP {response.status_code} with no JSON object")
    return body


def _safe_description(body: dict[str, Any], secrets_sent: Sequence[str]) -> str:
    raw = body.get("error_description") or body.get("message") or ""
    text = raw if isinstance(raw, str) else json.dumps(raw)
    for value in secrets_sent:
        if value:
            text = text.replace(value, "[redacted]")
    # Hostile text: no control characters (log lines, headers), and a bounded length.
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text[:_MAX_DESCRIPTION]


def _never_sent(exc: requests.RequestException) -> bool:
    """Tell whether the request certainly never reached Webex (the connection was not made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _leaks(exc: BaseException, secrets_sent: Sequence[str]) -> bool:
    """Tell whether an exception's text contains a secret (then it must not be chained)."""
    text = repr(exc)
    return any(value and value in text for value in secrets_sent)


MAX_RETRY_AFTER_SECONDS = 86_400.0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delta-seconds or an HTTP date; None when absent or bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds == float("inf"):  # NaN or infinite
        return None
    # A day at most: a broken or hostile header must not park an account for years (or
    # overflow the datetime arithmetic of the back-off).
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)
