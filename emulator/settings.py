"""Emulator settings: every behaviour the facts file could not confirm is one of these."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from dataclasses import fields
from typing import Any


class SettingError(ValueError):
    """A setting is unknown or has a value of the wrong kind."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"setting {name!r}: {reason}")
        self.name = name


@dataclass
class Settings:
    """The knobs of the emulator; defaults follow docs/webex-api-facts.md."""

    # OAuth and tokens.
    auto_approve: str | None = None
    access_token_lifetime: int = 1209599
    refresh_token_lifetime: int = 7775999
    rotate_refresh_tokens: bool = False
    reset_refresh_lifetime: bool = False
    revoke_old_access_tokens_on_refresh: bool = False
    code_lifetime: int = 600
    allow_plain_pkce: bool = False
    require_pkce: bool = False
    invalid_client_status: int = 400
    token_response_scope: bool = False
    accept_basic_auth: bool = False
    # False: a client_secret in the form body is refused (invalid_client), as by an OAuth
    # server that takes only HTTP Basic; tests client_secret_basic.
    accept_body_auth: bool = True
    # Token answers that break the usual shape, for the client's edge cases.
    omit_refresh_token: bool = False
    omit_expires_in: bool = False
    # REST.
    rate_limit_per_minute: int | None = None
    rate_limit_window_seconds: float = 60.0
    rate_limit_html_body: bool = True
    mentions_in_text: bool = False
    messages_max_limit: int = 1000
    clamp_max: bool = False
    # Network: added to every /v1 call (half before the handler, half after) and to every
    # webhook delivery, so benchmarks see a WAN instead of loopback.
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    # Webhook delivery.
    webhook_timeout: float = 5.0
    webhook_retries: int = 2
    webhook_retry_backoff: float = 1.0
    webhook_disable_threshold: int = 100
    webhook_disable_window: float = 300.0
    webhook_sha256_signature: bool = False
    # Accept events but never POST them, and record nothing (a proxy that swallows deliveries,
    # a targetUrl at an old address that answers 200): the webhook stays `active`.
    webhook_drop_deliveries: bool = False
    # Websocket intake: U2C catalog, WDM devices and Mercury (emulator/README.md).
    wdm_require_spark_all: bool = True
    wdm_device_cap: int = 100
    wdm_region: str = "a"
    non_us_people: list[str] = dataclasses.field(default_factory=list)
    non_us_cluster: str = "urn:TEAM:eu-central-1_k"
    mercury_redelivery_seconds: float = 900.0
    mercury_auth_timeout: float = 30.0
    mercury_answer_pings: bool = True
    mercury_deliver_after_expiry: bool = False
    mercury_drop_while_offline: bool = False
    # Keep every socket open and answering pings, deliver no activity (nor queue it): a
    # connected socket that is silent.
    mercury_drop_activities: bool = False
    # Files and cards.
    file_scan_seconds: float = 0.0
    file_max_bytes: int = 100 * 1024 * 1024
    card_max_bytes: int = 28672
    card_max_actions: int = 5

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-ready dict."""
        return dataclasses.asdict(self)

    def update(self, values: dict[str, Any]) -> None:
        """Apply `values` after validating all of them (all or nothing)."""
        checked = {name: _check(name, value) for name, value in values.items()}
        for name, value in checked.items():
            setattr(self, name, value)


_KINDS: dict[str, tuple[type, ...]] = {
    "auto_approve": (str, type(None)),
    "rate_limit_per_minute": (int, type(None)),
    "wdm_region": (str,),
    "non_us_cluster": (str,),
    "non_us_people": (list,),
}
_FIELDS = {f.name: f for f in fields(Settings)}
_POSITIVE = {
    "access_token_lifetime",
    "refresh_token_lifetime",
    "code_lifetime",
    "rate_limit_window_seconds",
    "messages_max_limit",
    "webhook_timeout",
    "webhook_disable_threshold",
    "webhook_disable_window",
    "wdm_device_cap",
    "mercury_auth_timeout",
    "file_max_bytes",
    "card_max_bytes",
}


def _check(name: str, value: Any) -> Any:
    field = _FIELDS.get(name)
    if field is None:
        raise SettingError(name, "unknown setting")
    default = field.default
    if name in _KINDS:
        kinds = _KINDS[name]
    elif isinstance(default, bool):
        kinds = (bool,)
    elif isinstance(default, float):
        kinds = (int, float)
    else:
        kinds = (int,)
    if isinstance(value, bool) and bool not in kinds:
        raise SettingError(name, f"expected a number, got {value!r}")
    if not isinstance(value, kinds):
        raise SettingError(name, f"expected {'/'.join(k.__name__ for k in kinds)}, got {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0 or (name in _POSITIVE and value == 0):
            raise SettingError(name, f"must be positive, got {value!r}")
        if float in kinds:
            value = float(value)
    if name == "non_us_people":
        if not all(isinstance(item, str) for item in value):
            raise SettingError(name, "expected a list of emails")
        value = [item.strip().lower() for item in value]
    if name == "wdm_region" and not (value.isalnum() and value.islower()):
        raise SettingError(name, f"expected a lowercase region letter such as 'r', got {value!r}")
    if name == "invalid_client_status" and value not in (400, 401):
        raise SettingError(name, "must be 400 or 401")
    return value
