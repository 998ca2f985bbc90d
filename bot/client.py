"""The Webex client of the bot: the SDK, always on the bot identity's current token.

Every call asks the token service for the account's valid access token (which refreshes inline
when due), so a refresh by the scheduler, another instance or the panel is picked up without a
restart. The SDK object is rebuilt only when the token changes. On a 401 the client asks the
token service for one refresh (`after_401`: it re-reads the store first, so a refresh someone
else just did is reused) and retries once. 429 is honoured: the call waits `Retry-After` within
a bounded time, or raises `RateLimited` for callers that schedule their own retry (polling).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any
from typing import Protocol
from typing import TypeVar

import requests

from tokenbot.bot.budget import WebexBudget
from tokenbot.bot.message import Message
from tokenbot.bot.sdk import Sdk
from tokenbot.bot.sdk import WebexApi
from tokenbot.bot.sdk import load_sdk
from tokenbot.core.errors import RateLimited
from tokenbot.core.errors import WebexApiError

__all__ = ["TokenSource", "WebexClient"]

log = logging.getLogger(__name__)
T = TypeVar("T")
# One retry after a 401, plus enough 429 waits to matter; the time budget is the real bound.
_MAX_ATTEMPTS = 8


class TokenSource(Protocol):
    """The part of `core.token_service.TokenService` the client needs."""

    def access_token(self, account_id: int) -> str:
        """Return a valid access token for the account (refreshing inline if due)."""
        ...

    def after_401(self, account_id: int, seen_token: str) -> str:
        """Return a token to retry with after `seen_token` got a 401 (one refresh at most)."""
        ...


class WebexClient:
    """Call Webex as the bot identity through the SDK.

    Args:
        tokens: The token service.
        account_id: Returns the bot identity's account id (read on every call: it may change).
        base_url: The REST base URL, ending in `/v1/` (`core.config` checked it).
        sdk: The SDK to use; `load_sdk()` when None.
        timeout: Seconds for one HTTP request.
        max_rate_limit_wait: The longest a call waits in total on 429 before raising.
        on_request: Called once for every HTTP request made (call budget, metrics).
        proxy_url: An http(s) proxy for every request, or None.
        budget: The shared view of the token's rate limit (one per token: give every client
            on the same account the same one); a fresh one with a minute's window when None.
    """

    def __init__(
        self,
        *,
        tokens: TokenSource,
        account_id: Callable[[], int],
        base_url: str,
        sdk: Sdk | None = None,
        timeout: float = 30.0,
        max_rate_limit_wait: float = 60.0,
        on_request: Callable[[], None] | None = None,
        proxy_url: str | None = None,
        budget: WebexBudget | None = None,
    ) -> None:
        self.sdk = sdk or load_sdk()
        self.base_url = base_url
        self._tokens = tokens
        self._account_id = account_id
        self._timeout = timeout
        self._max_rate_limit_wait = max_rate_limit_wait
        self._on_request = on_request
        self.proxy_url = proxy_url
        self.budget = budget or WebexBudget()
        self._lock = threading.Lock()
        self._api: WebexApi | None = None
        self._api_token: str | None = None

    def call(self, operation: Callable[[WebexApi], T], *, wait_on_rate_limit: bool = True) -> T:
        """Run `operation(api)` on the current token; retry once after a 401.

        Raises:
            core.errors.NeedsReauth: The grant is gone; someone must reconnect the account.
            RateLimited: 429 and waiting is not allowed or would exceed the time budget.
            WebexApiError: Any other failure (status 0 when Webex did not answer).
        """
        account = self._account_id()
        token = self._tokens.access_token(account)
        refreshed = False
        waited = 0.0
        for _ in range(_MAX_ATTEMPTS):
            # Every caller on this token waits out a 429 any of them met (one shared view).
            max_wait = self._max_rate_limit_wait - waited if wait_on_rate_limit else 0.0
            waited += self.budget.acquire(max_wait=max(0.0, max_wait))
            refused = False
            try:
                return operation(self._api_for(token))
            except self.sdk.rate_limit_error as error:
                refused = True
                retry_after = float(getattr(error, "retry_after", 15) or 15)
                self.budget.rate_limited(retry_after)
                if not wait_on_rate_limit or waited + retry_after > self._max_rate_limit_wait:
                    raise RateLimited(
                        "Webex answered 429 Too Many Requests", retry_after=retry_after
                    ) from error
                log.warning("Webex rate limit: every call waits %.1fs (Retry-After)", retry_after)
            except self.sdk.api_error as error:
                status = _status_of(error)
                if status == 401 and not refreshed:
                    refreshed = True
                    log.info("Webex answered 401: asking for one refresh, then retrying once")
                    token = self._tokens.after_401(account, token)
                    continue
                raise WebexApiError(
                    f"Webex answered {status}: {_describe(error)}", status=status
                ) from error
            except requests.RequestException as error:
                raise WebexApiError(
                    f"Webex did not answer: {type(error).__name__}", status=0
                ) from error
            finally:
                self.budget.release(refused=refused)
        raise RateLimited("Webex kept answering 429", retry_after=15.0)

    def access_token(self) -> str:
        """Return the bot identity's valid access token (for calls outside the SDK)."""
        return self._tokens.access_token(self._account_id())

    def token_after_401(self, seen_token: str) -> str:
        """Return a token to retry with after `seen_token` was refused (one refresh at most)."""
        return self._tokens.after_401(self._account_id(), seen_token)

    # -- the calls the bot makes ------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        """Return `/people/me` of the bot identity."""
        return self.call(lambda api: dict(api.people.me().json_data))

    def get_message(self, message_id: str) -> Message:
        """Fetch one message (webhook deliveries carry no text)."""
        return self.call(lambda api: Message.from_json(api.messages.get(message_id).json_data))

    def post_message(
        self,
        room_id: str,
        markdown: str | None,
        *,
        parent_id: str | None = None,
        text: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        file_path: str | None = None,
    ) -> Message:
        """Post into `room_id` (in the thread `parent_id`): markdown or text, a card, a file.

        A local `file_path` goes as the SDK's multipart `files=[path]` upload.
        """
        fields: dict[str, Any] = {"roomId": room_id}
        if markdown:
            fields["markdown"] = markdown
        if text:
            fields["text"] = text
        if parent_id:
            fields["parentId"] = parent_id
        if attachments:
            fields["attachments"] = attachments
        if file_path:
            fields["files"] = [file_path]
        return self.call(lambda api: Message.from_json(api.messages.create(**fields).json_data))

    def get_attachment_action(self, action_id: str) -> dict[str, Any]:
        """Fetch a card submit with its inputs (the delivery carries none)."""
        return self.call(lambda api: dict(api.attachment_actions.get(action_id).json_data))

    def get_person(self, person_id: str) -> dict[str, Any]:
        """Fetch a person (who pressed a button: only the id comes with the submit)."""
        return self.call(lambda api: dict(api.people.get(person_id).json_data))

    def bearer(self) -> str:
        """Return the bot identity's current access token (for downloads outside the SDK)."""
        return self._tokens.access_token(self._account_id())

    def refresh_now(self) -> str:
        """Refresh the bot identity's token through the store now; return the result name."""
        force = getattr(self._tokens, "force_refresh", None)
        if force is None:
            return "unsupported"
        return str(force(self._account_id()).result)

    def list_messages(
        self,
        room_id: str,
        *,
        limit: int,
        wait_on_rate_limit: bool = True,
        until: Callable[[Message], bool] | None = None,
        page: int | None = None,
    ) -> list[Message]:
        """Return up to `limit` of the newest messages of a room, newest first.

        With `until`, stop before the first message for which it is true (the SDK pages back
        through `Link` headers, `page` messages per call, only as far as needed).
        """
        size = max(1, min(page or limit, 100))

        def fetch(api: WebexApi) -> list[Message]:
            found: list[Message] = []
            for item in api.messages.list(roomId=room_id, max=size):
                message = Message.from_json(item.json_data)
                if until is not None and until(message):
                    break
                found.append(message)
                if len(found) >= limit:
                    break
            return found

        return self.call(fetch, wait_on_rate_limit=wait_on_rate_limit)

    def list_rooms(
        self, *, limit: int, sort_by: str = "lastactivity", wait_on_rate_limit: bool = True
    ) -> list[dict[str, Any]]:
        """Return up to `limit` spaces of the user, most recently active first by default."""
        page = max(1, min(limit, 1000))
        return self.call(
            lambda api: [
                dict(room.json_data)
                for room in itertools.islice(api.rooms.list(sortBy=sort_by, max=page), limit)
            ],
            wait_on_rate_limit=wait_on_rate_limit,
        )

    def list_webhooks(self) -> list[dict[str, Any]]:
        """Return every webhook the user owns."""
        return self.call(lambda api: [dict(hook.json_data) for hook in api.webhooks.list()])

    def create_webhook(
        self, *, name: str, target_url: str, secret: str, resource: str = "messages"
    ) -> dict[str, Any]:
        """Create a webhook for `messages/created` signed with `secret`."""
        return self.call(
            lambda api: dict(
                api.webhooks.create(
                    name=name,
                    targetUrl=target_url,
                    resource=resource,
                    event="created",
                    secret=secret,
                ).json_data
            )
        )

    def update_webhook(
        self, webhook_id: str, *, name: str, target_url: str, secret: str
    ) -> dict[str, Any]:
        """Update a webhook's name, target and secret, and re-activate it if disabled."""
        return self.call(
            lambda api: dict(
                api.webhooks.update(
                    webhook_id, name=name, targetUrl=target_url, secret=secret, status="active"
                ).json_data
            )
        )

    def delete_webhook(self, webhook_id: str) -> None:
        """Delete a webhook."""
        self.call(lambda api: api.webhooks.delete(webhook_id))

    # -- internals --------------------------------------------------------------------------

    def _api_for(self, token: str) -> WebexApi:
        with self._lock:
            if self._api is None or token != self._api_token:
                self._api = self.sdk.build(
                    access_token=token, base_url=self.base_url, timeout=self._timeout
                )
                if self.proxy_url:
                    _use_proxy(self._api, self.proxy_url)
                self._api_token = token
                self._count_requests(self._api)
            return self._api

    def _count_requests(self, api: WebexApi) -> None:
        if self._on_request is None:
            return
        session = getattr(getattr(api, "_session", None), "_req_session", None)
        if isinstance(session, requests.Session):
            on_request = self._on_request
            session.hooks["response"].append(lambda response, **_: on_request())


def _use_proxy(api: Any, proxy_url: str) -> None:
    """Send the SDK's requests through the proxy, whatever the environment says."""
    session = getattr(getattr(api, "_session", None), "_req_session", None)
    if isinstance(session, requests.Session):
        session.trust_env = False  # NO_PROXY and friends must not bypass the configured proxy
        session.proxies.update({"http": proxy_url, "https": proxy_url})


def _status_of(error: Exception) -> int:
    status = getattr(error, "status_code", None)
    if status is None:
        response = getattr(error, "response", None)
        status = getattr(response, "status_code", 0)
    return int(status or 0)


def _describe(error: Exception) -> str:
    # The SDK's message is Webex's error text; it never contains the token.
    message = getattr(error, "message", None) or getattr(error, "description", None)
    return str(message or type(error).__name__)
