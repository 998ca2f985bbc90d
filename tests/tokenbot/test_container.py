"""What the image and the host service files promise, checked as far as this machine allows.

No Docker engine runs here, so the Dockerfile is read, not built; the entry point itself runs in
tests/tokenbot/test_serve.py. The systemd unit is checked by systemd's own tools.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
UNIT = ROOT / "docs" / "systemd" / "tokenbot.service"


def _stages() -> list[str]:
    return re.split(r"^FROM ", DOCKERFILE, flags=re.M)[1:]


def test_the_base_image_is_pinned_by_digest() -> None:
    base = re.search(r"^ARG BASE=(\S+)$", DOCKERFILE, flags=re.M)
    assert base, "the base image is named once, in ARG BASE"
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base.group(1))
    assert [stage.split()[0] for stage in _stages()] == ["${BASE}", "${BASE}"]
    assert "docker buildx imagetools inspect" in DOCKERFILE  # how to update it


def test_the_final_image_gets_the_virtualenv_not_the_wheels() -> None:
    final = _stages()[-1]
    copies = re.findall(r"^COPY --from=\S+ (\S+)", final, flags=re.M)
    assert copies == ["/opt/tokenbot"], copies
    assert "wheel" not in final.lower()
    assert "USER tokenbot" in final  # never root at run time


def test_the_build_context_leaves_out_history_venvs_data_and_secrets() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "data", "*.sqlite3", ".env", "docker/tokenbot.env"} <= ignored
    assert "docker/postgres_password.txt" in ignored
    # What the build stage copies must not be ignored.
    for needed in ("pyproject.toml", "README.md", "LICENSE", "core", "tokenbot", "docker"):
        assert needed not in ignored


@pytest.fixture
def unit_for_this_machine(tmp_path: Path) -> Path:
    """The unit with its commands pointed at this checkout's tokenbot, which does exist."""
    tokenbot = Path(sys.executable).parent / "tokenbot"
    text = UNIT.read_text(encoding="utf-8").replace("/opt/tokenbot/bin/tokenbot", str(tokenbot))
    unit = tmp_path / "tokenbot.service"
    unit.write_text(text, encoding="utf-8")
    return unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_systemd_unit_verifies(unit_for_this_machine: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit_for_this_machine)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_systemd_unit_is_hardened(unit_for_this_machine: Path) -> None:
    # systemd's exposure score, 0 (locked down) to 10 (unprotected); the threshold is x10.
    result = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=yes",
            "--threshold=20",
            str(unit_for_this_machine),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert score, result.stdout[-2000:] + result.stderr
    assert result.returncode == 0, f"exposure {score.group(1)} is above 2.0"
    text = UNIT.read_text(encoding="utf-8")
    for line in ("DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=tokenbot"):
        assert line in text
