"""One typed config path: defaults, overrides, one-line errors naming the key, insecure refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from tokenbot.core.config import Secret
from tokenbot.core.config import Settings
from tokenbot.core.config import load_settings
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.errors import ConfigError
from tokenbot.core.logs import redact
from tokenbot.core.settings import SECRET_ENV
from tokenbot.core.settings import SECTIONS

ROOT = Path(__file__).resolve().parents[2]
KEY_SPEC = TokenCipher.generate_key_spec("k1")
GOOD_ENV = {
    "WEBEX_CLIENT_ID": "canary-client-id-5b6c7d",
    "WEBEX_CLIENT_SECRET": "canary-client-secret-8e9f0a",
    "TOKENBOT_SECRET_KEY": "canary-session-key-Zq3xT8vLm2Rk9pWn4YbHc7Jd",
    "TOKENBOT_ENCRYPTION_KEYS": KEY_SPEC,
}


def _load(
    tmp_path: Path,
    text: str = "",
    *,
    env: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
    demo: bool = False,
) -> Settings:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, env=GOOD_ENV if env is None else env, overrides=overrides, demo=demo)


def _error(tmp_path: Path, text: str = "", **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{caught.value.key}: ")
    return caught.value


def test_defaults(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert settings.mode == "production"
    assert not settings.demo
    assert settings.webex.api_base_url == "https://webexapis.com/v1/"
    assert settings.webex.authorize_url == "https://webexapis.com/v1/authorize"
    assert settings.webex.token_url == "https://webexapis.com/v1/access_token"
    assert settings.webex.redirect_uri == "http://127.0.0.1:2000/oauth/callback"
    assert "spark:messages_write" in settings.webex.scopes
    assert settings.webex.client_secret.reveal() == GOOD_ENV["WEBEX_CLIENT_SECRET"]
    # A relative SQLite path is the config file's folder's, not the working directory's.
    assert settings.database.url == f"sqlite:///{tmp_path / 'data' / 'tokenbot.sqlite3'}"
    assert settings.refresh.margin_seconds == 900
    assert settings.refresh.lease_seconds == 60
    assert settings.panel.port == 2000
    assert settings.bot.intake == "auto"
    assert settings.bot.webhook_secret is None
    assert settings.logging.level == "INFO"
    assert settings.emulator.port == 2001
    assert settings.broker.enabled is False
    assert settings.broker.allowed_networks == ("127.0.0.0/8", "::1/128")
    assert settings.cipher().primary_key_id == "k1"
    assert settings.warnings == ()
    with pytest.raises(ValidationError, match="frozen"):
        settings.refresh.margin_seconds = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        settings.mode = "demo"  # type: ignore[misc]


def test_repo_config_yaml_lists_every_key_with_its_default(tmp_path: Path) -> None:
    shipped = load_settings(ROOT / "config.yaml", env=GOOD_ENV).masked()
    built_in = _load(tmp_path).masked()
    for masked, folder in ((shipped, ROOT), (built_in, tmp_path)):
        assert masked.pop("config_file") == str((folder / "config.yaml").resolve())
        assert (
            masked["database"].pop("url") == f"sqlite:///{folder.resolve()}/data/tokenbot.sqlite3"
        )
    assert shipped == built_in
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    for name, cls in SECTIONS.items():
        keys = {key for key in cls.model_fields if (name, key) not in SECRET_ENV or key == "url"}
        assert set(data[name]) == keys, name


def test_overrides_merge_into_the_file(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        "refresh:\n  margin_seconds: 1200\n  lease_seconds: 90\n",
        overrides={"refresh": {"lease_seconds": 120}, "logging": {"level": "debug"}},
    )
    assert settings.refresh.margin_seconds == 1200
    assert settings.refresh.lease_seconds == 120
    assert settings.refresh.sweep_interval_seconds == 60
    assert settings.logging.level == "DEBUG"


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.yaml"
    path.write_text("panel:\n  port: 2100\n", encoding="utf-8")
    settings = load_settings(env={**GOOD_ENV, "TOKENBOT_CONFIG": str(path)})
    assert settings.panel.port == 2100
    assert settings.config_file == path.resolve()


def test_scopes_may_be_space_separated(tmp_path: Path) -> None:
    settings = _load(tmp_path, "webex:\n  scopes: spark:people_read  spark:rooms_read\n")
    assert settings.webex.scopes == ("spark:people_read", "spark:rooms_read")


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("webex:\n  redirect_uri: not a url\n", "webex.redirect_uri", "bad URL"),
        ("webex:\n  redirect_uri: http://127.0.0.1:99999/cb\n", "webex.redirect_uri", "bad URL"),
        ("webex:\n  redirect_uri: http://127.0.0.1:2000\n", "webex.redirect_uri", "needs a path"),
        ("webex:\n  api_base_url: ftp://webexapis.com/v1/\n", "webex.api_base_url", "bad URL"),
        (
            "webex:\n  api_base_url: https://webexapis.com/v1\n",
            "webex.api_base_url",
            "must end in /v1/",
        ),
        (
            "webex:\n  token_url: https://u:p@webexapis.com/v1/access_token\n",
            "webex.token_url",
            "must not contain credentials",
        ),
        ("refresh:\n  margin_seconds: -5\n", "refresh.margin_seconds", "must be between 0 and"),
        ("panel:\n  port: 70000\n", "panel.port", "must be between 1 and 65535, got 70000"),
        (
            "panel:\n  trusted_proxies: 1\n",
            "panel.trusted_proxy_addresses",
            "is empty while panel.trusted_proxies is set",
        ),
        (
            "panel:\n  trusted_proxy_addresses: [10.0.0.300]\n",
            "panel.trusted_proxy_addresses",
            "is not an IP address or network",
        ),
        (
            "panel:\n  allowed_hosts: ['https://x.example']\n",
            "panel.allowed_hosts",
            "is not a host name",
        ),
        ("refresh:\n  margin_seconds: '900'\n", "refresh.margin_seconds", "expected a number"),
        ("panel:\n  port: 2000.5\n", "panel.port", "expected a whole number"),
        ("refresh:\n  max_concurrency: true\n", "refresh.max_concurrency", "expected a number"),
        ("bot:\n  enabled: sure\n", "bot.enabled", "expected true or false"),
        ("bot:\n  allowed_emails: a@b.co\n", "bot.allowed_emails", "expected a list"),
        ("bot:\n  allowed_emails: [nobody]\n", "bot.allowed_emails", "not an email"),
        ("bot:\n  prefix: 'a b'\n", "bot.prefix", "without spaces"),
        ("bot:\n  plugins: ['not a module']\n", "bot.plugins", "not a Python module"),
        (
            "bot:\n  intake: socket\n",
            "bot.intake",
            "must be one of auto, websocket, webhook, polling",
        ),
        ("webex:\n  proxy_url: ftp://proxy\n", "webex.proxy_url", "bad proxy URL"),
        ("webex:\n  proxy_url: http://u:p@proxy:3128\n", "webex.proxy_url", "credentials"),
        ("bot:\n  instance_group: 'a b'\n", "bot.instance_group", "use 1-40 letters"),
        ("logging:\n  level: verbose\n", "logging.level", "must be one of DEBUG"),
        ("logging:\n  format: xml\n", "logging.format", "must be one of text, json"),
        ("mode: staging\n", "mode", "must be one of production, demo"),
        ("broker:\n  allowed_networks: [lan]\n", "broker.allowed_networks", "not a network"),
        ("broker:\n  requests_per_minute: 0\n", "broker.requests_per_minute", "between 1"),
        ("refresh: 5\n", "refresh", "expected a mapping"),
        ("webex:\n  scopes: []\n", "webex.scopes", "is empty"),
        ("webex:\n  scopes: ['bad scope!']\n", "webex.scopes", "not a Webex scope"),
        ("database:\n  url: mysql://db/x\n", "database.url", "bad URL"),
        (
            "refresh:\n  backoff_base_seconds: 600\n  backoff_max_seconds: 60\n",
            "refresh.backoff_base_seconds",
            "larger than refresh.backoff_max_seconds",
        ),
        (
            "refresh:\n  margin_seconds: 30\n",
            "refresh.min_token_validity_seconds",
            "larger than refresh.margin_seconds",
        ),
        ("refresh:\n  lease_seconds: 20\n", "refresh.lease_seconds", "twice webex.timeout"),
        (
            "database:\n  busy_timeout_seconds: 5\n",
            "database.busy_timeout_seconds",
            "at least 15 for SQLite",
        ),
        (
            "panel:\n  session_idle_minutes: 600\n  session_absolute_hours: 2\n",
            "panel.session_idle_minutes",
            "longer than panel.session_absolute_hours",
        ),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str, expected: str) -> None:
    error = _error(tmp_path, text)
    assert error.key == key
    assert expected in str(error)


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    error = _error(tmp_path, "refresh:\n  margin_second: 900\n")
    assert error.key == "refresh.margin_second"
    assert str(error) == "refresh.margin_second: unknown key (did you mean 'margin_seconds'?)"
    section = _error(tmp_path, "refesh:\n  margin_seconds: 900\n")
    assert str(section) == "refesh: unknown key (did you mean 'refresh'?)"
    via_overrides = _error(tmp_path, overrides={"bot": {"worker": 2}})
    assert "did you mean 'workers'?" in str(via_overrides)


@pytest.mark.parametrize(
    ("text", "key", "env_name"),
    [
        ("webex:\n  client_secret: abc\n", "webex.client_secret", "WEBEX_CLIENT_SECRET"),
        ("webex:\n  client_id: abc\n", "webex.client_id", "WEBEX_CLIENT_ID"),
        ("panel:\n  secret_key: abc\n", "panel.secret_key", "TOKENBOT_SECRET_KEY"),
        ("bot:\n  webhook_secret: abc\n", "bot.webhook_secret", "TOKENBOT_WEBHOOK_SECRET"),
        ("encryption_keys: k1:abc\n", "encryption_keys", "TOKENBOT_ENCRYPTION_KEYS"),
        (
            "database:\n  url: postgresql://u:hunter2@db/x\n",
            "database.url",
            "TOKENBOT_DATABASE_URL",
        ),
    ],
)
def test_a_secret_in_the_file_is_refused(
    tmp_path: Path, text: str, key: str, env_name: str
) -> None:
    error = _error(tmp_path, text)
    assert error.key == key
    assert f"secrets come from environment variables only: set {env_name}" in str(error)
    assert "abc" not in str(error)
    assert "hunter2" not in str(error)


def test_secret_looking_unknown_keys_are_refused_as_secrets(tmp_path: Path) -> None:
    error = _error(tmp_path, "webex:\n  access_token: abc\n")
    assert error.key == "webex.access_token"
    assert "secrets come from environment variables only" in str(error)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("webex:\n  api_base_url: [unclosed\n", "invalid YAML at line 3, column 1"),
        ("refresh:\n  margin_seconds: 1\n   lease_seconds: 2\n", "invalid YAML at line 3"),
        ("panel:\n  port: 1\n  port: 2\n", "invalid YAML at line 3, column 3: key 'port' appears"),
        ("- just\n- a list\n", "must hold a mapping"),
    ],
)
def test_invalid_yaml_names_file_and_position(tmp_path: Path, text: str, expected: str) -> None:
    error = _error(tmp_path, text)
    assert error.key.endswith("config.yaml")
    assert expected in str(error)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml", env=GOOD_ENV)
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(env={**GOOD_ENV, "TOKENBOT_CONFIG": str(tmp_path / "nope.yaml")})


@pytest.mark.parametrize(
    "name",
    ["WEBEX_CLIENT_ID", "WEBEX_CLIENT_SECRET", "TOKENBOT_SECRET_KEY", "TOKENBOT_ENCRYPTION_KEYS"],
)
def test_missing_secret_names_the_variable(tmp_path: Path, name: str) -> None:
    env = {k: v for k, v in GOOD_ENV.items() if k != name}
    error = _error(tmp_path, env=env)
    assert error.key == name
    assert str(error).startswith(f"{name}: is not set; ")
    assert f"set {name}" in str(error)
    blank = _error(tmp_path, env={**GOOD_ENV, name: "   "})
    assert blank.key == name


def test_malformed_encryption_keys_never_echo_the_key(tmp_path: Path) -> None:
    secret_part = KEY_SPEC.split(":")[1]
    error = _error(tmp_path, env={**GOOD_ENV, "TOKENBOT_ENCRYPTION_KEYS": secret_part})
    assert error.key == "TOKENBOT_ENCRYPTION_KEYS"
    assert secret_part not in str(error)


# (file text, env changes, the key the refusal names)
INSECURE = [
    ("", {"TOKENBOT_ENCRYPTION_KEYS": None}, "TOKENBOT_ENCRYPTION_KEYS"),
    ("", {"TOKENBOT_SECRET_KEY": None}, "TOKENBOT_SECRET_KEY"),
    ("", {"TOKENBOT_SECRET_KEY": "short-key"}, "TOKENBOT_SECRET_KEY"),
    ("", {"TOKENBOT_SECRET_KEY": "ab" * 40}, "TOKENBOT_SECRET_KEY"),
    ("", {"TOKENBOT_SECRET_KEY": "0123456789abcdef" * 2}, "TOKENBOT_SECRET_KEY"),
    ("", {"WEBEX_CLIENT_ID": None}, "WEBEX_CLIENT_ID"),
    ("", {"WEBEX_CLIENT_SECRET": None}, "WEBEX_CLIENT_SECRET"),
    (
        "webex:\n  redirect_uri: http://tokenbot.example.com/oauth/callback\n",
        {},
        "webex.redirect_uri",
    ),
    ("webex:\n  api_base_url: http://webex.example.com/v1/\n", {}, "webex.api_base_url"),
    ("webex:\n  token_url: http://10.0.0.5/v1/access_token\n", {}, "webex.token_url"),
    ("panel:\n  public_url: http://tokenbot.example.com\n", {}, "panel.public_url"),
    ("", {"OAUTHLIB_INSECURE_TRANSPORT": "1"}, "OAUTHLIB_INSECURE_TRANSPORT"),
    ("", {"AUTHLIB_INSECURE_TRANSPORT": "true"}, "AUTHLIB_INSECURE_TRANSPORT"),
    (
        "bot:\n  intake: webhook\n  public_url: https://bot.example.com\n",
        {},
        "TOKENBOT_WEBHOOK_SECRET",
    ),
    (
        "bot:\n  intake: webhook\n  public_url: https://bot.example.com\n",
        {"TOKENBOT_WEBHOOK_SECRET": "too-short"},
        "TOKENBOT_WEBHOOK_SECRET",
    ),
    (
        "bot:\n  intake: webhook\n  public_url: http://127.0.0.1:2000\n",
        {"TOKENBOT_WEBHOOK_SECRET": "a-long-enough-webhook-secret"},
        "bot.public_url",
    ),
    ("bot:\n  intake: webhook\n", {"TOKENBOT_WEBHOOK_SECRET": "x" * 32}, "bot.public_url"),
]


def _env_with(changes: dict[str, str | None]) -> dict[str, str]:
    env = {**GOOD_ENV, **{k: v for k, v in changes.items() if v is not None}}
    return {k: v for k, v in env.items() if changes.get(k, "") is not None}


@pytest.mark.parametrize(("text", "changes", "key"), INSECURE)
def test_insecure_settings_are_refused_in_production(
    tmp_path: Path, text: str, changes: dict[str, str | None], key: str
) -> None:
    error = _error(tmp_path, text, env=_env_with(changes))
    assert error.key == key


@pytest.mark.parametrize(("text", "changes", "key"), INSECURE)
def test_insecure_settings_are_allowed_in_demo(
    tmp_path: Path, text: str, changes: dict[str, str | None], key: str
) -> None:
    settings = _load(tmp_path, text, env=_env_with(changes), demo=True)
    assert settings.demo
    assert settings.mode == "demo"
    assert any(warning.startswith(f"{key}: ") or key in warning for warning in settings.warnings)


def test_mode_demo_in_the_file_works_like_the_flag(tmp_path: Path) -> None:
    settings = _load(tmp_path, "mode: demo\n", env={})
    assert settings.demo
    assert set(settings.generated) == {
        "WEBEX_CLIENT_ID",
        "WEBEX_CLIENT_SECRET",
        "TOKENBOT_SECRET_KEY",
        "TOKENBOT_ENCRYPTION_KEYS",
    }


def test_demo_generates_usable_secrets_that_pass_production_checks(tmp_path: Path) -> None:
    demo = _load(tmp_path, "bot:\n  intake: webhook\n", env={}, demo=True)
    assert demo.bot.public_url == "http://127.0.0.1:2000"
    assert demo.bot.webhook_secret is not None
    cipher = demo.cipher()
    assert cipher.decrypt(cipher.encrypt("t", context="c"), context="c") == "t"
    again = _load(tmp_path, env={}, demo=True)
    assert again.panel.secret_key != demo.panel.secret_key
    production = _load(
        tmp_path,
        env={
            "WEBEX_CLIENT_ID": demo.webex.client_id.reveal(),
            "WEBEX_CLIENT_SECRET": demo.webex.client_secret.reveal(),
            "TOKENBOT_SECRET_KEY": demo.panel.secret_key.reveal(),
            "TOKENBOT_ENCRYPTION_KEYS": demo.encryption_keys.reveal(),
        },
    )
    assert production.generated == ()


@pytest.mark.parametrize(
    "uri",
    [
        "http://localhost:2000/oauth/callback",
        "http://127.0.0.1:2000/redirect.html",
        "http://127.9.8.7/cb",
        "http://[::1]:2000/cb",
        "https://tokenbot.example.com/oauth/callback",
    ],
)
def test_loopback_http_and_https_are_fine_in_production(tmp_path: Path, uri: str) -> None:
    settings = _load(tmp_path, overrides={"webex": {"redirect_uri": uri}})
    assert settings.webex.redirect_uri == uri
    assert settings.warnings == ()


def test_emulator_base_url_derives_endpoints(tmp_path: Path) -> None:
    settings = _load(tmp_path, "webex:\n  api_base_url: http://127.0.0.1:2001/v1/\n")
    assert settings.webex.token_url == "http://127.0.0.1:2001/v1/access_token"
    assert settings.webex.authorize_url == "http://127.0.0.1:2001/v1/authorize"


def test_webhook_intake_with_everything_set(tmp_path: Path) -> None:
    env = {**GOOD_ENV, "TOKENBOT_WEBHOOK_SECRET": "canary-webhook-secret-77"}
    settings = _load(
        tmp_path, "bot:\n  intake: webhook\n  public_url: https://bot.example.com\n", env=env
    )
    assert settings.bot.webhook_secret == Secret("canary-webhook-secret-77")


def test_database_url_from_environment_is_masked(tmp_path: Path) -> None:
    env = {**GOOD_ENV, "TOKENBOT_DATABASE_URL": "postgresql://bot:hunter2pass@db.internal:5432/tb"}
    settings = _load(tmp_path, env=env)
    assert settings.database.url == "postgresql+psycopg://bot:hunter2pass@db.internal:5432/tb"
    assert not settings.database.is_sqlite
    assert settings.database.display_url == "postgresql+psycopg://bot:***@db.internal:5432/tb"
    assert "hunter2pass" not in repr(settings)
    assert "hunter2pass" not in str(settings.masked())
    assert "hunter2pass" not in redact("connect to db.internal as bot/hunter2pass")
    # Postgres has no SQLite busy-timeout floor.
    low = _load(tmp_path, "database:\n  busy_timeout_seconds: 5\n", env=env)
    assert low.database.busy_timeout_seconds == 5
    bad = _error(tmp_path, env={**GOOD_ENV, "TOKENBOT_DATABASE_URL": "mysql://x/y"})
    assert bad.key == "TOKENBOT_DATABASE_URL"


def test_secret_never_prints() -> None:
    secret = Secret("canary-value-1234")
    assert str(secret) == "**********"
    assert repr(secret) == "'**********'"
    assert f"{secret}" == "**********"
    assert secret.reveal() == "canary-value-1234"
    assert secret == Secret("canary-value-1234")
    assert secret != Secret("other-value-5678")
    assert len(secret.fingerprint) == 8


def test_settings_repr_and_masked_hide_every_secret(tmp_path: Path) -> None:
    env = {**GOOD_ENV, "TOKENBOT_WEBHOOK_SECRET": "canary-webhook-secret-77"}
    settings = _load(tmp_path, env=env)
    masked = settings.masked()
    shown = repr(settings) + str(masked)
    for value in [*env.values(), KEY_SPEC.split(":")[1]]:
        assert value not in shown
    fp = Secret(GOOD_ENV["WEBEX_CLIENT_SECRET"]).fingerprint
    assert masked["webex"]["client_secret"] == f"set (sha256:{fp})"
    assert masked["bot"]["webhook_secret"].startswith("set (sha256:")
    assert masked["encryption_key_ids"] == ["k1"]
    assert masked["refresh"]["margin_seconds"] == 900
    assert _load(tmp_path).masked()["bot"]["webhook_secret"] == "missing"


def test_loading_registers_secrets_with_the_log_redactor(tmp_path: Path) -> None:
    _load(tmp_path)
    for name in ("WEBEX_CLIENT_SECRET", "TOKENBOT_SECRET_KEY", "TOKENBOT_ENCRYPTION_KEYS"):
        assert GOOD_ENV[name] not in redact(f"oops {GOOD_ENV[name]}")
    assert KEY_SPEC.split(":")[1] not in redact(KEY_SPEC.split(":")[1])


def test_file_and_card_settings(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        "bot:\n  file_max_bytes: 2048\n  file_types: [Image/*, text/csv]\n"
        "  file_allow_unscannable: true\n  card_input_max_bytes: 100\n",
    )
    assert settings.bot.file_max_bytes == 2048
    assert settings.bot.file_types == ("image/*", "text/csv")
    assert settings.bot.file_allow_unscannable is True
    assert settings.bot.file_fetch_budget_seconds == 60
    error = _error(tmp_path, "bot:\n  file_types: [pdf]\n")
    assert error.key == "bot.file_types" and "media type" in str(error)
    assert _error(tmp_path, "bot:\n  file_max_bytes: 10\n").key == "bot.file_max_bytes"
