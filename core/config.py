"""One typed config path: `config.yaml` plus environment secrets, validated into frozen objects.

`load_settings` reads the YAML file, merges the caller's `overrides` (tests pass those instead of
editing files), takes secrets from the environment only, checks everything, and returns a frozen
`Settings`. Every problem is a `ConfigError` naming the dotted key (or the environment variable)
with one line saying what is wrong and how to fix it.

Secrets (environment only; a secret written in the YAML file is refused):
    WEBEX_CLIENT_ID, WEBEX_CLIENT_SECRET   the Webex integration's credentials
    TOKENBOT_SECRET_KEY                    Flask session key, at least 32 random bytes
    TOKENBOT_ENCRYPTION_KEYS               token encryption keys (see core.crypto)
    TOKENBOT_WEBHOOK_SECRET                webhook signing secret (bot.intake: webhook)
    TOKENBOT_DATABASE_URL                  overrides database.url (a URL can hold a password)

Production refuses insecure settings. Demo mode (``mode: demo`` or ``demo=True``) instead
generates any missing secret for this process only (so tokens a demo stored cannot be read by
the next demo process) and accepts insecure settings, listing all it relaxed in
`Settings.warnings`. Plain http to a loopback host (127.0.0.0/8, localhost, ::1) is fine in
either mode. Demo mode does not move `webex.api_base_url`: the demo wiring points it at the
emulator through `overrides`.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import math
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tokenbot.core.crypto import TokenCipher
from tokenbot.core.errors import ConfigError
from tokenbot.core.logs import register_secret
from tokenbot.core.settings import ENCRYPTION_KEYS_ENV
from tokenbot.core.settings import SECTIONS
from tokenbot.core.settings import BotSettings
from tokenbot.core.settings import DatabaseSettings
from tokenbot.core.settings import EmulatorSettings
from tokenbot.core.settings import LoggingSettings
from tokenbot.core.settings import PanelSettings
from tokenbot.core.settings import RefreshSettings
from tokenbot.core.settings import Secret
from tokenbot.core.settings import Settings
from tokenbot.core.settings import WebexSettings

# The types live in core.settings; they are re-exported so callers need one import path.
__all__ = [
    "BotSettings",
    "DatabaseSettings",
    "EmulatorSettings",
    "LoggingSettings",
    "PanelSettings",
    "RefreshSettings",
    "Secret",
    "Settings",
    "WebexSettings",
    "load_settings",
]

CONFIG_ENV = "TOKENBOT_CONFIG"
DEFAULT_CONFIG = "config.yaml"
MIN_SECRET_KEY_BITS = 256
MIN_WEBHOOK_SECRET_LENGTH = 16
INSECURE_TRANSPORT_VARS = ("OAUTHLIB_INSECURE_TRANSPORT", "AUTHLIB_INSECURE_TRANSPORT")


_TOP_LEVEL = ("mode", *SECTIONS)
DATABASE_URL_ENV = "TOKENBOT_DATABASE_URL"
# Keys someone may write in the YAML file for a secret, and where the secret goes instead.
_SECRET_KEYS = {
    "encryption_keys": ENCRYPTION_KEYS_ENV,
    "secret_key": "TOKENBOT_SECRET_KEY",
    "client_id": "WEBEX_CLIENT_ID",
    "client_secret": "WEBEX_CLIENT_SECRET",
    "webhook_secret": "TOKENBOT_WEBHOOK_SECRET",
}
_SECRETISH = re.compile(r"(?i)secret|password|passwd|token|api_key|encryption_key")


def load_settings(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    demo: bool = False,
) -> Settings:
    """Read, merge, check and freeze the configuration.

    Args:
        path: The YAML file. Default: `$TOKENBOT_CONFIG`, else ``config.yaml`` in the working
            directory (built-in defaults when that file does not exist).
        env: Where secrets come from (default `os.environ`).
        overrides: A nested mapping merged over the file, e.g. ``{"refresh": {"lease_seconds":
            5}}``; the same rules apply as to the file (no secrets).
        demo: Force demo mode.

    Raises:
        ConfigError: naming the key or environment variable at fault, with a hint.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    data, source = _read_file(path, environ)
    if overrides:
        data = _merge(data, overrides)
    return _Builder(data, environ, source, demo).build()


