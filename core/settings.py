"""The typed settings of a tokenbot process: frozen pydantic models, and `Secret` for secrets.

`core.config.load_settings` builds a `Settings`; everything else only reads one and never checks
a value again. A field's type and `Field(...)` carry its rule (range, choices, URL); the loader
turns pydantic's complaints into one-line `ConfigError`s, and `tokenbot config schema` prints
the JSON Schema editors use.

Adding a key is one line in its section, for example in `BotSettings`:

    reply_timeout_seconds: float = Field(30, ge=1, le=600, description="what it does")

then the same key with its default and a comment in `config.yaml` (a test checks that
config.yaml lists every key) and `tokenbot config schema > docs/config.schema.json` (a test
checks the shipped schema is current). The file, `TOKENBOT_BOT__REPLY_TIMEOUT_SECONDS`, the
schema and the error messages all follow from the field. A rule that spans two keys is a
`model_validator` raising `problem(..., field=...)`; a rule that depends on demo mode (insecure
URLs, missing secrets) lives in `core.config`. A new secret is a `SkipJsonSchema[Secret]` field
plus its environment variable in `SECRET_ENV` (and in `core.config._REQUIRED` when every
process needs it).

Porting a key from the old dataclass helpers, line for line:
    _num(15, 1, 300)             ->  Field(15, ge=1, le=300)
    _choice("a", "a", "b")       ->  Literal["a", "b"] = "a"
    _url(None)                   ->  Url | None = None          (checked as http(s)://host)
    bool / str / tuple[str, ...] ->  bool / Text / StrList       (Text, StrList: non-empty)
    _env("NAME")                 ->  SkipJsonSchema[Secret] = NO_SECRET, plus SECRET_ENV
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from pathlib import Path
from typing import Annotated
from typing import Any
from typing import Literal
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import BeforeValidator
from pydantic import ConfigDict
from pydantic import Field
from pydantic import GetCoreSchemaHandler
from pydantic import PrivateAttr
from pydantic import WithJsonSchema
from pydantic import field_validator
from pydantic import model_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError
from pydantic_core import core_schema
from pydantic_settings import BaseSettings
from pydantic_settings import PydanticBaseSettingsSource
from pydantic_settings import SettingsConfigDict

from tokenbot.core.crypto import TokenCipher
from tokenbot.core.logs import fingerprint

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_SCOPES",
    "ENCRYPTION_KEYS_ENV",
    "SECRET_ENV",
    "SECTIONS",
    "BotSettings",
    "BrokerSettings",
    "DatabaseSettings",
    "EmulatorSettings",
    "LoggingSettings",
    "NOTIFY_EVENT_TYPES",
    "NotifySettings",
    "NotifyWebex",
    "NotifyWebhook",
    "PanelSettings",
    "RefreshSettings",
    "Secret",
    "Settings",
    "WebexSettings",
    "hide_password",
    "problem",
]

ENCRYPTION_KEYS_ENV = "TOKENBOT_ENCRYPTION_KEYS"
DATABASE_URL_ENV = "TOKENBOT_DATABASE_URL"
DEFAULT_SCOPES = (
    "spark:people_read",
    "spark:rooms_read",
    "spark:messages_read",
    "spark:messages_write",
    "spark:memberships_read",
)
# Where each secret comes from: (section, key) -> environment variable (also `<NAME>_FILE`).
# Secrets are never read from the YAML file; `database.url` may come from either.
SECRET_ENV: dict[tuple[str, ...], str] = {
    ("webex", "client_id"): "WEBEX_CLIENT_ID",
    ("webex", "client_secret"): "WEBEX_CLIENT_SECRET",
    ("panel", "secret_key"): "TOKENBOT_SECRET_KEY",
    ("bot", "webhook_secret"): "TOKENBOT_WEBHOOK_SECRET",
    ("notify", "secret"): "TOKENBOT_NOTIFY_SECRET",
    ("encryption_keys",): ENCRYPTION_KEYS_ENV,
    ("database", "url"): DATABASE_URL_ENV,
}


def problem(message: str, *, hint: str | None = None, field: str | None = None) -> Exception:
    """Build the error a validator raises: `message`, an optional fix, and the key at fault.

    Args:
        message: What is wrong, e.g. "must end in /v1/".
        hint: How to fix it (shown in parentheses).
        field: The key below the validator's own location (a model validator names the field
            it blames, e.g. "lease_seconds"); None for the location itself.
    """
    context: dict[str, Any] = {"message": message, "hint": hint, "field": field}
    return PydanticCustomError("tokenbot", "{message}", context)


class Secret:
    """A secret string that prints as ``**********``; `reveal` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value: pass it straight to where it is used, never to a log."""
        return self._value

    @property
    def fingerprint(self) -> str:
        """First 8 hex digits of the value's SHA-256, safe to show."""
        return fingerprint(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "'**********'"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return secrets.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self.fingerprint))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Validate a string (or a `Secret`) into a `Secret`; dump it masked."""
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    @classmethod
    def _validate(cls, value: Any) -> Secret:
        if isinstance(value, Secret):
            return value
        if not isinstance(value, str):
            raise problem("expected a string")
        return cls(value.strip())


NO_SECRET = Secret("")  # a required secret not given yet; the loader fills or refuses it


# -- value types ---------------------------------------------------------------------------


def _str_list(value: Any) -> Any:
    if not isinstance(value, list | tuple) or not all(
        isinstance(item, str) and item.strip() for item in value
    ):
        raise problem(f"expected a list of strings, got {describe(value)}")
    return tuple(item.strip() for item in value)


def _list_of(value: Any) -> Any:
    # Sections are strict (no silent coercion), so a YAML list becomes the tuple here.
    if not isinstance(value, list | tuple):
        raise problem(f"expected a list, got {describe(value)}")
    return tuple(value)


def _scope_list(value: Any) -> Any:
    # Webex writes scopes space-separated; accept that form too.
    return _str_list(value.split() if isinstance(value, str) else value)


def _check_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise problem(f"bad URL {url!r}", hint="write it as https://host/path") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise problem(f"bad URL {url!r}: expected http:// or https:// and a host")
    if parts.username or parts.password:
        raise problem("the URL must not contain credentials")
    if parts.fragment:
        raise problem(f"bad URL {url!r}: a #fragment is not allowed here")
    return url


def _none_to_empty(value: Any) -> Any:
    return "" if value is None else value


def _check_derived_url(url: str) -> str:
    return _check_url(url) if url else url


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
Text = Annotated[str, Field(min_length=1)]
StrList = Annotated[tuple[str, ...], BeforeValidator(_str_list)]
Url = Annotated[str, Field(min_length=1), AfterValidator(_check_url)]
# A URL that defaults to one derived from another key: null (or absent) in the file.
DerivedUrl = Annotated[
    str,
    BeforeValidator(_none_to_empty),
    AfterValidator(_check_derived_url),
    WithJsonSchema({"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}]}),
]


class _Section(BaseModel):
    """What every section shares: frozen, no unknown keys, no silent type coercion."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, str_strip_whitespace=True, allow_inf_nan=False
    )


