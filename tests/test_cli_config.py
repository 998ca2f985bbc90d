"""`tokenbot config check`: prints the configuration with every secret masked, or one error line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from tokenbot.cli import cli
from tokenbot.core.crypto import TokenCipher

ROOT = Path(__file__).resolve().parents[1]
KEY_SPEC = TokenCipher.generate_key_spec("main")
SECRETS = {
    "WEBEX_CLIENT_ID": "canary-cli-client-id-41a2",
    "WEBEX_CLIENT_SECRET": "canary-cli-client-secret-93bd",
    "TOKENBOT_SECRET_KEY": "canary-cli-session-key-Hq7Lw2Pz9Xc4Vb8Nm3Rt",
    "TOKENBOT_ENCRYPTION_KEYS": KEY_SPEC,
    "TOKENBOT_WEBHOOK_SECRET": "canary-cli-webhook-secret-5e6f",
    "TOKENBOT_DATABASE_URL": "postgresql+psycopg://tokenbot:canary-db-pass-77@db.internal/tb",
}
UNSET: dict[str, str | None] = {
    name: None
    for name in [
        *SECRETS,
        "TOKENBOT_CONFIG",
        "OAUTHLIB_INSECURE_TRANSPORT",
        "AUTHLIB_INSECURE_TRANSPORT",
    ]
}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "bot:\n  intake: webhook\n  public_url: https://bot.example.com\n", encoding="utf-8"
    )
    return path


def test_check_prints_configuration_with_secrets_masked(config_file: Path) -> None:
    result = CliRunner().invoke(
        cli, ["config", "check", "--config", str(config_file)], env={**UNSET, **SECRETS}
    )
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["mode"] == "production"
    assert shown["bot"]["intake"] == "webhook"
    assert shown["webex"]["client_secret"].startswith("set (sha256:")
    assert shown["database"]["url"] == "postgresql+psycopg://tokenbot:***@db.internal/tb"
    assert shown["encryption_key_ids"] == ["main"]
    assert "configuration ok" in result.stderr
    everything = result.output
    for value in [*SECRETS.values(), KEY_SPEC.split(":")[1], "canary-db-pass-77"]:
        assert value not in everything


def test_check_in_demo_mode_generates_and_warns(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["config", "check", "--config", str(empty), "--demo"], env=UNSET
    )
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["mode"] == "demo"
    assert shown["panel"]["secret_key"].startswith("generated (sha256:")
    assert "warning: TOKENBOT_ENCRYPTION_KEYS: not set" in result.stderr


@pytest.mark.parametrize(
    ("yaml_text", "said"),
    [
        ("", "intake: polling (auto: webex.scopes lacks spark:all and bot.public_url is not set)"),
        (
            "webex:\n  scopes: [spark:all, spark:kms]\n",
            "intake: websocket (auto: webex.scopes has spark:all)",
        ),
        (
            "bot:\n  public_url: https://bot.example.com\n",
            "intake: webhook (auto: webex.scopes lacks spark:all; bot.public_url is set)",
        ),
    ],
)
def test_check_says_which_intake_auto_means_and_why(
    tmp_path: Path, yaml_text: str, said: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["config", "check", "--config", str(path)], env={**UNSET, **SECRETS}
    )
    assert result.exit_code == 0, result.output
    assert said in result.stderr


def test_check_reports_one_error_line_and_exits_2(config_file: Path) -> None:
    env = {**UNSET, **SECRETS, "WEBEX_CLIENT_SECRET": None}
    result = CliRunner().invoke(cli, ["config", "check", "--config", str(config_file)], env=env)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: WEBEX_CLIENT_SECRET: is not set; ")
    assert lines[0].endswith(")")
    for value in SECRETS.values():
        assert value not in result.output


def test_check_reports_bad_values_by_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("refresh:\n  margin_seconds: soon\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check", "--config", str(path)], env=UNSET)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: refresh.margin_seconds: expected a number")


def test_environment_override_shows_in_check(tmp_path: Path) -> None:
    empty = tmp_path / "config.yaml"
    empty.write_text("", encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["config", "check", "--config", str(empty), "--demo"],
        env={**UNSET, "TOKENBOT_PANEL__PORT": "2345", "TOKENBOT_BOT__INTAKE": "webhook"},
    )
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["panel"]["port"] == 2345
    assert shown["bot"]["intake"] == "webhook"
    assert shown["bot"]["public_url"] == "http://127.0.0.1:2345"


def test_check_names_the_database_in_use_without_its_password(config_file: Path) -> None:
    result = CliRunner().invoke(
        cli, ["config", "check", "--config", str(config_file)], env={**UNSET, **SECRETS}
    )
    assert result.exit_code == 0, result.output
    assert "database: postgresql+psycopg://tokenbot:***@db.internal/tb" in result.stderr
    assert "canary-db-pass-77" not in result.output
    sqlite = CliRunner().invoke(
        cli,
        ["config", "check", "--config", str(config_file)],
        env={**UNSET, **SECRETS, "TOKENBOT_DATABASE_URL": None},
    )
    folder = config_file.parent.resolve()
    assert f"database: sqlite:///{folder}/data/tokenbot.sqlite3" in sqlite.stderr


def test_check_reports_every_problem_one_line_each(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("panel:\n  port: 0\nbot:\n  worker: 2\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["config", "check", "--config", str(path)],
        env={**UNSET, **SECRETS, "TOKENBOT_REFRESH__LEASE_SECONDS": "many"},
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert sorted(result.stderr.splitlines()) == [
        "error: bot.worker: unknown key (did you mean 'workers'?)",
        "error: panel.port: must be between 1 and 65535, got 0",
        "error: refresh.lease_seconds: expected a number, got str 'many'; "
        "set by TOKENBOT_REFRESH__LEASE_SECONDS",
    ]


def test_schema_command_prints_a_schema_that_validates_the_shipped_config() -> None:
    result = CliRunner().invoke(cli, ["config", "schema"], env=UNSET)
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(shipped, schema, cls=jsonschema.Draft202012Validator)
    assert schema["properties"]["panel"]["$ref"] == "#/$defs/PanelSettings"
    panel = schema["$defs"]["PanelSettings"]
    assert panel["properties"]["port"]["maximum"] == 65535
    assert "secret_key" not in panel["properties"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"panel": {"port": "x"}}, schema)


def test_db_upgrade_needs_only_the_database_url(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("database:\n  url: sqlite:///state/tb.sqlite3\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["db", "upgrade", "--config", str(path)], env=UNSET)
    assert result.exit_code == 0, result.output
    database = tmp_path.resolve() / "state" / "tb.sqlite3"
    assert f"database is up to date: sqlite:///{database}" in result.output
    tables = sqlite3.connect(database).execute("select name from sqlite_master").fetchall()
    assert ("alembic_version",) in tables
    again = CliRunner().invoke(
        cli,
        ["db", "upgrade", "--config", str(path)],
        env={**UNSET, "TOKENBOT_DATABASE_URL": f"sqlite:///{database}"},
    )
    assert again.exit_code == 0, again.output


def test_db_upgrade_reports_a_bad_url_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("", encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["db", "upgrade", "--config", str(path)],
        env={**UNSET, "TOKENBOT_DATABASE_URL": "mysql://x/y"},
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: TOKENBOT_DATABASE_URL: bad URL")
