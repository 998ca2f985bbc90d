"""One config path: `config.yaml`, then the environment, validated into frozen `Settings`.

`load_settings` merges, highest first:
    secrets    WEBEX_CLIENT_ID, WEBEX_CLIENT_SECRET, TOKENBOT_SECRET_KEY,
               TOKENBOT_ENCRYPTION_KEYS, TOKENBOT_WEBHOOK_SECRET, TOKENBOT_DATABASE_URL;
               each also as `<NAME>_FILE`, the path of a file holding it (Docker/Kubernetes)
    overrides  what the caller passes (`tokenbot demo`, `serve --port`, tests)
    TOKENBOT_<SECTION>__<KEY>   any key, e.g. TOKENBOT_PANEL__PORT=2345 (TOKENBOT_MODE for mode)
    config.yaml                 `$TOKENBOT_CONFIG`, else ./config.yaml; no secrets allowed in it
The environment is the process's, over a `.env` file beside the config file when there is one.
pydantic-settings merges these sources and pydantic checks the values (`core.settings`); every
problem becomes one line naming the dotted key (or the environment variable) with a fix, and
all of them are reported at once (`ConfigProblems` when there are several).

Production refuses insecure settings. Demo mode (``mode: demo`` or ``demo=True``) instead
generates any missing secret for this process only (so tokens a demo stored cannot be read by
the next demo process) and accepts insecure settings, listing all it relaxed in
`Settings.warnings`. Plain http to a loopback host (127.0.0.0/8, localhost, ::1) is fine in
either mode. Demo mode does not move `webex.api_base_url`: the demo wiring points it at the
emulator through `overrides`.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import math
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from typing import Literal
from typing import get_args
from typing import get_origin
from urllib.parse import urlsplit

import yaml
from dotenv import dotenv_values
from pydantic import BaseModel
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import PydanticBaseSettingsSource

from tokenbot.core.crypto import TokenCipher
from tokenbot.core.errors import ConfigError
from tokenbot.core.errors import ConfigProblems
from tokenbot.core.logs import register_secret
from tokenbot.core.loopback import is_loopback_host
from tokenbot.core.settings import DATABASE_URL_ENV
from tokenbot.core.settings import ENCRYPTION_KEYS_ENV
from tokenbot.core.settings import NO_SECRET
from tokenbot.core.settings import SECRET_ENV
from tokenbot.core.settings import SECTIONS
from tokenbot.core.settings import BotSettings
from tokenbot.core.settings import BrokerSettings
from tokenbot.core.settings import DatabaseSettings
from tokenbot.core.settings import EmulatorSettings
from tokenbot.core.settings import LoggingSettings
from tokenbot.core.settings import NotifySettings
from tokenbot.core.settings import PanelSettings
from tokenbot.core.settings import RefreshSettings
from tokenbot.core.settings import Secret
from tokenbot.core.settings import Settings
from tokenbot.core.settings import WebexSettings
from tokenbot.core.settings import describe

# The types live in core.settings; they are re-exported so callers need one import path.
__all__ = [
    "BotSettings",
    "BrokerSettings",
    "DatabaseSettings",
    "EmulatorSettings",
    "LoggingSettings",
    "NotifySettings",
    "PanelSettings",
    "RefreshSettings",
    "Secret",
    "Settings",
    "WebexSettings",
    "config_schema",
    "load_database_url",
    "load_settings",
    "notify_secret_key",
]

CONFIG_ENV = "TOKENBOT_CONFIG"
DEFAULT_CONFIG = "config.yaml"
ENV_PREFIX = "TOKENBOT_"
MIN_SECRET_KEY_BITS = 256
MIN_WEBHOOK_SECRET_LENGTH = 16
NOTIFY_SECRET_ENV = "TOKENBOT_NOTIFY_SECRET"
NOTIFY_SECRET_FILE_ENV = "TOKENBOT_NOTIFY_SECRET_FILE"
# Standard Webhooks: the key is 24 to 64 random bytes, written whsec_<base64>.
NOTIFY_SECRET_BYTES = (24, 64)
INSECURE_TRANSPORT_VARS = ("OAUTHLIB_INSECURE_TRANSPORT", "AUTHLIB_INSECURE_TRANSPORT")
_TOP_LEVEL = ("mode", *SECTIONS)
_SECRETISH = re.compile(r"(?i)secret|password|passwd|token|api_key|encryption_key")
_MAKE_KEY = "make one with python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
_WHERE_CLIENT = "copy it from your integration at developer.webex.com > My Webex Apps"

KeyPath = tuple[str, ...]  # ("panel", "port") for panel.port
# The secrets every process needs: why, and how to get one (the fix in the error line).
_REQUIRED = {
    "WEBEX_CLIENT_ID": ("tokenbot needs the Webex integration's client id", _WHERE_CLIENT),
    "WEBEX_CLIENT_SECRET": ("tokenbot needs the Webex integration's client secret", _WHERE_CLIENT),
    "TOKENBOT_SECRET_KEY": ("the admin panel signs its sessions with it", _MAKE_KEY),
    ENCRYPTION_KEYS_ENV: (
        "tokens are stored encrypted with it",
        "make one with `tokenbot keys generate`",
    ),
    "TOKENBOT_WEBHOOK_SECRET": (
        "webhook intake checks every delivery's signature with it",
        "use at least 16 random characters",
    ),
}
_ALWAYS_REQUIRED = (
    "WEBEX_CLIENT_ID",
    "WEBEX_CLIENT_SECRET",
    "TOKENBOT_SECRET_KEY",
    ENCRYPTION_KEYS_ENV,
)


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
        env: The environment (default `os.environ`); a `.env` beside the file fills in what it
            lacks.
        overrides: A nested mapping merged over the file and the environment's
            ``TOKENBOT_<SECTION>__<KEY>``, e.g. ``{"refresh": {"lease_seconds": 5}}``; the same
            rules apply as to the file (no secrets).
        demo: Force demo mode.

    Raises:
        ConfigError: naming the key or environment variable at fault, with a hint;
            `ConfigProblems` (one line per problem) when there are several.
    """
    environ = os.environ if env is None else env
    where, explicit = _where(path, environ)
    file_data, source = _read_file(where, explicit)
    environ = {**_read_dotenv(where.parent / ".env"), **environ}
    loader = _Loader(environ, source)
    loader.add_file(file_data)
    if overrides:
        loader.add_file(dict(overrides), overrides=True)
    if demo:
        loader.add_overrides({"mode": "demo"})
    loader.add_environment()
    return loader.build()