# -- sections ------------------------------------------------------------------------------


class WebexSettings(_Section):
    """Where Webex is and who we are to it."""

    api_base_url: Url = Field(
        "https://webexapis.com/v1/",
        description="Webex REST base URL; must end in /v1/. The OAuth endpoints derive from it.",
    )
    authorize_url: DerivedUrl = Field("", description='null: api_base_url + "authorize"')
    token_url: DerivedUrl = Field("", description='null: api_base_url + "access_token"')
    redirect_uri: Url = Field(
        "http://127.0.0.1:2000/oauth/callback",
        description="Exactly as registered in the integration; the callback is served at its path.",
    )
    scopes: Annotated[
        tuple[str, ...],
        BeforeValidator(_scope_list),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    {"type": "string", "description": "space-separated, as Webex writes them"},
                ]
            }
        ),
    ] = Field(DEFAULT_SCOPES, description="Requested at login; keep it minimal.")
    timeout_seconds: float = Field(15, ge=1, le=300, description="Per HTTP request to Webex.")
    token_auth_method: Literal["client_secret_post", "client_secret_basic"] = Field(
        "client_secret_post",
        description="How the client secret reaches the token endpoint: the form body (what "
        "Webex wants) or HTTP Basic (for an OAuth server that accepts only that).",
    )
    u2c_url: Url = Field(
        "https://u2c.wbx2.com/u2c/api/v1",
        description="Websocket intake: the service catalog (it names the region's device service).",
    )
    proxy_url: Annotated[str, Field(min_length=1)] | None = Field(
        None,
        description="http://host:port proxy for REST and the websocket (https through CONNECT); "
        "no credentials in the URL.",
    )
    client_id: SkipJsonSchema[Secret] = NO_SECRET
    client_secret: SkipJsonSchema[Secret] = NO_SECRET

    @field_validator("api_base_url")
    @classmethod
    def _v1(cls, base: str) -> str:
        if not base.endswith("/v1/"):
            raise problem(f"must end in /v1/, got {base!r}", hint="e.g. https://webexapis.com/v1/")
        return base

    @field_validator("u2c_url")
    @classmethod
    def _no_trailing_slash(cls, url: str) -> str:
        return url.rstrip("/")

    @field_validator("proxy_url")
    @classmethod
    def _proxy(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise problem(
                f"bad proxy URL {url!r}: expected http://host:port",
                hint="e.g. http://proxy.example.com:3128 (https is tunnelled with CONNECT)",
            )
        if parts.username or parts.password:
            raise problem(
                "bad proxy URL: it must not contain credentials",
                hint="tokenbot does not send proxy credentials; allow this host at the proxy",
            )
        return url

    @field_validator("redirect_uri")
    @classmethod
    def _has_path(cls, uri: str) -> str:
        if urlsplit(uri).path in ("", "/"):
            raise problem(f"bad URL {uri!r}: needs a path, e.g. /oauth/callback")
        return uri

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, scopes: tuple[str, ...]) -> tuple[str, ...]:
        if not scopes:
            raise problem("is empty", hint="list at least spark:people_read")
        for scope in scopes:
            if not re.fullmatch(r"[A-Za-z0-9_:.\-]+", scope):
                raise problem(f"{scope!r} is not a Webex scope name")
        return scopes

    @model_validator(mode="after")
    def _derive_endpoints(self) -> WebexSettings:
        # Frozen: fill the derived defaults in place once, while the object is being built.
        if not self.authorize_url:
            object.__setattr__(self, "authorize_url", self.api_base_url + "authorize")
        if not self.token_url:
            object.__setattr__(self, "token_url", self.api_base_url + "access_token")
        return self


