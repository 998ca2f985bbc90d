"""The reliability suite's emulator: the sandbox plus a crowd of people to connect at scale.

Overriding `emulator_server` here gives every fixture of this folder (the plugins' `emulator`,
the panel's and the bot's fixtures) the same crowded emulator, reset before each test.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.emulator import EmulatorHandle
from tests.reliability.crowd import crowd_seed
from tests.reliability.serve import Deployment
from tests.reliability.serve import new_deployment
from tokenbot.emulator import EmulatorServer


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    """Run one emulator for the session whose seed holds the sandbox and the crowd."""
    server = EmulatorServer(host="127.0.0.1", port=0, seed=crowd_seed())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def deploy(emulator: EmulatorHandle, tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    """Build deployments on the emulator: `deploy(database_url, **config)`; all stopped after."""
    made: list[Deployment] = []

    def build(database_url: str, **config: Any) -> Deployment:
        folder = tmp_path / f"deploy{len(made)}"
        deployment = new_deployment(emulator, folder, database_url, **config)
        made.append(deployment)
        return deployment

    try:
        yield build
    finally:
        errors = []
        for deployment in made:
            try:
                deployment.close()
            except AssertionError as exc:
                errors.append(str(exc))
        if errors:
            raise AssertionError("; ".join(errors))
