"""The command line answers --version, --help and completion without loading the heavy parts,
and its exit status tells a usage error (2) from a failure (1)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tokenbot.cli import COMMANDS
from tokenbot.cli import cli

HEAVY = ("sqlalchemy", "flask", "authlib", "webexpythonsdk", "webexteamssdk", "alembic", "requests")

# Runs the CLI in a fresh interpreter, then reports which heavy packages it imported.
PROBE = """
import json, sys
from tokenbot.cli import cli
try:
    cli(sys.argv[1:], prog_name="tokenbot")
except SystemExit:
    pass
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.stdin.read())))
print("HEAVY=" + json.dumps(heavy))
"""


def _probe(*args: str, env: dict[str, str] | None = None) -> tuple[list[str], str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        input=json.dumps(HEAVY),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    marker = [line for line in result.stdout.splitlines() if line.startswith("HEAVY=")]
    assert marker, result.stdout + result.stderr
    return json.loads(marker[-1][len("HEAVY=") :]), result.stdout


@pytest.mark.parametrize("args", [["--version"], ["--help"], []], ids=["version", "help", "bare"])
def test_listing_commands_imports_nothing_heavy(args: list[str]) -> None:
    heavy, out = _probe(*args)
    assert heavy == []
    if args == ["--help"]:
        assert all(name in out for name in COMMANDS)


def test_completing_a_command_name_imports_nothing_heavy() -> None:
    env = {"_TOKENBOT_COMPLETE": "bash_complete", "COMP_WORDS": "tokenbot se", "COMP_CWORD": "1"}
    heavy, out = _probe(env=env)
    assert heavy == []
    assert "plain,serve" in out.splitlines()


def test_running_a_command_still_loads_it() -> None:
    heavy, _ = _probe("db", "--help")
    assert "sqlalchemy" in heavy  # the probe sees real imports; the tests above are not vacuous


def test_the_listing_says_what_each_command_says_of_itself() -> None:
    group = cli
    ctx = click.Context(group)
    for name, (_, listed) in COMMANDS.items():
        command = group.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=200) == listed


def test_a_usage_error_exits_2_and_a_failure_exits_1(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["serve", "--no-such-option"]).exit_code == 2
    assert runner.invoke(cli, ["no-such-command"]).exit_code == 2
    bad = tmp_path / "config.yaml"
    bad.write_text("panel: [1, 2\n", encoding="utf-8")
    result = runner.invoke(cli, ["accounts", "list", "--config", str(bad)])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: ")


def test_the_emulator_on_a_taken_port_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["emulator", "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: --port: cannot listen on 127.0.0.1:{port} (Address already in use)"
    ]