class DatabaseSettings(_Section):
    """Which database; `url` may carry a password, so it never shows in a repr."""

    url: str = Field(
        "sqlite:///data/tokenbot.sqlite3",
        repr=False,
        min_length=1,
        description="sqlite:///relative/path (relative to this file's folder) or "
        "postgresql+psycopg://user@host/db; a password goes in TOKENBOT_DATABASE_URL.",
    )
    busy_timeout_seconds: float = Field(
        15, ge=1, le=600, description="How long a writer waits for a lock; >= 15 for SQLite."
    )

    @field_validator("url")
    @classmethod
    def _driver(cls, url: str) -> str:
        scheme, sep, rest = url.partition("://")
        if scheme in ("postgres", "postgresql"):
            # psycopg 3 is the driver we ship; SQLAlchemy's default would want psycopg2.
            scheme = "postgresql+psycopg"
        if scheme not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg") or not sep:
            raise problem(
                "bad URL: expected sqlite:///path or postgresql+psycopg://user@host/db",
                hint="e.g. sqlite:///data/tokenbot.sqlite3",
            )
        return f"{scheme}://{rest}"

    @model_validator(mode="after")
    def _sqlite_waits(self) -> DatabaseSettings:
        if self.is_sqlite and self.busy_timeout_seconds < 15:
            raise problem(
                f"must be at least 15 for SQLite, got {self.busy_timeout_seconds:g}",
                hint="writers wait this long for the lock instead of failing at once",
                field="busy_timeout_seconds",
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        """Tell whether `url` names a SQLite database."""
        return self.url.startswith("sqlite")

    @property
    def display_url(self) -> str:
        """The URL with any password replaced by ``***``."""
        return hide_password(self.url)


class RefreshSettings(_Section):
    """When tokens are refreshed and how failures back off (core.policy.RefreshPolicy)."""

    margin_seconds: int = Field(
        900, ge=0, le=7 * 86400, description="Refresh when less than max(this, 10%) remains."
    )
    sweep_interval_seconds: int = Field(
        60, ge=1, le=3600, description="How often the scheduler looks for due tokens."
    )
    keepalive_hours: float = Field(
        24, ge=0.1, le=24 * 60, description="Refresh at least this often."
    )
    refresh_token_warning_days: float = Field(
        14, ge=0, le=365, description="Warn when the refresh token has less than this left."
    )
    lease_seconds: int = Field(
        60, ge=5, le=3600, description="A refresher's claim; >= 2 x webex.timeout_seconds."
    )
    max_concurrency: int = Field(
        16,
        ge=1,
        le=64,
        description="Refreshes running at once (each mostly waits on Webex's answer).",
    )
    backoff_base_seconds: float = Field(
        30, ge=0.1, le=86400, description="First retry delay after a timeout, 5xx or 429."
    )
    backoff_max_seconds: float = Field(
        3600, ge=0.1, le=7 * 86400, description="Longest retry delay."
    )
    min_token_validity_seconds: int = Field(
        60, ge=0, le=86400, description="Never hand out a token with less life."
    )
    expiry_skew_seconds: int = Field(
        30, ge=30, le=3600, description="Subtracted from every expiry (clock skew, latency)."
    )
    probe_interval_seconds: int = Field(
        3600,
        ge=0,
        le=86_400,
        description="Health probe: verify each active token this often; 0: off.",
    )
    probe_batch: int = Field(
        200, ge=1, le=10_000, description="Health probe: most accounts verified per run."
    )

    @model_validator(mode="after")
    def _ordered(self) -> RefreshSettings:
        if self.backoff_base_seconds > self.backoff_max_seconds:
            raise problem(
                f"({self.backoff_base_seconds:g}) is larger than "
                f"refresh.backoff_max_seconds ({self.backoff_max_seconds:g})",
                field="backoff_base_seconds",
            )
        if self.min_token_validity_seconds > self.margin_seconds:
            raise problem(
                f"({self.min_token_validity_seconds}) is larger than "
                f"refresh.margin_seconds ({self.margin_seconds})",
                hint="a token must become due for refresh before it is too short to hand out",
                field="min_token_validity_seconds",
            )
        return self


class PanelSettings(_Section):
    """The admin panel's server and sessions."""

    host: Text = Field("127.0.0.1", description="Listen address of the admin panel.")
    port: int = Field(2000, ge=1, le=65535, description="Listen port of the admin panel.")
    public_url: Url | None = Field(
        None, description="e.g. https://tokenbot.example.com when behind a proxy."
    )
    session_idle_minutes: int = Field(
        30, ge=1, le=24 * 60, description="Admin sessions end after this long without a request."
    )
    session_absolute_hours: int = Field(
        12, ge=1, le=30 * 24, description="And after this long in any case."
    )
    trusted_proxies: int = Field(
        0, ge=0, le=5, description="Reverse proxies in front of the panel to believe."
    )
    trusted_proxy_addresses: StrList = Field(
        (), description="IPs or CIDR networks those proxies connect from (only they are believed)."
    )
    allowed_hosts: StrList = Field(
        (), description="Host names the panel answers; empty: public_url's host and loopback."
    )
    request_timeout_seconds: int = Field(
        10, ge=1, le=600, description="A whole request, headers and body, must arrive within this."
    )
    connection_limit: int = Field(
        1000, ge=16, le=60_000, description="Open connections the web server accepts at once."
    )
    secret_key: SkipJsonSchema[Secret] = NO_SECRET

    @field_validator("trusted_proxy_addresses")
    @classmethod
    def _networks(cls, addresses: tuple[str, ...]) -> tuple[str, ...]:
        for address in addresses:
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                raise problem(
                    f"{address!r} is not an IP address or network",
                    hint="list your reverse proxies' addresses, e.g. [10.0.0.5, 10.1.0.0/24]",
                ) from None
        return addresses

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        for host in hosts:
            if not re.fullmatch(r"\.?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*|\[[0-9A-Fa-f:.]+\]", host):
                raise problem(
                    f"{host!r} is not a host name",
                    hint="give names without scheme or port, e.g. tokenbot.example.com",
                )
        return hosts

    @model_validator(mode="after")
    def _proxies_named(self) -> PanelSettings:
        if self.trusted_proxies and not self.trusted_proxy_addresses:
            raise problem(
                "is empty while panel.trusted_proxies is set",
                hint="list the addresses your reverse proxies connect from; only they may set "
                "X-Forwarded-For",
                field="trusted_proxy_addresses",
            )
        return self

    @model_validator(mode="after")
    def _idle_fits(self) -> PanelSettings:
        if self.session_idle_minutes > self.session_absolute_hours * 60:
            raise problem(
                "is longer than panel.session_absolute_hours",
                hint="the idle timeout must fit inside the absolute session lifetime",
                field="session_idle_minutes",
            )
        return self

    @property
    def url(self) -> str:
        """Where people reach the panel: `public_url`, else the listen address."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


class BotSettings(_Section):
    """The chat bot: how messages come in, who may use it, how much work runs at once."""

    enabled: bool = True
    intake: Literal["auto", "websocket", "webhook", "polling"] = Field(
        "auto",
        description="auto: websocket when the identity's grant has spark:all, else webhook when "
        "public_url is set, else polling. webhook needs an https public_url.",
    )
    public_url: Url | None = Field(None, description="https URL where Webex delivers webhooks.")
    prefix: Text = Field("/", description="Command prefix in group spaces.")
    plugins: StrList = Field((), description="Extra command modules (Python module paths).")
    allowed_emails: StrList = Field((), description="Who besides the user may run commands.")
    allowed_domains: StrList = Field((), description="Email domains whose people may.")
    allowed_spaces: StrList = Field((), description="Room ids where others' commands count.")
    open_to_everyone: bool = Field(
        True,
        description="help, ping, whoami answer anyone in the allowed spaces; false: only the "
        "user and the allowed people (anyone else's messages are ignored without a Webex call).",
    )
    poll_interval_seconds: float = Field(
        5, ge=1, le=3600, description="Polling: how often to look for new messages."
    )
    workers: int = Field(4, ge=1, le=64, description="Commands handled at once.")
    queue_size: int = Field(
        100, ge=1, le=100_000, description="Messages waiting beyond that are refused."
    )
    webhook_secret: SkipJsonSchema[Secret | None] = None
    poll_rooms: int = Field(
        20, ge=1, le=1000, description="Polling: recently active spaces read each round."
    )
    poll_api_budget_per_minute: int = Field(
        120, ge=1, le=100_000, description="Polling: most Webex calls per minute."
    )
    rate_window_seconds: float = Field(
        60,
        ge=1,
        le=3600,
        description="Longest rate window assumed at Webex: after a 429, calls are paced to "
        "what the window before it held (the window learned from Retry-After, at most this).",
    )
    max_body_bytes: int = Field(
        262_144, ge=1024, le=1_048_576, description="Webhook: larger deliveries get 413."
    )
    max_event_age_seconds: float = Field(
        600, ge=0, le=86_400, description="Webhook: older deliveries are ignored; 0: off."
    )
    instance_group: str = Field(
        "default",
        description="Websocket: instances in one group share one device and one socket.",
    )
    listener_lease_seconds: float = Field(
        30, ge=5, le=600, description="Websocket: how long the socket's holder may go silent."
    )
    webhook_check_seconds: float = Field(
        180, ge=10, le=86_400, description="Webhook intake: read its state at Webex this often."
    )
    reconcile_interval_seconds: float = Field(
        600,
        ge=0,
        le=86_400,
        description="Webhook and websocket intake: read recently active spaces this often; 0: off.",
    )
    silence_misses: int = Field(
        2,
        ge=0,
        le=1000,
        description="Webhook and websocket intake: messages only the reconciliation found, "
        "with no delivery between, that make the intake 'silent'; 0: off.",
    )
    silence_grace_seconds: float = Field(
        120,
        ge=1,
        le=3600,
        description="How late a delivery may be (and how long after a start) before it counts "
        "as missed.",
    )
    late_command_seconds: float = Field(
        3600,
        ge=0,
        le=86_400,
        description="A command reached this long after it was sent is not run; its sender "
        "is asked to send it again. 0: no limit.",
    )
    reauth_waiting_max: int = Field(
        200,
        ge=0,
        le=10_000,
        description="Messages kept while the identity needs re-login, answered after it.",
    )

    @field_validator("instance_group")
    @classmethod
    def _group(cls, group: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", group):
            raise problem(f"{group!r}: use 1-40 letters, digits, '.', '_' or '-'")
        return group

    sender_burst: int = Field(
        5, ge=1, le=10_000, description="Messages one sender (not the user) may send at once."
    )
    sender_per_minute: float = Field(
        6, ge=0.1, le=100_000, description="How fast one sender's allowance refills."
    )
    space_burst: int = Field(
        20, ge=1, le=100_000, description="Messages all but the user may send at once in a space."
    )
    space_per_minute: float = Field(
        30, ge=0.1, le=1_000_000, description="How fast one space's allowance refills."
    )
    others_burst: int = Field(
        40, ge=1, le=1_000_000, description="Messages all but the user may send at once, anywhere."
    )
    others_per_minute: float = Field(
        60, ge=0.1, le=10_000_000, description="How fast that shared allowance refills."
    )
    reminders_per_sender: int = Field(
        5, ge=1, le=10_000, description="Reminders one sender may have pending."
    )

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        if re.search(r"\s", prefix) or len(prefix) > 16:
            raise problem("must be 1-16 characters without spaces, e.g. /")
        return prefix

    @field_validator("plugins")
    @classmethod
    def _plugins(cls, plugins: tuple[str, ...]) -> tuple[str, ...]:
        for plugin in plugins:
            if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", plugin):
                raise problem(f"{plugin!r} is not a Python module path")
        return plugins

    @field_validator("allowed_emails")
    @classmethod
    def _emails(cls, emails: tuple[str, ...]) -> tuple[str, ...]:
        _ascii_only(emails)
        for email in emails:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                raise problem(f"{email!r} is not an email address")
        return tuple(email.lower() for email in emails)

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, domains: tuple[str, ...]) -> tuple[str, ...]:
        _ascii_only(domains)
        cleaned = tuple(domain.lower().lstrip("@") for domain in domains)
        for domain in cleaned:
            if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", domain):
                raise problem(f"{domain!r} is not a domain name")
        return cleaned

    file_max_bytes: int = Field(
        10_485_760,
        ge=1024,
        le=104_857_600,
        description="Received files: larger ones are refused before download.",
    )
    file_types: StrList = Field(
        (),
        description="Received files: allowed media types (image/*, text/csv); empty: any.",
    )
    file_fetch_budget_seconds: float = Field(
        60, ge=1, le=600, description="Received files: most time spent waiting out the scan."
    )
    file_allow_unscannable: bool = Field(
        False, description="Received files: fetch files Webex could not scan (428)."
    )
    card_input_max_bytes: int = Field(
        4096, ge=64, le=16_384, description="Card submits: larger inputs are refused."
    )

    @field_validator("file_types")
    @classmethod
    def _file_types(cls, kinds: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(kind.strip().lower() for kind in kinds)
        for kind in cleaned:
            if not re.fullmatch(r"[a-z0-9.+-]+/(\*|[a-z0-9.+-]+)", kind):
                raise problem(f"{kind!r} is not a media type", hint="e.g. image/* or text/csv")
        return cleaned


def _ascii_only(addresses: tuple[str, ...]) -> None:
    # Unicode lower-casing folds look-alikes onto ASCII (U+212A KELVIN SIGN becomes "k"), and
    # the Webex addresses they are compared with are ASCII.
    for address in addresses:
        if not address.isascii():
            raise problem(
                f"{address!r} holds a non-ASCII character",
                hint="write the address in ASCII (an internationalized domain in its xn-- form)",
            )


class BrokerSettings(_Section):
    """The access-token broker (POST /api/v1/accounts/{id}/access-token); off by default.

    On, an API token with the ``tokens:read`` scope can fetch a live Webex access token for
    the accounts it names: that widens what a stolen API token can do, so it is opt-in.
    """

    enabled: bool = Field(False, description="Serve the token broker route (off: 404).")
    allowed_networks: StrList = Field(
        ("127.0.0.0/8", "::1/128"),
        description="Client addresses (CIDR) that may ask; loopback only unless widened.",
    )
    requests_per_minute: int = Field(
        30, ge=1, le=10_000, description="Broker requests per API token per minute."
    )

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, networks: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for text in networks:
            try:
                out.append(str(ipaddress.ip_network(text, strict=False)))
            except ValueError:
                raise problem(
                    f"{text!r} is not a network: write an address or a CIDR block",
                    hint="e.g. 127.0.0.0/8, ::1/128 or 10.0.0.5/32",
                ) from None
        return tuple(out)


# What `notify.webhooks[].events` and `notify.webex.events` may list (core.notify sends them).
NOTIFY_EVENT_TYPES = (
    "account.connected",
    "account.refresh_failed",
    "account.needs_reauth",
    "account.recovered",
    "account.refresh_token_expiring",
    "account.disconnected",
    "intake.down",
    "intake.up",
    "notify.test",
)
EventType = Literal[
    "account.connected",
    "account.refresh_failed",
    "account.needs_reauth",
    "account.recovered",
    "account.refresh_token_expiring",
    "account.disconnected",
    "intake.down",
    "intake.up",
    "notify.test",
]


class NotifyWebhook(_Section):
    """One endpoint that receives lifecycle events as signed Standard Webhooks POSTs."""

    url: Url = Field(description="Where events are POSTed.")
    events: Annotated[tuple[EventType, ...], BeforeValidator(_list_of)] = Field(
        (), description="Only these types; empty: all."
    )


class NotifyWebex(_Section):
    """Where lifecycle events go as Webex messages (exactly one of room_id, person_email)."""

    room_id: Text | None = Field(None, description="Post into this space.")
    person_email: Text | None = Field(None, description="Or send this person a direct message.")
    events: Annotated[tuple[EventType, ...], BeforeValidator(_list_of)] = Field(
        (), description="Only these types; empty: all."
    )

    @field_validator("person_email")
    @classmethod
    def _email(cls, email: str | None) -> str | None:
        if email is None:
            return None
        email = email.lower()
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise problem(f"{email!r} is not an email address")
        return email

    @model_validator(mode="after")
    def _one_target(self) -> NotifyWebex:
        if (self.room_id is None) == (self.person_email is None):
            raise problem(
                "needs exactly one of room_id and person_email",
                hint="room_id posts into a space, person_email sends a direct message",
            )
        return self


class NotifySettings(_Section):
    """Lifecycle notifications (core.notify) and re-login links (core.relink)."""

    webhooks: Annotated[tuple[NotifyWebhook, ...], BeforeValidator(_list_of)] = Field(
        (), description="Endpoints for signed lifecycle events (- url: https://...)."
    )
    webex: NotifyWebex | None = Field(None, description="Tell people in Webex too.")
    interval_seconds: float = Field(10, ge=1, le=3600, description="How often the outbox is sent.")
    timeout_seconds: float = Field(10, ge=1, le=60, description="Per delivery POST.")
    lease_seconds: int = Field(
        60, ge=2, le=3600, description="A delivery's claim; >= 2 x timeout_seconds."
    )
    give_up_hours: float = Field(
        24, ge=0.01, le=7 * 24, description="Retry a failing delivery this long, then drop it."
    )
    relink_minutes: int = Field(
        30, ge=1, le=24 * 60, description="How long a re-login link stays valid."
    )
    include_relink_link: bool = Field(
        False,
        description="Put a fresh single-use re-login link (relink_url) in account.needs_reauth "
        "and account.refresh_token_expiring events; everyone who receives them can use it.",
    )
    secret: SkipJsonSchema[Secret | None] = None

    @model_validator(mode="after")
    def _lease_outlives_post(self) -> NotifySettings:
        if self.lease_seconds < 2 * self.timeout_seconds:
            raise problem(
                f"({self.lease_seconds}) must be at least twice notify.timeout_seconds "
                f"({self.timeout_seconds:g})",
                hint="a delivery's claim must outlive the POST it protects",
                field="lease_seconds",
            )
        return self

    @property
    def enabled(self) -> bool:
        """Tell whether any endpoint or Webex target is configured."""
        return bool(self.webhooks) or self.webex is not None


class LoggingSettings(_Section):
    """Log level and line format (core.logs.configure_logging)."""

    level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        BeforeValidator(_upper),
        # Lower case is accepted too, so the schema must not flag `level: debug`.
        WithJsonSchema({"type": "string", "enum": [*_LEVELS, *(v.lower() for v in _LEVELS)]}),
    ] = Field("INFO", description="Secrets are redacted at every level.")
    format: Literal["text", "json"] = Field("text", description="json: one object per line.")


class EmulatorSettings(_Section):
    """Where the demo runs the Webex emulator."""

    host: Text = Field("127.0.0.1", description="Where `tokenbot demo` runs the Webex emulator.")
    port: int = Field(2001, ge=1, le=65535)


SECTIONS: dict[str, type[BaseModel]] = {
    "webex": WebexSettings,
    "database": DatabaseSettings,
    "refresh": RefreshSettings,
    "panel": PanelSettings,
    "bot": BotSettings,
    "broker": BrokerSettings,
    "notify": NotifySettings,
    "logging": LoggingSettings,
    "emulator": EmulatorSettings,
}


class Settings(BaseSettings):
    """Every setting of a tokenbot process; build it with `core.config.load_settings`."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        title="tokenbot config.yaml",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    mode: Literal["production", "demo"] = Field(
        "production",
        description="demo generates missing secrets for the process and relaxes the checks.",
    )
    # Frozen, so one default instance per section is safe to share.
    webex: WebexSettings = WebexSettings()
    database: DatabaseSettings = DatabaseSettings()
    refresh: RefreshSettings = RefreshSettings()
    panel: PanelSettings = PanelSettings()
    bot: BotSettings = BotSettings()
    broker: BrokerSettings = BrokerSettings()
    notify: NotifySettings = NotifySettings()
    logging: LoggingSettings = LoggingSettings()
    emulator: EmulatorSettings = EmulatorSettings()
    encryption_keys: SkipJsonSchema[Secret] = NO_SECRET

    # Facts about the load, not settings: never read from a file or the environment.
    _config_file: Path | None = PrivateAttr(default=None)
    _generated: tuple[str, ...] = PrivateAttr(default=())
    _warnings: tuple[str, ...] = PrivateAttr(default=())

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read nothing on our own: `load_settings` hands over its layers (file, environment).

        So `Settings(...)` alone is the defaults plus what is passed, never pydantic-settings'
        own reading of unprefixed environment variables.
        """
        return (init_settings,)

    @model_validator(mode="after")
    def _lease_outlives_request(self) -> Settings:
        if self.refresh.lease_seconds < 2 * self.webex.timeout_seconds:
            raise problem(
                f"({self.refresh.lease_seconds}) must be at least twice webex.timeout_seconds "
                f"({self.webex.timeout_seconds:g})",
                hint="a refresh lease must outlive the token request it protects",
                field="refresh.lease_seconds",
            )
        return self

    @property
    def config_file(self) -> Path | None:
        """The YAML file read, or None when built-in defaults were used."""
        return self._config_file

    @property
    def generated(self) -> tuple[str, ...]:
        """Environment variables generated for this demo process."""
        return self._generated

    @property
    def warnings(self) -> tuple[str, ...]:
        """What demo mode relaxed, one line each."""
        return self._warnings

    @property
    def demo(self) -> bool:
        """Tell whether this is the demo (relaxed, generated secrets) rather than production."""
        return self.mode == "demo"

    def cipher(self) -> TokenCipher:
        """Return the `TokenCipher` for `TOKENBOT_ENCRYPTION_KEYS` (checked at load time)."""
        return TokenCipher.from_spec(self.encryption_keys.reveal())

    def masked(self) -> dict[str, Any]:
        """Return every setting as plain data, secrets shown only as set/missing + fingerprint."""
        out: dict[str, Any] = {
            "mode": self.mode,
            "config_file": str(self.config_file) if self.config_file else None,
        }
        for name in SECTIONS:
            section = getattr(self, name)
            values: dict[str, Any] = {}
            for key in type(section).model_fields:
                value = getattr(section, key)
                env_name = SECRET_ENV.get((name, key))
                if env_name and key != "url":
                    values[key] = self._mask(env_name, value)
                elif isinstance(value, tuple):
                    values[key] = [_shown(item) for item in value]
                elif isinstance(value, BaseModel):
                    values[key] = _shown(value)
                else:
                    values[key] = value
            out[name] = values
        out["database"]["url"] = self.database.display_url
        out["encryption_keys"] = self._mask(ENCRYPTION_KEYS_ENV, self.encryption_keys)
        out["encryption_key_ids"] = list(self.cipher().key_ids)
        out["generated"] = list(self.generated)
        out["warnings"] = list(self.warnings)
        return out

    def _mask(self, env_name: str, value: Secret | None) -> str:
        if not value:
            return "missing"
        state = "generated" if env_name in self.generated else "set"
        return f"{state} (sha256:{value.fingerprint})"


def describe(value: Any) -> str:
    """Name a value's type and start, for "expected ..., got ..." messages."""
    text = repr(value)
    kind = {"dict": "mapping", "list": "list", "NoneType": "null"}.get(
        type(value).__name__, type(value).__name__
    )
    return f"{kind} {text[:60]}{'...' if len(text) > 60 else ''}"


def hide_password(url: str) -> str:
    """Return `url` with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _shown(value: Any) -> Any:
    """Plain data for `masked()`; an endpoint URL without its query (it may carry a token)."""
    if not isinstance(value, BaseModel):
        return value
    shown = value.model_dump(mode="json")
    url = shown.get("url")
    if isinstance(url, str):
        parts = urlsplit(url)
        tail = "?..." if parts.query else ""
        shown["url"] = urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) + tail
    return shown
