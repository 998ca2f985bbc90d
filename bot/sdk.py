"""Which Webex SDK the bot runs on: `webexpythonsdk` by default, `webexteamssdk` 1.7 otherwise.

The two cannot share an environment (webexteamssdk pins PyJWT 1.7.1), so the choice is made by
what is installed; `TOKENBOT_WEBEX_SDK` forces one (the teamssdk test run sets it, so a
silently wrong import fails loudly instead of testing the other SDK).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import Protocol

from tokenbot.core.errors import ConfigError

__all__ = ["SDK_ENV", "ApiObject", "Sdk", "WebexApi", "load_sdk"]

SDK_ENV = "TOKENBOT_WEBEX_SDK"
_CANDIDATES = {
    "webexpythonsdk": "WebexAPI",
    "webexteamssdk": "WebexTeamsAPI",
}


# Neither SDK ships types, and which one runs is decided at import time: these protocols are the
# one typed description of the part of their (identical) API the bot calls. Argument names are
# Webex's (camelCase), as the SDKs take them.


class ApiObject(Protocol):
    """What every SDK call returns: Webex's JSON object, as parsed."""

    @property
    def json_data(self) -> Mapping[str, Any]:
        """Return the object's JSON fields."""
        ...


class PeopleApi(Protocol):
    """`api.people`."""

    def me(self) -> ApiObject:
        """Return the token's user."""
        ...

    def get(self, person_id: str, /) -> ApiObject:
        """Return one person."""
        ...


class AttachmentActionsApi(Protocol):
    """`api.attachment_actions` (card submits; Webex has no list of them)."""

    def get(self, action_id: str, /) -> ApiObject:
        """Return one submit with its inputs."""
        ...


class MessagesApi(Protocol):
    """`api.messages`."""

    def get(self, message_id: str, /) -> ApiObject:
        """Return one message."""
        ...

    def create(self, **fields: Any) -> ApiObject:
        """Post a message (`roomId`, `markdown`, `parentId`, ...)."""
        ...

    def list(self, *, roomId: str, max: int) -> Iterable[ApiObject]:
        """Return a room's messages, newest first, paging on as the caller iterates."""
        ...


class RoomsApi(Protocol):
    """`api.rooms`."""

    def list(self, *, sortBy: str, max: int) -> Iterable[ApiObject]:
        """Return the user's rooms, paging on as the caller iterates."""
        ...


class WebhooksApi(Protocol):
    """`api.webhooks`."""

    def list(self) -> Iterable[ApiObject]:
        """Return the user's webhooks."""
        ...

    def create(
        self,
        *,
        name: str,
        targetUrl: str,
        resource: str,
        event: str,
        secret: str,
    ) -> ApiObject:
        """Create a webhook."""
        ...

    def update(
        self,
        webhook_id: str,
        /,
        *,
        name: str,
        targetUrl: str,
        secret: str,
        status: str,
    ) -> ApiObject:
        """Change a webhook (`status="active"` re-activates a disabled one)."""
        ...

    def delete(self, webhook_id: str, /) -> None:
        """Delete a webhook."""
        ...


class WebexApi(Protocol):
    """The SDK's API object (`WebexAPI` or `WebexTeamsAPI`), as far as the bot uses it."""

    @property
    def people(self) -> PeopleApi:
        """Return the people endpoints."""
        ...

    @property
    def messages(self) -> MessagesApi:
        """Return the message endpoints."""
        ...

    @property
    def rooms(self) -> RoomsApi:
        """Return the room endpoints."""
        ...

    @property
    def webhooks(self) -> WebhooksApi:
        """Return the webhook endpoints."""
        ...

    @property
    def attachment_actions(self) -> AttachmentActionsApi:
        """Return the attachment action (card submit) endpoints."""
        ...


@dataclass(frozen=True, slots=True)
class Sdk:
    """One loaded SDK: its API class and the exceptions the bot tells apart."""

    name: str
    version: str
    api_class: Callable[..., WebexApi]
    api_error: type[Exception]
    rate_limit_error: type[Exception]

    def build(self, *, access_token: str, base_url: str, timeout: float) -> WebexApi:
        """Create an API object bound to `access_token`; we handle 429 ourselves."""
        return self.api_class(
            access_token=access_token,
            base_url=base_url,
            single_request_timeout=max(1, int(timeout)),
            wait_on_rate_limit=False,
        )


def load_sdk(name: str | None = None, *, environ: Mapping[str, str] | None = None) -> Sdk:
    """Import the SDK named `name` (or by `TOKENBOT_WEBEX_SDK`), else the first one installed.

    Raises:
        ConfigError: The named SDK is unknown or not installed, or no SDK is installed.
    """
    environ = os.environ if environ is None else environ
    wanted = name or environ.get(SDK_ENV) or None
    if wanted is not None and wanted not in _CANDIDATES:
        raise ConfigError(
            SDK_ENV, f"unknown SDK {wanted!r}", hint=f"use one of {list(_CANDIDATES)}"
        )
    for candidate in [wanted] if wanted else list(_CANDIDATES):
        try:
            module = importlib.import_module(candidate)
        except ImportError:
            if wanted:
                raise ConfigError(
                    SDK_ENV, f"{wanted} is not installed", hint=f"pip install {wanted}"
                ) from None
            continue
        return Sdk(
            name=candidate,
            version=str(getattr(module, "__version__", "unknown")),
            api_class=getattr(module, _CANDIDATES[candidate]),
            api_error=module.ApiError,
            rate_limit_error=module.RateLimitError,
        )
    raise ConfigError(SDK_ENV, "no Webex SDK is installed", hint="pip install webexpythonsdk")
