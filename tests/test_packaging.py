"""The release artefact: the wheel holds one top-level package and runs on its own.

The wheel is built once per module from a copy of the source (as the Dockerfile copies it), then
inspected, then installed in a venv outside the checkout, from wheels only (`.venv/wheelhouse`,
made by `make test`'s install step; no index is reached). From that venv, with the checkout
nowhere on the path, `tokenbot db upgrade`, `emulator`, `serve` and `demo` must start, answer
and stop cleanly.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.plugins.ports import free_port
from tests.plugins.processes import LineReader
from tests.plugins.tokens import wait_until

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("admin", "bot", "core", "emulator")
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "tokenbot", *PARTS)
WHEELHOUSE_ENV = "TOKENBOT_TEST_WHEELHOUSE"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            pins[canonicalize_name(name.strip())] = version.strip()
    return pins


def test_every_dependency_is_pinned_by_the_lock_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        wanted += [Requirement(r) for r in extra]
    pins = _pins(ROOT / "constraints.txt")
    problems = []
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        if name == canonicalize_name(project["name"]):
            continue  # an extra that includes another extra of ours
        if name not in pins:
            problems.append(f"{requirement.name} has no pin")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{requirement.name}=={pins[name]} is outside {requirement.specifier}")
    assert not problems, (
        "constraints.txt does not match pyproject.toml; run `make lock` and commit the result:\n"
        + "\n".join(problems)
    )
    teams = _pins(ROOT / "constraints-teams.txt")
    assert teams.get("webexteamssdk") == "1.7" and "webexpythonsdk" not in teams


def _quiet_pip_env() -> dict[str, str]:
    """Pip without the machine's configuration and without any index: wheels and files only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def _run(
    command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the tree, so the checkout gains no build/ or egg-info."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            shutil.copytree(origin, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(origin, source / name)
    dist = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(dist), str(source)],
        env=_quiet_pip_env(),
    )
    (built,) = dist.glob("webex_tokenbot-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_holds_one_top_level_package_and_every_file_of_the_parts(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        top_level = archive.read(f"{dist_info}/top_level.txt").decode().split()
        metadata = archive.read(f"{dist_info}/METADATA").decode()
    assert {name.split("/")[0] for name in names} == {"tokenbot", dist_info}
    assert top_level == ["tokenbot"]
    assert "License-Expression: Apache-2.0" in metadata
    assert f"{dist_info}/licenses/LICENSE" in names

    # Every file of every part is in the wheel under tokenbot/: code, templates, static files,
    # migrations, READMEs. A new kind of data file that package-data misses fails here.
    packaged = {name for name in names if name.startswith("tokenbot/")}
    expected = set()
    for folder in ("tokenbot", *PARTS):
        for path in (ROOT / folder).rglob("*"):
            relative = path.relative_to(ROOT)
            if path.is_dir() or "__pycache__" in relative.parts or path.suffix == ".pyc":
                continue
            if folder == "tokenbot" and relative.parts[1] in PARTS:
                continue  # through a link: counted under the part's own folder
            prefix = "" if folder == "tokenbot" else "tokenbot/"
            expected.add(prefix + relative.as_posix())
    assert packaged == expected, {
        "missing": sorted(expected - packaged),
        "unexpected": sorted(packaged - expected),
    }
    for kind in (
        "tokenbot/admin/templates/dashboard.html",
        "tokenbot/admin/static/panel.css",
        "tokenbot/core/migrations/env.py",
        "tokenbot/core/migrations/versions/0001_token_store.py",
    ):
        assert kind in packaged, kind


def _wheelhouse() -> Path:
    configured = os.environ.get(WHEELHOUSE_ENV)
    wheelhouse = Path(configured) if configured else ROOT / ".venv" / "wheelhouse"
    if not any(wheelhouse.glob("*.whl")):
        message = (
            f"no dependency wheels in {wheelhouse}: `make test` (or `make .venv/.installed`) "
            f"builds them, or point {WHEELHOUSE_ENV} at a folder of wheels"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return wheelhouse


@pytest.fixture(scope="module")
def outside(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install the wheel into a fresh venv outside the checkout; return the venv's bin folder."""
    wheelhouse = _wheelhouse()
    venv = tmp_path_factory.mktemp("outside") / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
        + ["--find-links", str(wheelhouse), str(wheel)],
        env=_quiet_pip_env(),
    )
    where = _run(
        [str(python), "-c", "import tokenbot.core, sys; print(tokenbot.core.__file__)"],
        cwd=venv.parent,
        env=_clean_env(venv / "bin"),
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    assert not Path(where).resolve().is_relative_to(ROOT), where
    return venv / "bin"


def _clean_env(bin_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a user of the installed wheel: no settings, no checkout on the path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WEBEX_", "TOKENBOT_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _secrets(bin_dir: Path, cwd: Path) -> dict[str, str]:
    keys = _run([str(bin_dir / "tokenbot"), "keys", "generate"], cwd=cwd, env=_clean_env(bin_dir))
    return {
        "WEBEX_CLIENT_ID": "C" + "0" * 64,
        "WEBEX_CLIENT_SECRET": "s" + os.urandom(16).hex(),
        "TOKENBOT_SECRET_KEY": "k" + os.urandom(24).hex(),
        "TOKENBOT_ENCRYPTION_KEYS": keys.stdout.strip(),
    }


class _Child:
    """A `tokenbot` process of the installed wheel, read line by line, stopped by SIGTERM."""

    def __init__(self, bin_dir: Path, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.stderr_path = cwd / f"{args[0]}.stderr"
        self._stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen(
            [str(bin_dir / "tokenbot"), *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,  # a file: a chatty child never fills a pipe and stalls
            text=True,
        )
        assert self.process.stdout is not None
        self.output = LineReader(self.process.stdout)

    def stop(self) -> str:
        """SIGTERM, then return stdout; fail unless it exits 0 without a traceback."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
            self._stderr.close()
        stderr = self.stderr_path.read_text()
        assert self.process.returncode == 0, stderr[-3000:]
        assert "Traceback" not in stderr, stderr[-3000:]
        return self.output.rest()


@pytest.fixture
def children() -> Iterator[list[_Child]]:
    """Every child a test starts; any still running at the end is killed."""
    started: list[_Child] = []
    yield started
    for child in started:
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait(timeout=10)


def _get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=5)
    except requests.ConnectionError:
        return None


@pytest.mark.slow
def test_db_upgrade_runs_from_the_installed_wheel(outside: Path, tmp_path: Path) -> None:
    database = tmp_path / "data" / "tokenbot.sqlite3"
    env = _clean_env(outside, TOKENBOT_DATABASE_URL=f"sqlite:///{database}")
    env.update(_secrets(outside, tmp_path))
    result = _run([str(outside / "tokenbot"), "db", "upgrade"], cwd=tmp_path, env=env)
    assert "Traceback" not in result.stderr
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"accounts", "token_events", "admin_users", "alembic_version"} <= tables


@pytest.mark.slow
def test_emulator_and_serve_run_from_the_installed_wheel(
    outside: Path, tmp_path: Path, children: list[_Child]
) -> None:
    emulator = _Child(
        outside, tmp_path, _clean_env(outside), "emulator", "--host", "127.0.0.1", "--port", "0"
    )
    children.append(emulator)
    banner = emulator.output.wait_for("Seed client secret", timeout=60)
    api = re.search(r"Webex emulator API:\s+(\S+)", banner)
    client_id = re.search(r"Seed client id:\s+(\S+)", banner)
    client_secret = re.search(r"Seed client secret:\s+(\S+)", banner)
    assert api and client_id and client_secret, banner
    answer = requests.get(f"{api.group(1)}people/me", timeout=10)
    assert answer.status_code == 401 and "trackingId" in answer.json()

    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"webex:\n  api_base_url: {api.group(1)}\n"
        f"database:\n  url: sqlite:///{tmp_path}/serve.sqlite3\n",
        encoding="utf-8",
    )
    env = _clean_env(outside, TOKENBOT_CONFIG=str(config))
    env.update(_secrets(outside, tmp_path))
    env.update(WEBEX_CLIENT_ID=client_id.group(1), WEBEX_CLIENT_SECRET=client_secret.group(1))
    serve = _Child(outside, tmp_path, env, "serve", "--port", str(port))
    children.append(serve)
    health = wait_until(
        lambda: _get(f"http://127.0.0.1:{port}/healthz"),
        timeout=60,
        interval=0.1,
        what="/healthz answering",
    )
    assert health.status_code == 200
    ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert "tokenbot stopped" in serve.stop()
    assert "Emulator stopped." in emulator.stop()


@pytest.mark.slow
def test_demo_runs_from_the_installed_wheel(
    outside: Path, tmp_path: Path, children: list[_Child]
) -> None:
    port, emulator_port = free_port(), free_port()
    demo = _Child(
        outside,
        tmp_path,
        _clean_env(outside),
        "demo",
        "--port",
        str(port),
        "--emulator-port",
        str(emulator_port),
    )
    children.append(demo)
    banner = demo.output.wait_for("tokenbot ready", timeout=90)
    assert re.search(r"Password:\s+\S+", banner), banner
    assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    login = requests.get(f"http://127.0.0.1:{port}/login", timeout=10)
    assert login.status_code == 200 and "csrf_token" in login.text
    spaces = requests.get(f"http://127.0.0.1:{emulator_port}/_emulator/spaces", timeout=10)
    assert spaces.status_code == 200
    demo.stop()
