"""The admin panel as fixtures: settings -> runtime -> app -> client -> logged-in client.

The runtime is real (`core.runtime.build_runtime`: SQLite file, token store, OAuth client
pointed at the emulator, token service); only the clock is frozen and the argon2 parameters
are cheap, so a test logs in in milliseconds. `PanelClient` wraps Flask's test client with the
CSRF token of the last page it saw, because the panel's forms are protected for real in tests
too.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tokenbot.core.admins import AdminStore
from tokenbot.core.clock import Clock
from tokenbot.core.clock import FrozenClock
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.runtime import Runtime
from tokenbot.core.runtime import build_runtime

PANEL_REDIRECT_URI = "http://127.0.0.1:2000/oauth/callback"
PANEL_SCOPES = ("spark:people_read", "spark:messages_read", "spark:messages_write")
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "correct horse battery staple"
# Production parameters take ~0.15 s per hash; tests check them once (tests/admin/test_admins).
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def panel_env() -> dict[str, str]:
    """Return the secrets a panel needs, freshly generated (never from a sample)."""
    return {
        "TOKENBOT_SECRET_KEY": secrets.token_urlsafe(48),
        "TOKENBOT_ENCRYPTION_KEYS": TokenCipher.generate_key_spec("test"),
    }


def make_settings(
    *,
    emulator_url: str,
    client_id: str,
    client_secret: str,
    database_url: str,
    redirect_uri: str = PANEL_REDIRECT_URI,
    public_url: str | None = None,
    env: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Any:
    """Load real settings pointed at the emulator, with the given integration and database.

    `extra` holds further sections merged in (e.g. ``{"broker": {"enabled": True}}``).
    """
    from tokenbot.core.config import load_settings

    environ = {**(env or panel_env()), "WEBEX_CLIENT_ID": client_id}
    environ["WEBEX_CLIENT_SECRET"] = client_secret
    panel: dict[str, Any] = {"host": "127.0.0.1", "port": 2000}
    if public_url:
        panel["public_url"] = public_url
    return load_settings(
        "/dev/null",
        env=environ,
        overrides={
            "webex": {
                "api_base_url": f"{emulator_url}/v1/",
                "redirect_uri": redirect_uri,
                "scopes": list(PANEL_SCOPES),
                "timeout_seconds": 5,
            },
            "database": {"url": database_url},
            "panel": panel,
            **(extra or {}),
        },
    )


def build_panel_runtime(settings: Any, clock: Clock) -> Runtime:
    """Migrate the database and build the runtime over it, with `clock`."""
    return build_runtime(settings, clock=clock)


class PanelClient:
    """Flask's test client plus the CSRF token of the last HTML page it fetched."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf: str | None = None

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        """GET `path`; remember the page's CSRF token if it has one."""
        response = self.client.get(path, **kwargs)
        match = _CSRF.search(response.get_data(as_text=True))
        if match:
            self.csrf = match.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        """POST a form to `path` with the remembered CSRF token (fetching / first if none)."""
        if self.csrf is None:
            self.get("/login")
        form = {"csrf_token": self.csrf, **(data or {})}
        return self.client.post(path, data=form, **kwargs)

    def login(
        self, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD, next: str = ""
    ) -> TestResponse:
        """Log in through the form."""
        self.get("/login" + (f"?next={next}" if next else ""))
        return self.post("/login", {"username": username, "password": password, "next": next})

    def cookie_value(self) -> str | None:
        """Return the raw session cookie, whatever its name."""
        for name in ("tokenbot_session", "__Host-tokenbot"):
            cookie = self.client.get_cookie(name)
            if cookie is not None:
                return cookie.value
        return None


def connect_account(
    panel_client: PanelClient, emulator: Any, email: str = "alice@example.com"
) -> tuple[int, TestResponse]:
    """Connect `email` through the emulator (auto-approved); return (account id, response).

    Plays the browser: POST /connect, follow the authorize URL at the emulator, read the
    redirect back to us from its Location header, and deliver that to the panel.
    """
    emulator.settings(auto_approve=email)
    panel_client.get("/")
    started = panel_client.post("/connect")
    assert started.status_code == 303, started.get_data(as_text=True)
    consent = requests.get(started.headers["Location"], allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["Location"])
    response = panel_client.get(f"{back.path}?{back.query}")
    assert response.status_code == 303, response.get_data(as_text=True)
    account_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    return account_id, response


@pytest.fixture
def panel_clock() -> FrozenClock:
    """The panel's clock: frozen, moved by the tests."""
    return FrozenClock()


@pytest.fixture
def panel_integration(emulator: Any) -> tuple[str, str]:
    """An integration in the emulator with the panel's redirect URI: (client id, secret)."""
    return emulator.register_integration([PANEL_REDIRECT_URI], list(PANEL_SCOPES))


@pytest.fixture
def panel_settings(emulator: Any, panel_integration: tuple[str, str], tmp_path: Path) -> Any:
    """Settings for a panel on plain loopback HTTP, pointed at the emulator."""
    client_id, client_secret = panel_integration
    return make_settings(
        emulator_url=emulator.url,
        client_id=client_id,
        client_secret=client_secret,
        database_url=f"sqlite:///{tmp_path / 'panel.sqlite3'}",
    )


@pytest.fixture
def panel_runtime(panel_settings: Any, panel_clock: FrozenClock) -> Iterator[Runtime]:
    """A migrated database with the store, OAuth client and token service over it."""
    runtime = build_panel_runtime(panel_settings, panel_clock)
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.fixture
def panel_admins(panel_runtime: Runtime) -> AdminStore:
    """The admin store with one admin (`ADMIN_USERNAME` / `ADMIN_PASSWORD`)."""
    admins = AdminStore(panel_runtime.database, clock=panel_runtime.clock, hasher=CHEAP_HASHER)
    admins.create_admin(ADMIN_USERNAME, ADMIN_PASSWORD)
    return admins


@pytest.fixture
def app(panel_settings: Any, panel_runtime: Runtime, panel_admins: AdminStore) -> Flask:
    """The panel app over the test runtime."""
    from tokenbot.admin import create_app

    flask_app = create_app(panel_settings, panel_runtime, admins=panel_admins)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def client(app: Flask) -> PanelClient:
    """A browser that is not logged in."""
    return PanelClient(app.test_client())


@pytest.fixture
def admin_client(client: PanelClient) -> PanelClient:
    """A browser logged in as the admin."""
    response = client.login()
    assert response.status_code == 303, response.get_data(as_text=True)
    client.get("/")
    return client