def _read_file(
    path: str | Path | None, env: Mapping[str, str]
) -> tuple[dict[str, Any], Path | None]:
    explicit = path is not None or bool(env.get(CONFIG_ENV))
    where = Path(path if path is not None else env.get(CONFIG_ENV) or DEFAULT_CONFIG)
    name = str(where)
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(
                name,
                "config file not found",
                hint=f"pass an existing file or unset {CONFIG_ENV}",
            ) from None
        return {}, None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(name, f"cannot read the config file: {exc}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        position = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            name,
            f"invalid YAML{position}: {exc.problem or exc.context}",
            hint="fix the syntax there: indent with spaces, quote values that hold ': '",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(name, f"invalid YAML: {exc}") from None
    if data is None:
        return {}, where.resolve()
    if not isinstance(data, dict):
        raise ConfigError(name, "the file must hold a mapping of sections (webex:, refresh:, ...)")
    return data, where.resolve()


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key written twice (PyYAML silently keeps the last)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else "known keys: " + ", ".join(known)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


class _Builder:
    """Turns merged raw data plus the environment into `Settings`, one check at a time."""

    def __init__(
        self, data: Mapping[str, Any], env: Mapping[str, str], source: Path | None, demo: bool
    ) -> None:
        self.data = data
        self.env = env
        self.source = source
        self.force_demo = demo
        self.demo = demo
        self.generated: list[str] = []
        self.warnings: list[str] = []

    def build(self) -> Settings:
        for key in self.data:
            if key not in _TOP_LEVEL:
                self._unknown(str(key), list(_TOP_LEVEL))
        mode = self._coerce(
            "mode", "str", self.data.get("mode", "production"), {"choices": ("production", "demo")}
        )
        self.demo = self.force_demo or mode == "demo"
        raw = {name: self._raw_section(name) for name in SECTIONS}
        values = {name: self._section(name, cls, raw[name]) for name, cls in SECTIONS.items()}
        self._insecure_transport()
        webex = self._webex(values["webex"])
        refresh = self._refresh(values["refresh"], webex)
        settings = Settings(
            mode="demo" if self.demo else "production",
            webex=webex,
            database=self._database(values["database"]),
            refresh=refresh,
            panel=self._panel(values["panel"]),
            bot=self._bot(values["bot"], values["panel"]),
            logging=LoggingSettings(**values["logging"]),
            emulator=EmulatorSettings(**values["emulator"]),
            encryption_keys=self._encryption_keys(),
            config_file=self.source,
            generated=tuple(self.generated),
            warnings=tuple(self.warnings),
        )
        _register_with_redactor(settings)
        return settings

    # -- generic checks --------------------------------------------------------------------

    def _unknown(self, key: str, known: list[str], prefix: str = "") -> None:
        dotted = prefix + key
        env_name = _SECRET_KEYS.get(key)
        if env_name:
            raise ConfigError(
                dotted,
                f"secrets come from environment variables only: set {env_name}",
                hint="remove the key from the file",
            )
        if _SECRETISH.search(key):
            raise ConfigError(
                dotted,
                "looks like a secret, and secrets come from environment variables only",
                hint="remove it from the file (see the header of config.yaml)",
            )
        raise ConfigError(dotted, "unknown key", hint=_suggest(key, known))

    def _raw_section(self, name: str) -> Mapping[str, Any]:
        raw = self.data.get(name)
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise ConfigError(name, f"expected a mapping of keys, got {_describe(raw)}")
        return raw

    def _section(self, name: str, cls: type[Any], raw: Mapping[str, Any]) -> dict[str, Any]:
        fields = {f.name: f for f in dataclasses.fields(cls) if "env" not in f.metadata}
        for key in raw:
            if key not in fields:
                self._unknown(str(key), list(fields), prefix=f"{name}.")
        values: dict[str, Any] = {}
        for key, item in fields.items():
            default = item.default if item.default is not dataclasses.MISSING else None
            value = raw.get(key, default)
            if value is None and (default is None or str(item.type).endswith("| None")):
                values[key] = None
                continue
            values[key] = self._coerce(f"{name}.{key}", str(item.type), value, item.metadata)
        return values

    def _coerce(self, key: str, kind: str, value: Any, meta: Mapping[str, Any]) -> Any:
        kind = kind.removesuffix(" | None")
        if kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(key, f"expected true or false, got {_describe(value)}")
            return value
        if kind in ("int", "float"):
            value = self._number(key, kind, value)
            low, high = meta.get("range", (-math.inf, math.inf))
            if not low <= value <= high:
                raise ConfigError(key, f"must be between {low:g} and {high:g}, got {value:g}")
            return value
        if kind == "tuple[str, ...]":
            if isinstance(value, str) and key == "webex.scopes":
                value = value.split()  # Webex writes scopes space-separated
            if not isinstance(value, list | tuple) or not all(
                isinstance(v, str) and v.strip() for v in value
            ):
                raise ConfigError(key, f"expected a list of strings, got {_describe(value)}")
            return tuple(v.strip() for v in value)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(key, f"expected a non-empty string, got {_describe(value)}")
        value = value.strip()
        choices = meta.get("choices")
        if choices:
            if key == "logging.level":
                value = value.upper()
            if value not in choices:
                raise ConfigError(
                    key,
                    f"must be one of {', '.join(choices)}; got {value!r}",
                    hint=_suggest(value, list(choices)),
                )
        return value

    @staticmethod
    def _number(key: str, kind: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"expected a number, got {_describe(value)}")
        if not math.isfinite(value):
            raise ConfigError(key, f"expected a finite number, got {value}")
        if kind == "int" and not isinstance(value, int):
            raise ConfigError(key, f"expected a whole number, got {value:g}")
        return value

    def _insecure(self, key: str, message: str, hint: str) -> None:
        """Refuse an insecure setting in production; note it in demo mode."""
        if not self.demo:
            raise ConfigError(key, message, hint=hint)
        self.warnings.append(f"{key}: {message} (allowed in demo mode only)")

    def _url(self, key: str, url: str, *, https: bool = False, path: bool = False) -> str:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ConfigError(
                key, f"bad URL {url!r}", hint="write it as https://host/path"
            ) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(key, f"bad URL {url!r}: expected http:// or https:// and a host")
        if parts.username or parts.password:
            raise ConfigError(key, "the URL must not contain credentials")
        if parts.fragment:
            raise ConfigError(key, f"bad URL {url!r}: a #fragment is not allowed here")
        if path and parts.path in ("", "/"):
            raise ConfigError(key, f"bad URL {url!r}: needs a path, e.g. /oauth/callback")
        if parts.scheme == "http":
            if https:
                self._insecure(key, "must use https://", hint="Webex only delivers to https URLs")
            elif not _is_loopback(parts.hostname):
                self._insecure(
                    key,
                    "uses plain http:// to a non-loopback host",
                    hint="use https:// (http is only accepted for 127.0.0.1, localhost and ::1)",
                )
        return url

    def _secret(self, name: str) -> Secret | None:
        value = self.env.get(name, "").strip()
        return Secret(value) if value else None

    def _missing(self, name: str, why: str, make: str) -> Secret:
        """Refuse a missing secret in production; generate one for this demo process."""
        if not self.demo:
            raise ConfigError(name, f"is not set; {why}", hint=f"set {name}: {make}")
        self.generated.append(name)
        self.warnings.append(f"{name}: not set, generated for this process (demo mode)")
        if name == ENCRYPTION_KEYS_ENV:
            return Secret(TokenCipher.generate_key_spec("demo"))
        if name == "WEBEX_CLIENT_ID":
            return Secret("tokenbot-demo-" + secrets.token_hex(8))
        return Secret(secrets.token_urlsafe(32))

    def _insecure_transport(self) -> None:
        for name in INSECURE_TRANSPORT_VARS:
            if self.env.get(name):
                self._insecure(
                    name,
                    "is set: it lets OAuth run over plain http",
                    hint=f"unset {name}; tokenbot never needs it",
                )

    # -- sections --------------------------------------------------------------------------

    def _webex(self, values: dict[str, Any]) -> WebexSettings:
        base = self._url("webex.api_base_url", values["api_base_url"])
        if not base.endswith("/v1/"):
            raise ConfigError(
                "webex.api_base_url",
                f"must end in /v1/, got {base!r}",
                hint="e.g. https://webexapis.com/v1/",
            )
        values["authorize_url"] = self._url(
            "webex.authorize_url", values["authorize_url"] or base + "authorize"
        )
        values["token_url"] = self._url(
            "webex.token_url", values["token_url"] or base + "access_token"
        )
        self._url("webex.redirect_uri", values["redirect_uri"], path=True)
        if not values["scopes"]:
            raise ConfigError("webex.scopes", "is empty", hint="list at least spark:people_read")
        for scope in values["scopes"]:
            if not re.fullmatch(r"[A-Za-z0-9_:.\-]+", scope):
                raise ConfigError("webex.scopes", f"{scope!r} is not a Webex scope name")
        where = "copy it from your integration at developer.webex.com > My Webex Apps"
        client_id = self._secret("WEBEX_CLIENT_ID") or self._missing(
            "WEBEX_CLIENT_ID", "tokenbot needs the Webex integration's client id", where
        )
        client_secret = self._secret("WEBEX_CLIENT_SECRET") or self._missing(
            "WEBEX_CLIENT_SECRET", "tokenbot needs the Webex integration's client secret", where
        )
        return WebexSettings(**values, client_id=client_id, client_secret=client_secret)

    def _database(self, values: dict[str, Any]) -> DatabaseSettings:
        from_env = self.env.get(DATABASE_URL_ENV, "").strip()
        key = DATABASE_URL_ENV if from_env else "database.url"
        url = from_env or values["url"]
        if not from_env and urlsplit(url).password:
            raise ConfigError(
                "database.url",
                f"holds a password; secrets come from environment variables only: "
                f"set {DATABASE_URL_ENV}",
                hint="remove the password from the file",
            )
        scheme = url.partition("://")[0]
        if scheme in ("postgres", "postgresql"):
            # psycopg 3 is the driver we ship; SQLAlchemy's default would want psycopg2.
            url = "postgresql+psycopg://" + url.partition("://")[2]
            scheme = "postgresql+psycopg"
        if scheme not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg") or "://" not in url:
            raise ConfigError(
                key,
                "bad URL: expected sqlite:///path or postgresql+psycopg://user@host/db",
                hint="e.g. sqlite:///data/tokenbot.sqlite3",
            )
        values["url"] = url
        settings = DatabaseSettings(**values)
        if settings.is_sqlite and settings.busy_timeout_seconds < 15:
            raise ConfigError(
                "database.busy_timeout_seconds",
                f"must be at least 15 for SQLite, got {settings.busy_timeout_seconds:g}",
                hint="writers wait this long for the lock instead of failing at once",
            )
        return settings

    def _refresh(self, values: dict[str, Any], webex: WebexSettings) -> RefreshSettings:
        settings = RefreshSettings(**values)
        if settings.backoff_base_seconds > settings.backoff_max_seconds:
            raise ConfigError(
                "refresh.backoff_base_seconds",
                f"({settings.backoff_base_seconds:g}) is larger than "
                f"refresh.backoff_max_seconds ({settings.backoff_max_seconds:g})",
            )
        if settings.min_token_validity_seconds > settings.margin_seconds:
            raise ConfigError(
                "refresh.min_token_validity_seconds",
                f"({settings.min_token_validity_seconds}) is larger than "
                f"refresh.margin_seconds ({settings.margin_seconds})",
                hint="a token must become due for refresh before it is too short to hand out",
            )
        if settings.lease_seconds < 2 * webex.timeout_seconds:
            raise ConfigError(
                "refresh.lease_seconds",
                f"({settings.lease_seconds}) must be at least twice webex.timeout_seconds "
                f"({webex.timeout_seconds:g})",
                hint="a refresh lease must outlive the token request it protects",
            )
        return settings

    def _panel(self, values: dict[str, Any]) -> PanelSettings:
        if values["public_url"]:
            self._url("panel.public_url", values["public_url"])
        if values["session_idle_minutes"] > values["session_absolute_hours"] * 60:
            raise ConfigError(
                "panel.session_idle_minutes",
                "is longer than panel.session_absolute_hours",
                hint="the idle timeout must fit inside the absolute session lifetime",
            )
        self._proxies(values)
        for host in values["allowed_hosts"]:
            if not re.fullmatch(r"\.?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*|\[[0-9A-Fa-f:.]+\]", host):
                raise ConfigError(
                    "panel.allowed_hosts",
                    f"{host!r} is not a host name",
                    hint="give names without scheme or port, e.g. tokenbot.example.com",
                )
        name = "TOKENBOT_SECRET_KEY"
        make = "make one with python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        key = self._secret(name)
        if key is None:
            key = self._missing(name, "the admin panel signs its sessions with it", make)
        elif name not in self.generated and _entropy_bits(key.reveal()) < MIN_SECRET_KEY_BITS:
            self._insecure(
                name,
                f"is too weak: it needs at least {MIN_SECRET_KEY_BITS // 8} random bytes",
                hint=make,
            )
        return PanelSettings(**values, secret_key=key)

    @staticmethod
    def _proxies(values: dict[str, Any]) -> None:
        for address in values["trusted_proxy_addresses"]:
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                raise ConfigError(
                    "panel.trusted_proxy_addresses",
                    f"{address!r} is not an IP address or network",
                    hint="list your reverse proxies' addresses, e.g. [10.0.0.5, 10.1.0.0/24]",
                ) from None
        if values["trusted_proxies"] and not values["trusted_proxy_addresses"]:
            raise ConfigError(
                "panel.trusted_proxy_addresses",
                "is empty while panel.trusted_proxies is set",
                hint="list the addresses your reverse proxies connect from; only they may set "
                "X-Forwarded-For",
            )

    def _bot(self, values: dict[str, Any], panel: Mapping[str, Any]) -> BotSettings:
        if re.search(r"\s", values["prefix"]) or len(values["prefix"]) > 16:
            raise ConfigError("bot.prefix", "must be 1-16 characters without spaces, e.g. /")
        for plugin in values["plugins"]:
            if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", plugin):
                raise ConfigError("bot.plugins", f"{plugin!r} is not a Python module path")
        values["allowed_emails"] = tuple(e.lower() for e in values["allowed_emails"])
        for email in values["allowed_emails"]:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                raise ConfigError("bot.allowed_emails", f"{email!r} is not an email address")
        values["allowed_domains"] = tuple(d.lower().lstrip("@") for d in values["allowed_domains"])
        for domain in values["allowed_domains"]:
            if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", domain):
                raise ConfigError("bot.allowed_domains", f"{domain!r} is not a domain name")
        values["file_types"] = tuple(t.strip().lower() for t in values["file_types"])
        for kind in values["file_types"]:
            if not re.fullmatch(r"[a-z0-9.+-]+/(\*|[a-z0-9.+-]+)", kind):
                raise ConfigError(
                    "bot.file_types",
                    f"{kind!r} is not a media type",
                    hint="e.g. image/* or text/csv",
                )
        if values["public_url"]:
            self._url("bot.public_url", values["public_url"], https=values["intake"] == "webhook")
        secret = self._secret("TOKENBOT_WEBHOOK_SECRET")
        if values["intake"] == "webhook":
            if not values["public_url"]:
                if not self.demo:
                    raise ConfigError(
                        "bot.public_url",
                        "is required for bot.intake: webhook",
                        hint="set the https URL where Webex can reach this service, "
                        "or use bot.intake: polling",
                    )
                values["public_url"] = f"http://{panel['host']}:{panel['port']}"
                self.warnings.append(
                    f"bot.public_url: not set, webhooks go to {values['public_url']} (demo mode)"
                )
            if secret is None:
                secret = self._missing(
                    "TOKENBOT_WEBHOOK_SECRET",
                    "webhook intake checks every delivery's signature with it",
                    "use at least 16 random characters",
                )
            elif len(secret.reveal()) < MIN_WEBHOOK_SECRET_LENGTH:
                self._insecure(
                    "TOKENBOT_WEBHOOK_SECRET",
                    f"is shorter than {MIN_WEBHOOK_SECRET_LENGTH} characters",
                    hint="use a long random value",
                )
        return BotSettings(**values, webhook_secret=secret)

    def _encryption_keys(self) -> Secret:
        spec = self._secret(ENCRYPTION_KEYS_ENV)
        if spec is None:
            return self._missing(
                ENCRYPTION_KEYS_ENV,
                "tokens are stored encrypted with it",
                "make one with python -c 'from core.crypto import TokenCipher; "
                "print(TokenCipher.generate_key_spec())'",
            )
        TokenCipher.from_spec(spec.reveal())  # raises ConfigError naming the variable
        return spec


def _entropy_bits(value: str) -> float:
    """Estimate the entropy of a key from its alphabet; low-variety strings score zero."""
    if len(set(value)) < 12:
        return 0.0
    if re.fullmatch(r"[0-9a-fA-F]+", value):
        per_char = 4.0
    elif re.fullmatch(r"[A-Za-z0-9_\-+/=]+", value):
        per_char = 6.0
    else:
        per_char = math.log2(94)
    return len(value) * per_char


def _register_with_redactor(settings: Settings) -> None:
    """Make the log redactor hide every secret we hold (not the client id: it is public)."""
    for secret in (
        settings.webex.client_secret,
        settings.panel.secret_key,
        settings.bot.webhook_secret,
        settings.encryption_keys,
    ):
        if secret is not None:
            register_secret(secret.reveal())
    for entry in settings.encryption_keys.reveal().split(","):
        register_secret(entry.partition(":")[2].strip())
    register_secret(urlsplit(settings.database.url).password)
