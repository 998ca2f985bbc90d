"""Fixtures of the notification tests: the core chain (store on both databases) and a receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.core.conftest import cipher  # noqa: F401 - fixtures shared with the core tests
from tests.core.conftest import clock  # noqa: F401
from tests.core.conftest import database  # noqa: F401
from tests.core.conftest import policy  # noqa: F401
from tests.core.conftest import store  # noqa: F401
from tests.notify.receiver import Receiver
from tokenbot.core.config import generate_notify_secret


@pytest.fixture
def notify_secret() -> str:
    """A fresh whsec_ secret."""
    return generate_notify_secret()


@pytest.fixture
def receiver(notify_secret: str) -> Iterator[Receiver]:
    """A Standard Webhooks receiver on loopback, verifying with the `standardwebhooks` package."""
    server = Receiver(notify_secret)
    try:
        yield server
    finally:
        server.close()