def load_database_url(
    path: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> str:
    """Return only the database URL, for commands that need nothing else (`db upgrade`).

    The file and the environment are read and checked as by `load_settings`, but no secret
    other than `TOKENBOT_DATABASE_URL` is needed.

    Raises:
        ConfigError: the same one-line errors as `load_settings`.
    """
    settings = load_settings(path, env=env, demo=True)
    return settings.database.url


def config_schema() -> dict[str, Any]:
    """Return the JSON Schema of `config.yaml` (what `tokenbot config schema` prints)."""
    schema = Settings.model_json_schema()
    return {"$schema": schema.pop("$schema"), **schema}


# -- reading -------------------------------------------------------------------------------


def _where(path: str | Path | None, env: Mapping[str, str]) -> tuple[Path, bool]:
    explicit = path is not None or bool(env.get(CONFIG_ENV))
    return Path(path if path is not None else env.get(CONFIG_ENV) or DEFAULT_CONFIG), explicit


def _read_file(where: Path, explicit: bool) -> tuple[dict[str, Any], Path | None]:
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


def _read_dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    return {key: value for key, value in dotenv_values(path).items() if value is not None}


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


class _Source(PydanticBaseSettingsSource):
    """One layer of already-collected values (the file, the overrides, the environment)."""

    def __init__(self, name: str, data: dict[str, Any]) -> None:
        super().__init__(Settings)
        self.__name__ = name
        self._data = data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Return the layer's value for one top-level field (unused: `__call__` does it all)."""
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data


# -- loading -------------------------------------------------------------------------------


class _Loader:
    """Collects the layers and every problem found in them, then builds `Settings`."""

    def __init__(self, env: Mapping[str, str], source: Path | None) -> None:
        self.env = env
        self.source = source
        self.file: dict[str, Any] = {}
        self.overrides: dict[str, Any] = {}
        self.environment: dict[str, Any] = {}
        self.secrets: dict[str, Any] = {}
        # Which environment variable set a key: `named` ones are the key (secrets), `via` ones
        # are mentioned after the dotted key (TOKENBOT_<SECTION>__<KEY>).
        self.named: dict[KeyPath, str] = {}
        self.via: dict[KeyPath, str] = {}
        self.problems: list[ConfigError] = []
        self.unusable: set[str] = set()  # secrets whose _FILE failed: reported already

    # The file and the overrides share the rules: no secrets, no passwords.
    def add_file(self, data: dict[str, Any], *, overrides: bool = False) -> None:
        """Add the YAML file's mapping (or the caller's `overrides`), refusing secrets in it."""
        cleaned: dict[str, Any] = {}
        for key, value in data.items():
            name = str(key)
            if (name,) in SECRET_ENV or (name not in _TOP_LEVEL and _SECRETISH.search(name)):
                self._secret_in_file((name,))
            elif name in SECTIONS and isinstance(value, Mapping):
                cleaned[name] = self._clean_section(name, value)
            else:
                cleaned[name] = value
        url = cleaned.get("database", {}).get("url") if "database" in cleaned else None
        if isinstance(url, str) and _has_password(url):
            self.problems.append(
                ConfigError(
                    "database.url",
                    f"holds a password; secrets come from environment variables only: "
                    f"set {DATABASE_URL_ENV}",
                    hint="remove the password from the file",
                )
            )
            del cleaned["database"]["url"]
        if overrides:
            self.overrides = _merge(self.overrides, cleaned)
        else:
            self.file = cleaned

    def add_overrides(self, data: dict[str, Any]) -> None:
        """Add values the loader itself decides (demo=True)."""
        self.overrides = _merge(self.overrides, data)

    def _clean_section(self, section: str, values: Mapping[str, Any]) -> dict[str, Any]:
        model = SECTIONS[section]
        out: dict[str, Any] = {}
        for key, value in values.items():
            name = str(key)
            where = (section, name)
            if where in SECRET_ENV and name != "url":
                self._secret_in_file(where)
            elif name not in model.model_fields and _SECRETISH.search(name):
                self._secret_in_file(where)
            else:
                out[name] = value
        return out

    def _secret_in_file(self, where: KeyPath) -> None:
        env_name = SECRET_ENV.get(where)
        if env_name:
            message = f"secrets come from environment variables only: set {env_name}"
            hint = "remove the key from the file"
        else:
            message = "looks like a secret, and secrets come from environment variables only"
            hint = "remove it from the file (see the header of config.yaml)"
        self.problems.append(ConfigError(".".join(where), message, hint=hint))

    def add_environment(self) -> None:
        """Add TOKENBOT_<SECTION>__<KEY> and TOKENBOT_MODE, then the secrets (or their files)."""
        for name in sorted(self.env):
            if not name.startswith(ENV_PREFIX):
                continue
            rest = name[len(ENV_PREFIX) :]
            if rest == "MODE":
                self.environment["mode"] = self.env[name].strip()
                self.via[("mode",)] = name
                continue
            section, sep, key = rest.partition("__")
            if not sep or not section or not key:
                continue
            where: KeyPath = (section.lower(), key.lower())
            if where in SECRET_ENV:  # one name per secret, so two can never disagree
                self.problems.append(
                    ConfigError(
                        name,
                        f"is not read: {'.'.join(where)} comes from {SECRET_ENV[where]}",
                        hint=f"rename the variable to {SECRET_ENV[where]}",
                    )
                )
                continue
            value = _decode(where, self.env[name])
            self.environment.setdefault(where[0], {})[where[1]] = value
            self.via[where] = name
            self.via.setdefault(where[:1], name)
        for where, env_name in SECRET_ENV.items():
            value = self._secret_value(env_name)
            if value is None:
                continue
            if len(where) == 1:
                self.secrets[where[0]] = value
            else:
                self.secrets.setdefault(where[0], {})[where[1]] = value
            self.named[where] = env_name

    def _secret_value(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        file_name = f"{name}_FILE"
        path = self.env.get(file_name, "").strip()
        if not path:
            return value or None
        self.unusable.add(name)  # until the file proves usable
        if value:
            self.problems.append(
                ConfigError(name, f"is set and so is {file_name}", hint="set only one of them")
            )
            return None
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.problems.append(
                ConfigError(
                    file_name,
                    f"cannot read {path}: {reason}",
                    hint=f"point it at a readable file holding {name}",
                )
            )
            return None
        if not text:
            self.problems.append(
                ConfigError(file_name, f"{path} is empty", hint=f"write {name} into it")
            )
            return None
        self.unusable.discard(name)
        return text

    def build(self) -> Settings:
        """Validate the merged layers, apply the production/demo rules, register secrets."""
        layers = (
            _Source("secrets", self.secrets),
            _Source("overrides", self.overrides),
            _Source("environment", self.environment),
            _Source("config_file", self.file),
        )
        try:
            # pydantic-settings merges the layers (first wins) and validates once.
            settings = Settings(_build_sources=(layers, {}))
        except ValidationError as exc:
            # The mode-dependent rules need valid values; name the missing secrets anyway.
            self.problems.extend(self._translate(error) for error in exc.errors())
            self.problems.extend(self._missing_before_validation())
            raise _collected(self.problems) from None
        settings = _Rules(settings, self.env, self.problems, self.unusable).apply()
        if self.problems:
            raise _collected(self.problems)
        settings = self._resolve_sqlite(settings)
        object.__setattr__(settings, "_config_file", self.source)  # set once, before use
        _register_with_redactor(settings)
        return settings

    def _missing_before_validation(self) -> list[ConfigError]:
        """Name the always-needed secrets that are missing (production only)."""
        mode = self.overrides.get("mode") or self.environment.get("mode") or self.file.get("mode")
        if mode == "demo":
            return []
        given = set(self.named.values()) | self.unusable
        return [_missing(name) for name in _ALWAYS_REQUIRED if name not in given]

    def _resolve_sqlite(self, settings: Settings) -> Settings:
        """Make a relative SQLite path from the file relative to the file's folder."""
        url = settings.database.url
        if (
            self.source is None
            or ("database", "url") in self.named
            or not settings.database.is_sqlite
        ):
            return settings
        scheme, _, rest = url.partition("://")
        target, query_sep, query = rest.removeprefix("/").partition("?")
        if not target or target == ":memory:" or target.startswith(("/", "file:")):
            return settings
        absolute = (self.source.parent / target).resolve()
        database = settings.database.model_copy(
            update={"url": f"{scheme}:///{absolute}{query_sep}{query}"}
        )
        return settings.model_copy(update={"database": database})

    def _translate(self, error: ErrorDetails) -> ConfigError:
        """Turn one pydantic error into our one-line `ConfigError`."""
        where: KeyPath = tuple(str(part) for part in error["loc"] if not isinstance(part, int))
        context: dict[str, Any] = dict(error.get("ctx") or {})
        if error["type"] == "tokenbot" and context.get("field"):
            where = where + tuple(str(context["field"]).split("."))
        message, hint = _explain(where, error, context)
        if where in self.named:
            return ConfigError(self.named[where], message, hint=hint)
        if where in self.via:
            message = f"{message}; set by {self.via[where]}"
        return ConfigError(_dotted(error["loc"], where), message, hint=hint)


def _dotted(loc: tuple[int | str, ...], where: KeyPath) -> str:
    """Name the key as a user writes it: an entry of a list of mappings as `webhooks[0]`."""
    parts: list[str] = []
    for index, part in enumerate(loc):
        if isinstance(part, int):
            if parts and index < len(loc) - 1:
                parts[-1] += f"[{part}]"
            continue
        parts.append(str(part))
    extra = where[len([p for p in loc if not isinstance(p, int)]) :]
    return ".".join([*parts, *extra])


def _collected(problems: list[ConfigError]) -> ConfigError:
    """Return the one problem, or all of them as `ConfigProblems` (repeats dropped)."""
    unique = list({str(problem): problem for problem in problems}.values())
    return unique[0] if len(unique) == 1 else ConfigProblems(unique)


def _missing(name: str) -> ConfigError:
    why, make = _REQUIRED[name]
    return ConfigError(name, f"is not set; {why}", hint=f"set {name}: {make}")


def _has_password(url: str) -> bool:
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


def _field(where: KeyPath) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """Find the model holding `where` and the field it names."""
    model: type[BaseModel] = Settings
    for part in where[:-1]:
        info = model.model_fields.get(part)
        annotation = info.annotation if info else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None, None
        model = annotation
    return model, model.model_fields.get(where[-1]) if where else None


def _known(model: type[BaseModel]) -> list[str]:
    if model is Settings:
        return list(_TOP_LEVEL)
    section = next((name for name, cls in SECTIONS.items() if cls is model), "")
    return [key for key in model.model_fields if (section, key) not in SECRET_ENV or key == "url"]


def _explain(
    where: KeyPath, error: ErrorDetails, context: Mapping[str, Any]
) -> tuple[str, str | None]:
    """Say in our words what pydantic found wrong, with a fix when there is one."""
    kind = error["type"]
    value = error.get("input")
    model, info = _field(where)
    if kind == "tokenbot":
        return str(context["message"]), context.get("hint")
    if kind == "extra_forbidden":
        if where and _SECRETISH.search(where[-1]):
            return (
                "secrets come from environment variables only, never from the file",
                "remove the key from the file (a notify endpoint is signed with "
                "TOKENBOT_NOTIFY_SECRET)",
            )
        return "unknown key", _suggest(where[-1], _known(model or Settings))
    if kind in ("int_type", "int_parsing", "int_from_float", "float_type", "float_parsing"):
        if isinstance(value, float) and not isinstance(value, bool) and math.isfinite(value):
            return f"expected a whole number, got {value:g}", None
        return f"expected a number, got {describe(value)}", None
    if kind == "finite_number":
        return f"expected a finite number, got {value}", None
    if kind in ("greater_than_equal", "less_than_equal") and info is not None:
        low = next((m.ge for m in info.metadata if hasattr(m, "ge")), -math.inf)
        high = next((m.le for m in info.metadata if hasattr(m, "le")), math.inf)
        return f"must be between {low:g} and {high:g}, got {value:g}", None
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {describe(value)}", None
    if kind == "literal_error" and info is not None:
        choices = [str(choice) for choice in _literal_choices(info.annotation)]
        return f"must be one of {', '.join(choices)}; got {value!r}", _suggest(str(value), choices)
    if kind in ("string_type", "string_too_short"):
        return f"expected a non-empty string, got {describe(value)}", None
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of keys, got {describe(value)}", None
    return error["msg"], None


def _literal_choices(annotation: Any) -> tuple[Any, ...]:
    return get_args(annotation) if get_origin(annotation) is Literal else ()


def _decode(where: KeyPath, raw: str) -> Any:
    """Read an environment string as the type of the key it sets (YAML's words for it).

    Left as a string when it does not read as that type, so pydantic's error (and ours) is the
    same as for the same mistake in the file.
    """
    text = raw.strip()
    _, info = _field(where)
    if info is None:
        return text
    kinds = {arg for arg in get_args(info.annotation)} | {info.annotation}
    if bool in kinds:
        words = {"true": True, "yes": True, "on": True, "1": True}
        words |= {"false": False, "no": False, "off": False, "0": False}
        return words.get(text.lower(), text)
    if int in kinds or float in kinds:
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                continue
        return text
    if type(None) in kinds and text.lower() in ("", "null", "none", "~"):
        return None
    if get_origin(info.annotation) is tuple:
        if text.startswith("["):
            try:
                return yaml.safe_load(text)
            except yaml.YAMLError:
                return text
        return [item for item in re.split(r"[,\s]+", text) if item]
    return text


class _Rules:
    """The rules that depend on the mode: refuse in production, relax and note in demo."""

    def __init__(
        self,
        settings: Settings,
        env: Mapping[str, str],
        problems: list[ConfigError],
        unusable: set[str],
    ) -> None:
        self.settings = settings
        self.env = env
        self.problems = problems
        self.unusable = unusable
        self.demo = settings.demo
        self.generated: list[str] = []
        self.warnings: list[str] = []

    def apply(self) -> Settings:
        """Check every mode-dependent rule; return the settings with demo secrets filled in."""
        s = self.settings
        for name in INSECURE_TRANSPORT_VARS:
            if self.env.get(name):
                self._insecure(
                    name,
                    "is set: it lets OAuth run over plain http",
                    hint=f"unset {name}; tokenbot never needs it",
                )
        derived = {"authorize_url": "authorize", "token_url": "access_token"}
        for key in ("api_base_url", "authorize_url", "token_url", "redirect_uri", "u2c_url"):
            url = getattr(s.webex, key)
            if key in derived and url == s.webex.api_base_url + derived[key]:
                continue  # derived from api_base_url, which is checked already
            self._http(f"webex.{key}", url)
        webex = s.webex.model_copy(
            update={
                "client_id": self._required("WEBEX_CLIENT_ID", s.webex.client_id),
                "client_secret": self._required("WEBEX_CLIENT_SECRET", s.webex.client_secret),
            }
        )
        panel = s.panel.model_copy(update={"secret_key": self._secret_key(s.panel)})
        bot = self._bot(s.bot, s.panel)
        notify = self._notify(s.notify)
        keys = self._encryption_keys(s.encryption_keys)
        settings = s.model_copy(
            update={
                "webex": webex,
                "panel": panel,
                "bot": bot,
                "notify": notify,
                "encryption_keys": keys,
            }
        )
        object.__setattr__(settings, "_generated", tuple(self.generated))
        object.__setattr__(settings, "_warnings", tuple(self.warnings))
        return settings

    def _insecure(self, key: str, message: str, hint: str) -> None:
        """Refuse an insecure setting in production; note it in demo mode."""
        if not self.demo:
            self.problems.append(ConfigError(key, message, hint=hint))
        else:
            self.warnings.append(f"{key}: {message} (allowed in demo mode only)")

    def _http(self, key: str, url: str | None, *, https: bool = False) -> None:
        if not url:
            return
        parts = urlsplit(url)
        if parts.scheme != "http":
            return
        if https:
            self._insecure(key, "must use https://", hint="Webex only delivers to https URLs")
        elif not is_loopback_host(parts.hostname or ""):
            self._insecure(
                key,
                "uses plain http:// to a non-loopback host",
                hint="use https:// (http is only accepted for 127.0.0.1, localhost and ::1)",
            )

    def _required(self, name: str, value: Secret | None) -> Secret:
        """Return the secret; refuse a missing one in production, generate it in demo."""
        if value:
            return value
        if name in self.unusable:
            return NO_SECRET  # its _FILE failed, and that is reported already
        if not self.demo:
            self.problems.append(_missing(name))
            return NO_SECRET
        self.generated.append(name)
        self.warnings.append(f"{name}: not set, generated for this process (demo mode)")
        if name == ENCRYPTION_KEYS_ENV:
            return Secret(TokenCipher.generate_key_spec("demo"))
        if name == "WEBEX_CLIENT_ID":
            return Secret("tokenbot-demo-" + secrets.token_hex(8))
        return Secret(secrets.token_urlsafe(32))

    def _secret_key(self, panel: PanelSettings) -> Secret:
        self._http("panel.public_url", panel.public_url)
        name = "TOKENBOT_SECRET_KEY"
        if panel.secret_key and _entropy_bits(panel.secret_key.reveal()) < MIN_SECRET_KEY_BITS:
            self._insecure(
                name,
                f"is too weak: it needs at least {MIN_SECRET_KEY_BITS // 8} random bytes",
                hint=_MAKE_KEY,
            )
        return self._required(name, panel.secret_key)

    def _bot(self, bot: BotSettings, panel: PanelSettings) -> BotSettings:
        webhook = bot.intake == "webhook"
        self._http("bot.public_url", bot.public_url, https=webhook)
        if not webhook:
            return bot
        public_url = bot.public_url
        if not public_url:
            if not self.demo:
                self.problems.append(
                    ConfigError(
                        "bot.public_url",
                        "is required for bot.intake: webhook",
                        hint="set the https URL where Webex can reach this service, "
                        "or use bot.intake: polling",
                    )
                )
            public_url = f"http://{panel.host}:{panel.port}"
            self.warnings.append(
                f"bot.public_url: not set, webhooks go to {public_url} (demo mode)"
            )
        secret = bot.webhook_secret
        if secret and len(secret.reveal()) < MIN_WEBHOOK_SECRET_LENGTH:
            self._insecure(
                "TOKENBOT_WEBHOOK_SECRET",
                f"is shorter than {MIN_WEBHOOK_SECRET_LENGTH} characters",
                hint="use a long random value",
            )
        secret = self._required("TOKENBOT_WEBHOOK_SECRET", secret)
        return bot.model_copy(update={"public_url": public_url, "webhook_secret": secret})

    def _notify(self, notify: NotifySettings) -> NotifySettings:
        for index, hook in enumerate(notify.webhooks):
            self._http(f"notify.webhooks[{index}].url", hook.url)
        secret = notify.secret
        if secret:
            try:
                notify_secret_key(secret.reveal())
            except ConfigError as exc:  # names the variable, never echoes the secret
                self.problems.append(exc)
            return notify
        if not notify.webhooks or NOTIFY_SECRET_ENV in self.unusable:
            return notify
        if not self.demo:
            self.problems.append(
                ConfigError(
                    NOTIFY_SECRET_ENV,
                    "is not set; notify.webhooks endpoints verify every event's signature with it",
                    hint=f"set {NOTIFY_SECRET_ENV} or {NOTIFY_SECRET_FILE_ENV}: generate one "
                    "with `tokenbot notify secret`",
                )
            )
            return notify
        self.generated.append(NOTIFY_SECRET_ENV)
        self.warnings.append(
            f"{NOTIFY_SECRET_ENV}: not set, generated for this process (demo mode)"
        )
        return notify.model_copy(update={"secret": Secret(generate_notify_secret())})

    def _encryption_keys(self, spec: Secret) -> Secret:
        if spec:
            try:
                TokenCipher.from_spec(spec.reveal())
            except ConfigError as exc:  # names the variable, never echoes the key
                self.problems.append(exc)
            return spec
        return self._required(ENCRYPTION_KEYS_ENV, spec)


def generate_notify_secret() -> str:
    """Return a new Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def notify_secret_key(value: str, name: str = NOTIFY_SECRET_ENV) -> bytes:
    """Return the HMAC key of a ``whsec_<base64>`` secret.

    Raises:
        ConfigError: naming `name`, when the value is not ``whsec_`` and 24-64 bytes of base64.
    """
    make = "generate one with `tokenbot notify secret`"
    if not value.startswith("whsec_"):
        raise ConfigError(name, "must start with whsec_ (a Standard Webhooks secret)", hint=make)
    try:
        key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(name, "is not valid base64 after whsec_", hint=make) from None
    low, high = NOTIFY_SECRET_BYTES
    if not low <= len(key) <= high:
        raise ConfigError(name, f"decodes to {len(key)} bytes; it needs {low} to {high}", hint=make)
    return key


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
        settings.notify.secret,
    ):
        if secret:
            register_secret(secret.reveal())
    for entry in settings.encryption_keys.reveal().split(","):
        register_secret(entry.partition(":")[2].strip())
    register_secret(urlsplit(settings.database.url).password)
