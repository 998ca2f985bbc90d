"""`tokenbot serve` and the container entry point, run as real processes on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.ports import free_port
from tests.plugins.tokens import connect_minted
from tests.plugins.tokens import wait_until
from tokenbot.core.crypto import TokenCipher

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"


def _env(tmp_path: Path, emulator: EmulatorHandle, config: str, **extra: str) -> dict[str, str]:
    client_id, client_secret = emulator.register_integration(
        ["http://127.0.0.1:2000/oauth/callback"]
    )
    path = tmp_path / "config.yaml"
    path.write_text(config.format(api=emulator.api_url, tmp=tmp_path), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "TOKENBOT_"))}
    env.update(
        TOKENBOT_CONFIG=str(path),
        WEBEX_CLIENT_ID=client_id,
        WEBEX_CLIENT_SECRET=client_secret,
        TOKENBOT_SECRET_KEY="k" + os.urandom(24).hex(),
        TOKENBOT_ENCRYPTION_KEYS=TokenCipher.generate_key_spec("k1"),
        # The entry point runs `tokenbot`; the one of this environment comes first.
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    env.update(extra)
    return env


GOOD = """\
webex:
  api_base_url: {api}
database:
  url: sqlite:///{tmp}/data/tokenbot.sqlite3
panel:
  port: PORT
