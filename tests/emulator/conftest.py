"""Fixtures for the emulator's own tests: SDK clients bound to sandbox people."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from webexpythonsdk import WebexAPI

from tests.plugins.emulator import EmulatorHandle
from tokenbot.emulator import SEED_CLIENT_ID

ALL_SCOPES = [
    "spark:kms",
    "spark:people_read",
    "spark:rooms_read",
    "spark:rooms_write",
    "spark:memberships_read",
    "spark:memberships_write",
    "spark:messages_read",
    "spark:messages_write",
]


@pytest.fixture
def api_for(emulator: EmulatorHandle) -> Callable[..., WebexAPI]:
    """Return a factory: an SDK client acting as a sandbox person through the seed integration."""

    def make(email: str, scopes: list[str] | None = None, **kwargs: object) -> WebexAPI:
        token = emulator.mint_token(SEED_CLIENT_ID, email, scopes or ALL_SCOPES)["access_token"]
        return WebexAPI(access_token=token, base_url=emulator.api_url, **kwargs)

    return make


@pytest.fixture
def alice(api_for: Callable[..., WebexAPI]) -> WebexAPI:
    """Return an SDK client acting as alice@example.com."""
    return api_for("alice@example.com")
