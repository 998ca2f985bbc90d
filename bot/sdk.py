"""Which Webex SDK the bot runs on: `webexpythonsdk` by default, `webexteamssdk` 1.7 otherwise.

The two cannot share an environment (webexteamssdk pins PyJWT 1.7.1), so the choice is made by
what is installed; `TOKENBOT_WEBEX_SDK` forces one (the teamssdk test run sets it, so a
silently wrong import fails loudly instead of testing the other SDK).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokenbot.core.errors import ConfigError

__all__ = ["SDK_ENV", "Sdk", "load_sdk"]

SDK_ENV = "TOKENBOT_WEBEX_SDK"
_CANDIDATES = {
    "webexpythonsdk": "WebexAPI",
    "webexteamssdk": "WebexTeamsAPI",
}


@dataclass(frozen=True, slots=True)
class Sdk:
    """One loaded SDK: its API class and the exceptions the bot tells apart."""

    name: str
    version: str
    api_class: Any
    api_error: type[Exception]
    rate_limit_error: type[Exception]

    def build(self, *, access_token: str, base_url: str, timeout: float) -> Any:
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
