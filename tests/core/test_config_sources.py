"""Where settings come from besides config.yaml: TOKENBOT_<SECTION>__<KEY>, *_FILE secrets, .env.

Also: every problem is reported at once, and the JSON Schema describes the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from typing import Literal
from typing import get_args
from typing import get_origin

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from tokenbot.core.config import config_schema
from tokenbot.core.config import load_database_url
from tokenbot.core.config import load_settings
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.errors import ConfigError
from tokenbot.core.errors import ConfigProblems
from tokenbot.core.logs import FORMATS
from tokenbot.core.logs import LEVELS
from tokenbot.core.settings import SECRET_ENV
from tokenbot.core.settings import SECTIONS
from tokenbot.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
KEY_SPEC = TokenCipher.generate_key_spec("k1")
GOOD_ENV = {
    "WEBEX_CLIENT_ID": "canary-client-id-1f2e3d",
    "WEBEX_CLIENT_SECRET": "canary-client-secret-4c5b6a",
    "TOKENBOT_SECRET_KEY": "canary-session-key-Wq8xR3vKm7Tn2pLs9YbGc4Hd",
    "TOKENBOT_ENCRYPTION_KEYS": KEY_SPEC,
}


def _load(tmp_path: Path, text: str = "", env: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, env={**GOOD_ENV, **(env or {})})


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str = "", env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text, env)
    return caught.value


# -- TOKENBOT_<SECTION>__<KEY> ---------------------------------------------------------------


def test_environment_overrides_any_key_over_the_file(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        "panel:\n  port: 2100\nrefresh:\n  lease_seconds: 90\n",
        env={
            "TOKENBOT_PANEL__PORT": "2345",
            "TOKENBOT_BOT__INTAKE": "webhook",
            "TOKENBOT_BOT__PUBLIC_URL": "https://bot.example.com",
            "TOKENBOT_WEBHOOK_SECRET": "canary-webhook-secret-0a9b8c",
            "TOKENBOT_BOT__ENABLED": "false",
            "TOKENBOT_BOT__ALLOWED_DOMAINS": "example.com, Example.org",
            "TOKENBOT_WEBEX__SCOPES": "[spark:people_read, spark:rooms_read]",
            "TOKENBOT_WEBEX__TIMEOUT_SECONDS": "7.5",
            "TOKENBOT_LOGGING__LEVEL": "debug",
            "TOKENBOT_PANEL__PUBLIC_URL": "",
        },
    )
    assert settings.panel.port == 2345
    assert settings.refresh.lease_seconds == 90  # the file still counts where env is silent
    assert settings.bot.intake == "webhook"
    assert settings.bot.enabled is False
    assert settings.bot.allowed_domains == ("example.com", "example.org")
    assert settings.webex.scopes == ("spark:people_read", "spark:rooms_read")
    assert settings.webex.timeout_seconds == 7.5
    assert settings.logging.level == "DEBUG"
    assert settings.panel.public_url is None


def test_mode_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, ""), env={"TOKENBOT_MODE": "demo"})
    assert settings.demo
    assert "TOKENBOT_SECRET_KEY" in settings.generated


def test_overrides_from_the_caller_beat_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        _write(tmp_path, ""),
        env={**GOOD_ENV, "TOKENBOT_PANEL__PORT": "2345"},
        overrides={"panel": {"port": 2400}},
    )
    assert settings.panel.port == 2400


@pytest.mark.parametrize(
    ("key", "file_value", "env_name", "env_value"),
    [
        ("panel.port", "70000", "TOKENBOT_PANEL__PORT", "70000"),
        ("panel.port", "soon", "TOKENBOT_PANEL__PORT", "soon"),
        ("panel.port", "2000.5", "TOKENBOT_PANEL__PORT", "2000.5"),
        ("bot.intake", "pigeon", "TOKENBOT_BOT__INTAKE", "pigeon"),
        ("bot.enabled", "sure", "TOKENBOT_BOT__ENABLED", "sure"),
        ("bot.allowed_emails", "[nobody]", "TOKENBOT_BOT__ALLOWED_EMAILS", "nobody"),
        (
            "webex.api_base_url",
            "https://x.example/v2/",
            "TOKENBOT_WEBEX__API_BASE_URL",
            "https://x.example/v2/",
        ),
        ("refresh.lease_seconds", "20", "TOKENBOT_REFRESH__LEASE_SECONDS", "20"),
    ],
)
def test_a_bad_environment_value_gets_the_same_error_as_in_the_file(
    tmp_path: Path, key: str, file_value: str, env_name: str, env_value: str
) -> None:
    section, name = key.split(".")
    in_file = _error(tmp_path, f"{section}:\n  {name}: {file_value}\n")
    from_env = _error(tmp_path, env={env_name: env_value})
    assert from_env.key == in_file.key == key
    assert str(from_env) == f"{in_file.message}; set by {env_name}" + (
        f" ({in_file.hint})" if in_file.hint else ""
    )
    assert "\n" not in str(from_env)


def test_an_unknown_environment_key_suggests_the_closest(tmp_path: Path) -> None:
    error = _error(tmp_path, env={"TOKENBOT_PANEL__PROT": "2345"})
    assert str(error) == (
        "panel.prot: unknown key; set by TOKENBOT_PANEL__PROT (did you mean 'port'?)"
    )
    section = _error(tmp_path, env={"TOKENBOT_PANLE__PORT": "2345"})
    assert section.key == "panle"
    assert "did you mean 'panel'?" in str(section)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("TOKENBOT_WEBEX__CLIENT_SECRET", "WEBEX_CLIENT_SECRET"),
        ("TOKENBOT_DATABASE__URL", "TOKENBOT_DATABASE_URL"),
    ],
)
def test_secrets_have_one_name_each(tmp_path: Path, name: str, canonical: str) -> None:
    error = _error(tmp_path, env={name: "sqlite:///x.sqlite3"})
    assert error.key == name
    assert str(error).endswith(f"comes from {canonical} (rename the variable to {canonical})")


# -- <NAME>_FILE ------------------------------------------------------------------------------


def test_a_secret_file_works_in_place_of_the_variable(tmp_path: Path) -> None:
    secret_file = tmp_path / "webex"
    secret_file.write_text("canary-secret-from-file-7d6e\n", encoding="utf-8")
    env = {k: v for k, v in GOOD_ENV.items() if k != "WEBEX_CLIENT_SECRET"}
    settings = load_settings(
        _write(tmp_path, ""), env={**env, "WEBEX_CLIENT_SECRET_FILE": str(secret_file)}
    )
    assert settings.webex.client_secret.reveal() == "canary-secret-from-file-7d6e"


@pytest.mark.parametrize("name", ["TOKENBOT_ENCRYPTION_KEYS", "TOKENBOT_SECRET_KEY"])
def test_every_secret_reads_from_a_file(tmp_path: Path, name: str) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(GOOD_ENV[name], encoding="utf-8")
    env = {k: v for k, v in GOOD_ENV.items() if k != name}
    settings = load_settings(_write(tmp_path, ""), env={**env, f"{name}_FILE": str(secret_file)})
    assert settings.masked()["generated"] == []


def test_database_url_reads_from_a_file(tmp_path: Path) -> None:
    url_file = tmp_path / "db"
    url_file.write_text("postgresql://bot:canary-pw-3c@db.internal/tb", encoding="utf-8")
    settings = _load(tmp_path, env={"TOKENBOT_DATABASE_URL_FILE": str(url_file)})
    assert settings.database.display_url == "postgresql+psycopg://bot:***@db.internal/tb"


@pytest.mark.parametrize("state", ["missing", "empty", "folder"])
def test_an_unusable_secret_file_is_one_line_naming_the_variable(
    tmp_path: Path, state: str
) -> None:
    target = tmp_path / "webex"
    if state == "empty":
        target.write_text("\n", encoding="utf-8")
    elif state == "folder":
        target.mkdir()
    env = {k: v for k, v in GOOD_ENV.items() if k != "WEBEX_CLIENT_SECRET"}
    with pytest.raises(ConfigError) as caught:
        load_settings(_write(tmp_path, ""), env={**env, "WEBEX_CLIENT_SECRET_FILE": str(target)})
    error = caught.value
    assert error.key == "WEBEX_CLIENT_SECRET_FILE"
    assert str(target) in str(error)
    assert "\n" not in str(error)


def test_a_secret_and_its_file_together_are_refused(tmp_path: Path) -> None:
    secret_file = tmp_path / "webex"
    secret_file.write_text("x" * 20, encoding="utf-8")
    error = _error(tmp_path, env={"WEBEX_CLIENT_SECRET_FILE": str(secret_file)})
    assert error.key == "WEBEX_CLIENT_SECRET"
    assert "WEBEX_CLIENT_SECRET_FILE" in str(error)


# -- .env -----------------------------------------------------------------------------------


def test_dotenv_beside_the_config_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "\n".join(f"{k}={v}" for k, v in GOOD_ENV.items())
        + "\nTOKENBOT_PANEL__PORT=2345\nTOKENBOT_EMULATOR__PORT=2999\n",
        encoding="utf-8",
    )
    settings = load_settings(_write(tmp_path, ""), env={"TOKENBOT_EMULATOR__PORT": "2888"})
    assert settings.webex.client_secret.reveal() == GOOD_ENV["WEBEX_CLIENT_SECRET"]
    assert settings.panel.port == 2345
    assert settings.emulator.port == 2888
    assert settings.generated == ()


def test_no_dotenv_elsewhere_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TOKENBOT_PANEL__PORT=2345\n", encoding="utf-8")
    other = tmp_path / "etc"
    other.mkdir()
    settings = load_settings(_write(other, ""), env=GOOD_ENV)
    assert settings.panel.port == 2000


# -- every problem at once --------------------------------------------------------------------


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        "panel:\n  port: 70000\n  prot: 1\n"
        "refresh:\n  margin_seconds: soon\n"
        "webex:\n  client_secret: abc\n"
        "logging:\n  level: verbose\n"
    )
    path = _write(tmp_path, text)
    with pytest.raises(ConfigProblems) as caught:
        load_settings(path, env={"TOKENBOT_BOT__WORKERS": "0"})
    lines = str(caught.value).splitlines()
    keys = [problem.key for problem in caught.value.problems]
    assert len(lines) == len(keys)
    assert set(keys) == {
        "webex.client_secret",
        "panel.port",
        "panel.prot",
        "refresh.margin_seconds",
        "logging.level",
        "bot.workers",
        "WEBEX_CLIENT_ID",
        "WEBEX_CLIENT_SECRET",
        "TOKENBOT_SECRET_KEY",
        "TOKENBOT_ENCRYPTION_KEYS",
    }
    for line, problem in zip(lines, caught.value.problems, strict=True):
        assert line.startswith(f"{problem.key}: ")


def test_mode_dependent_problems_are_reported_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigProblems) as caught:
        load_settings(
            _write(tmp_path, "panel:\n  public_url: http://tokenbot.example.com\n"),
            env={"OAUTHLIB_INSECURE_TRANSPORT": "1"},
        )
    keys = [problem.key for problem in caught.value.problems]
    assert {"OAUTHLIB_INSECURE_TRANSPORT", "panel.public_url"} <= set(keys)
    assert {"WEBEX_CLIENT_ID", "TOKENBOT_ENCRYPTION_KEYS"} <= set(keys)


# -- SQLite paths -----------------------------------------------------------------------------


def test_relative_sqlite_path_is_the_config_files_folder(tmp_path: Path) -> None:
    settings = _load(tmp_path, "database:\n  url: sqlite:///state/tb.sqlite3\n")
    assert settings.database.url == f"sqlite:///{tmp_path.resolve()}/state/tb.sqlite3"
    absolute = _load(tmp_path, f"database:\n  url: sqlite:///{tmp_path}/x.sqlite3\n")
    assert absolute.database.url == f"sqlite:///{tmp_path}/x.sqlite3"
    memory = _load(tmp_path, "database:\n  url: 'sqlite:///:memory:'\n")
    assert memory.database.url == "sqlite:///:memory:"
    # From the environment it stays as given: relative to where the process runs.
    from_env = _load(tmp_path, env={"TOKENBOT_DATABASE_URL": "sqlite:///rel.sqlite3"})
    assert from_env.database.url == "sqlite:///rel.sqlite3"


# -- db upgrade's URL -------------------------------------------------------------------------


def test_database_url_needs_no_secret(tmp_path: Path) -> None:
    path = _write(tmp_path, "database:\n  url: sqlite:///tb.sqlite3\n")
    assert load_database_url(path, env={}) == f"sqlite:///{tmp_path.resolve()}/tb.sqlite3"
    with pytest.raises(ConfigError, match=r"^database\.url: bad URL"):
        load_database_url(_write(tmp_path, "database:\n  url: mysql://x/y\n"), env={})


# -- schema -----------------------------------------------------------------------------------


def test_schema_is_valid_and_accepts_the_shipped_config() -> None:
    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(shipped, schema, cls=jsonschema.Draft202012Validator)


def test_schema_accepts_what_the_loader_accepts() -> None:
    for good in (
        {"logging": {"level": "debug"}},
        {"webex": {"scopes": "spark:people_read spark:rooms_read"}},
        {"webex": {"authorize_url": None}},
        {"mode": "demo", "panel": {"public_url": "https://tokenbot.example.com"}},
    ):
        jsonschema.validate(good, config_schema(), cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    "bad",
    [
        {"panel": {"port": 70000}},
        {"panel": {"prot": 1}},
        {"bot": {"intake": "pigeon"}},
        {"webex": {"client_secret": "abc"}},
        {"encryption_keys": "k1:abc"},
    ],
)
def test_schema_flags_what_the_loader_refuses(bad: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, config_schema(), cls=jsonschema.Draft202012Validator)


def test_shipped_schema_file_is_current() -> None:
    shipped = json.loads((ROOT / "docs" / "config.schema.json").read_text(encoding="utf-8"))
    assert shipped == config_schema(), "run: tokenbot config schema > docs/config.schema.json"


def test_config_yaml_points_editors_at_the_schema() -> None:
    first = (ROOT / "config.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=docs/config.schema.json"


def _every_key() -> list[tuple[str, str, Any]]:
    keys = []
    for section, model in SECTIONS.items():
        for key, info in model.model_fields.items():
            if (section, key) not in SECRET_ENV:
                keys.append((section, key, info))
    return keys


def _bad_text(key: str, info: Any) -> str:
    """A value the key refuses, written as someone would in the environment."""
    kinds = {info.annotation, *get_args(info.annotation)}
    if any(isinstance(kind, type) and issubclass(kind, BaseModel) for kind in kinds):
        return "not a mapping"
    if bool in kinds:
        return "maybe"
    if int in kinds or float in kinds:
        return "many"
    if get_origin(info.annotation) is Literal:
        return "nope"
    if get_origin(info.annotation) is tuple:
        return "[unclosed"
    return "not a url" if key.endswith(("url", "uri")) else " "


def test_every_key_is_read_from_the_environment(tmp_path: Path) -> None:
    env = {
        f"TOKENBOT_{section.upper()}__{key.upper()}": _bad_text(key, info)
        for section, key, info in _every_key()
    }
    with pytest.raises(ConfigProblems) as caught:
        _load(tmp_path, env=env)
    named = {problem.key for problem in caught.value.problems}
    assert named == {f"{section}.{key}" for section, key, _ in _every_key()}
    for problem in caught.value.problems:
        assert str(problem).count("; set by TOKENBOT_") == 1, problem


def test_every_default_written_in_the_environment_reads_back(tmp_path: Path) -> None:
    def text(value: Any) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, tuple):
            return ",".join(value)
        return "" if value is None else str(value)

    built_in = _load(tmp_path)
    env = {
        f"TOKENBOT_{section.upper()}__{key.upper()}": text(getattr(getattr(built_in, section), key))
        for section, key, _ in _every_key()
        if (section, key) not in {("webex", "authorize_url"), ("webex", "token_url")}
    }
    env["TOKENBOT_DATABASE_URL"] = built_in.database.url
    from_env = _load(tmp_path, env=env)
    assert from_env.masked() == built_in.masked()


def test_logging_choices_are_the_ones_the_log_setup_knows() -> None:
    fields = SECTIONS["logging"].model_fields
    assert get_args(fields["level"].annotation) == tuple(LEVELS)
    assert get_args(fields["format"].annotation) == tuple(FORMATS)