"""


def _serve_and_fail(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `tokenbot serve` expecting it to refuse to start (bounded: it must not serve)."""
    return subprocess.run(
        [sys.executable, "-m", "tokenbot", "serve", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError("did not stop within 30 s of SIGTERM") from None


def test_entrypoint_migrates_an_empty_database_and_serves_healthz(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    port = free_port()
    env = _env(tmp_path, emulator, GOOD.replace("PORT", str(port)))
    database = tmp_path / "data" / "tokenbot.sqlite3"
    assert not database.exists()
    process = subprocess.Popen(
        ["sh", str(ENTRYPOINT)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        health = wait_until(
            lambda: _get(f"http://127.0.0.1:{port}/healthz"),
            timeout=30,
            interval=0.1,
            what="/healthz answering",
        )
        assert health.status_code == 200
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
    finally:
        out, err = _stop(process)
    assert process.returncode == 0, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    assert "database is up to date" in out and "tokenbot ready" in out and "tokenbot stopped" in out
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"accounts", "token_events", "admin_users", "alembic_version"} <= tables


def _get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=2)
    except requests.ConnectionError:
        return None


@pytest.mark.parametrize(
    ("config", "env_change", "key"),
    [
        (GOOD, {"WEBEX_CLIENT_SECRET": ""}, "WEBEX_CLIENT_SECRET"),
        (GOOD, {"TOKENBOT_ENCRYPTION_KEYS": ""}, "TOKENBOT_ENCRYPTION_KEYS"),
        (GOOD + "refresh:\n  margin_seconds: soon\n", {}, "refresh.margin_seconds"),
        (GOOD + "bot:\n  intaek: webhook\n", {}, "bot.intaek"),
        (GOOD.replace("{api}", "ftp://webex"), {}, "webex.api_base_url"),
        ("panel: [1, 2\n", {}, "config.yaml"),
    ],
    ids=["missing-secret", "missing-keys", "bad-number", "unknown-key", "bad-url", "bad-yaml"],
)
def test_serve_refuses_bad_settings_with_one_line_naming_the_key(
    emulator: EmulatorHandle,
    tmp_path: Path,
    config: str,
    env_change: dict[str, str],
    key: str,
) -> None:
    env = _env(tmp_path, emulator, config.replace("PORT", str(free_port())), **env_change)
    result = _serve_and_fail(tmp_path, env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and key in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def test_serve_with_roles_split_runs_only_what_was_asked(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    port = free_port()
    env = _env(tmp_path, emulator, GOOD.replace("PORT", str(port)))
    process = subprocess.Popen(
        [sys.executable, "-m", "tokenbot", "serve", "--role", "web"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: _get(f"http://127.0.0.1:{port}/healthz"),
            timeout=30,
            interval=0.1,
            what="/healthz answering",
        )
        status = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
        # No scheduler in this process: readiness rests on the database alone.
        assert status["checks"]["database"] == "ok"
    finally:
        out, err = _stop(process)
    assert process.returncode == 0, err[-2000:]
    assert "roles: web" in out


def test_unknown_role_is_refused(emulator: EmulatorHandle, tmp_path: Path) -> None:
    env = _env(tmp_path, emulator, GOOD.replace("PORT", str(free_port())))
    result = _serve_and_fail(tmp_path, env, "--role", "web,cron")
    assert result.returncode == 2  # a usage error: nothing ran
    assert "cron" in result.stderr and "Traceback" not in result.stderr


def test_serve_with_an_unreachable_database_is_one_line(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    closed = free_port()
    env = _env(
        tmp_path,
        emulator,
        GOOD.replace("PORT", str(free_port())),
        TOKENBOT_DATABASE_URL=f"postgresql+psycopg://tokenbot:pw-canary-51@127.0.0.1:{closed}/tb",
    )
    result = _serve_and_fail(tmp_path, env)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "database.url" in errors[0], result.stderr
    assert "Traceback" not in result.stderr and "pw-canary-51" not in result.stderr


def test_serve_refuses_keys_that_cannot_open_the_stored_tokens(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    from tokenbot.core.config import load_settings
    from tokenbot.core.runtime import build_runtime

    env = _env(tmp_path, emulator, GOOD.replace("PORT", str(free_port())))
    runtime = build_runtime(load_settings(env["TOKENBOT_CONFIG"], env=env))
    try:
        connect_minted(
            runtime.store,
            runtime.oauth,
            emulator,
            env["WEBEX_CLIENT_ID"],
            "bob@example.com",
            ["spark:all"],
            sent_at=runtime.clock.now(),
        )
    finally:
        runtime.close()
    wrong = {**env, "TOKENBOT_ENCRYPTION_KEYS": TokenCipher.generate_key_spec("k1")}
    result = _serve_and_fail(tmp_path, wrong)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "key id 'k1'" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def _serve_once(tmp_path: Path, env: dict[str, str], port: int, *args: str) -> tuple[str, str]:
    """Run `tokenbot serve ARGS` until /healthz answers, stop it, and return its output."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tokenbot", "serve", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: _get(f"http://127.0.0.1:{port}/healthz"),
            timeout=30,
            interval=0.1,
            what="/healthz answering",
        )
    finally:
        out, err = _stop(process)
    assert process.returncode == 0, err[-2000:]
    return out, err


def test_serve_on_every_interface_says_where_it_listens_and_warns(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    port = free_port()
    env = _env(tmp_path, emulator, GOOD.replace("PORT", str(port)))
    out, err = _serve_once(tmp_path, env, port, "--role", "web", "--host", "0.0.0.0")
    assert f"listening on 0.0.0.0:{port}" in out
    warnings = [line for line in err.splitlines() if line.startswith("warning: panel.host")]
    assert len(warnings) == 1 and "reachable from the network" in warnings[0], err[-2000:]


def test_serve_on_loopback_does_not_warn(emulator: EmulatorHandle, tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, emulator, GOOD.replace("PORT", str(port)))
    out, err = _serve_once(tmp_path, env, port, "--role", "web")
    assert f"listening on 127.0.0.1:{port}" in out
    assert "reachable from the network" not in err


def test_serve_in_json_mode_writes_nothing_but_json(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    port = free_port()
    config = GOOD.replace("PORT", str(port)) + "logging:\n  level: INFO\n  format: json\n"
    env = _env(tmp_path, emulator, config)
    out, err = _serve_once(tmp_path, env, port, "--role", "web", "--host", "0.0.0.0")
    records = []
    for line in (out + err).splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not JSON: {line!r}") from None
    messages = [record["message"] for record in records]
    assert any(m.startswith("tokenbot ready: ") for m in messages), messages
    assert any(m.startswith("warning: panel.host is 0.0.0.0") for m in messages), messages
    assert any('"GET /healthz" 200' in m for m in messages), messages
    assert messages[-1] == "tokenbot stopped"
    assert not any("User-Agent" in m for m in messages)
