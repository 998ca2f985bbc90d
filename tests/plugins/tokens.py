"""Fixtures and helpers for the OAuth client, refresher and scheduler tests.

Chained: emulator -> `integration` (registered client id and secret) -> `oauth_client` (the
real `WebexOAuthClient` over loopback HTTP) -> `connect` (a full code flow into the store).
`FakeOAuth` is a scripted stand-in for the unit tests of the refresher, and `wait_until` polls a
condition against a deadline instead of sleeping.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests

from tokenbot.core.clock import Clock
from tokenbot.core.clock import FrozenClock
from tokenbot.core.tokens import Identity
from tokenbot.core.tokens import TokenSet

if TYPE_CHECKING:
    from tests.plugins.emulator import EmulatorHandle
    from tokenbot.core.oauth import WebexOAuthClient
    from tokenbot.core.records import AccountView
    from tokenbot.core.store import TokenStore

T = TypeVar("T")

REDIRECT_URI = "http://127.0.0.1:2000/redirect.html"
SCOPES = ("spark:people_read", "spark:messages_read", "spark:messages_write")


def wait_until(
    condition: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.01, what: str = ""
) -> T:
    """Return the first truthy value of `condition()`, polling until `timeout` seconds pass.

    Raises:
        AssertionError: The condition stayed falsy until the deadline.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    value = condition()
    if value:
        return value
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what or condition}")


# -- a scripted OAuth client ---------------------------------------------------------------------


class FakeOAuth:
    """A `RefreshClient` that answers from a script and records every refresh token it got.

    Each `refresh` pops the next scripted step: a `TokenSet`, an exception to raise, or a
    callable run first (to simulate what happens during the call). With an empty script it
    issues new tokens, rotating the refresh token when `rotate` is set.
    """

    def __init__(self, *, rotate: bool = False, expires_in: int = 3600) -> None:
        self.rotate = rotate
        self.expires_in = expires_in
        self.script: list[Any] = []
        self.seen: list[str] = []
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)

    def refresh(self, refresh_token: str) -> TokenSet:
        with self._lock:
            self.seen.append(refresh_token)
            step = self.script.pop(0) if self.script else None
            n = next(self._numbers)
        while callable(step) and not isinstance(step, type):
            step = step()
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, TokenSet):
            return step
        return TokenSet(
            access_token=f"fake-access-{n:04d}-xxxxxxxxxxxx",
            expires_in=self.expires_in,
            refresh_token=f"fake-refresh-{n:04d}-xxxxxxxxxxxx" if self.rotate else None,
            refresh_token_expires_in=7775999,
        )

    @property
    def calls(self) -> int:
        """How many refresh calls were made."""
        return len(self.seen)


@pytest.fixture
def fake_oauth() -> FakeOAuth:
    """A scripted OAuth client that rotates refresh tokens."""
    return FakeOAuth(rotate=True)


def connect_fake(
    store: TokenStore,
    clock: FrozenClock,
    *,
    email: str = "alice@example.com",
    expires_in: int = 3600,
    refresh_token_expires_in: int | None = 7775999,
    access_token: str = "first-access-token-xxxxxxxx",
    refresh_token: str = "first-refresh-token-xxxxxxx",
) -> AccountView:
    """Store a connected account with the given tokens, sent at the clock's now."""
    identity = Identity(
        person_id=f"person-{email}", email=email, display_name=email.split("@")[0].title()
    )
    tokens = TokenSet(
        access_token=access_token,
        expires_in=expires_in,
        refresh_token=refresh_token,
        refresh_token_expires_in=refresh_token_expires_in,
    )
    return store.save_connected(identity, SCOPES, tokens, sent_at=clock.now())


# -- the real client against the emulator --------------------------------------------------------


@dataclass(frozen=True)
class Integration:
    """A registered emulator integration."""

    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: tuple[str, ...]


@pytest.fixture
def integration(emulator: EmulatorHandle) -> Integration:
    """An integration registered in the emulator, with our redirect URI and scopes."""
    client_id, secret = emulator.register_integration([REDIRECT_URI], list(SCOPES))
    return Integration(client_id, secret, REDIRECT_URI, SCOPES)


def make_client(
    emulator: EmulatorHandle,
    integration: Integration,
    *,
    timeout: float = 2.0,
    token_auth_method: str = "client_secret_post",
) -> WebexOAuthClient:
    """Build the real OAuth client pointed at the emulator."""
    from tokenbot.core.oauth import WebexOAuthClient

    return WebexOAuthClient(
        client_id=integration.client_id,
        client_secret=integration.client_secret,
        authorize_url=f"{emulator.url}/v1/authorize",
        token_url=f"{emulator.url}/v1/access_token",
        api_base_url=emulator.api_url,
        redirect_uri=integration.redirect_uri,
        scopes=integration.scopes,
        timeout_seconds=timeout,
        token_auth_method=token_auth_method,
    )


@pytest.fixture
def oauth_client(emulator: EmulatorHandle, integration: Integration) -> WebexOAuthClient:
    """The real OAuth client against the emulator, with a 2 s timeout."""
    return make_client(emulator, integration)


@dataclass(frozen=True)
class CodeFlow:
    """What one browser round trip through the emulator's authorize page produced."""

    state: str
    verifier: str
    authorize_url: str
    location: str
    code: str


def run_code_flow(
    emulator: EmulatorHandle, client: WebexOAuthClient, email: str, *, state: str | None = None
) -> CodeFlow:
    """Play the browser: auto-approve as `email`, follow to the redirect, return the code.

    The redirect host is not contacted: the Location header is parsed instead.
    """
    import secrets

    emulator.settings(auto_approve=email)
    verifier = client.new_verifier()
    state = state or secrets.token_urlsafe(24)
    url = client.authorization_url(state=state, code_verifier=verifier)
    with requests.Session() as browser:
        response = browser.get(url, allow_redirects=False, timeout=10)
    assert response.status_code in (302, 303), response.text[:300]
    location = response.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state], location
    return CodeFlow(state, verifier, url, location, query["code"][0])


def connect_minted(
    store: Any,
    oauth: Any,
    emulator: EmulatorHandle,
    client_id: str,
    email: str,
    scopes: Sequence[str],
    *,
    sent_at: datetime,
) -> AccountView:
    """Mint a grant for `email` in the emulator (no browser) and store it as a connect would."""
    minted = emulator.mint_token(client_id, email, list(scopes))
    tokens = TokenSet(
        access_token=minted["access_token"],
        expires_in=int(minted["expires_in"]),
        refresh_token=minted.get("refresh_token"),
        refresh_token_expires_in=minted.get("refresh_token_expires_in"),
    )
    identity = oauth.identify(tokens.access_token)
    return store.save_connected(identity, list(scopes), tokens, sent_at=sent_at)


def connect(
    store: TokenStore,
    client: WebexOAuthClient,
    emulator: EmulatorHandle,
    clock: Clock,
    email: str = "alice@example.com",
) -> AccountView:
    """Connect `email` through the full code flow and store the account."""
    flow = run_code_flow(emulator, client, email)
    sent_at = clock.now()
    tokens = client.exchange_code(flow.code, code_verifier=flow.verifier)
    identity = client.identify(tokens.access_token)
    return store.save_connected(identity, client.scopes, tokens, sent_at=sent_at)


def token_calls(
    emulator: EmulatorHandle, grant_type: str = "refresh_token"
) -> list[dict[str, Any]]:
    """Return the emulator's token-endpoint calls of one grant type."""
    return [c for c in emulator.calls("/v1/access_token") if c.get("grant_type") == grant_type]


def settle_faults(emulator: EmulatorHandle, count: int = 1, path: str = "/v1/access_token") -> None:
    """Wait until `count` faulted calls have finished (a delayed one finishes late).

    The emulator lives for the whole session and logs a call when it ends: a delayed request
    still running when a test ends would land in the next test's call log.
    """
    wait_until(
        lambda: sum(1 for c in emulator.calls(path) if c.get("fault")) >= count,
        what="the emulator's faulted calls to finish",
    )


# -- child processes -----------------------------------------------------------------------------


@dataclass
class Child:
    """A `tests.core._child` process and the files it talks through."""

    process: subprocess.Popen[str]
    config_path: Path

    def result(self, timeout: float = 60) -> dict[str, Any]:
        """Wait for the child to end and return the JSON it printed."""
        out, err = self.process.communicate(timeout=timeout)
        assert self.process.returncode == 0, f"child failed ({self.process.returncode}): {err}"
        return dict(json.loads(out.strip().splitlines()[-1]))

    def kill(self) -> None:
        """SIGKILL the child (no cleanup of any kind runs) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=10)


def spawn_child(
    tmp_path: Path,
    name: str,
    config: dict[str, Any],
    *,
    key_spec: str,
    client_secret: str,
    module: str = "tests.core._child",
    extra_env: dict[str, str] | None = None,
) -> Child:
    """Start `python -m <module>` with `config`; secrets travel in its environment."""
    config_path = tmp_path / f"{name}.json"
    config_path.write_text(json.dumps({"name": name, **config}))
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "TOKENBOT_TEST_KEY_SPEC": key_spec,
        "TOKENBOT_TEST_CLIENT_SECRET": client_secret,
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", module, str(config_path)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Child(process, config_path)


@dataclass
class SharedSetup:
    """One database, one emulator integration, one connected account: what children share."""

    store: TokenStore
    client: WebexOAuthClient
    integration: Integration
    key_spec: str
    database_url: str
    account_id: int

    def child_config(self, emulator: EmulatorHandle, **extra: Any) -> dict[str, Any]:
        """The non-secret part of a child's configuration."""
        return {
            "database_url": self.database_url,
            "emulator_url": emulator.url,
            "client_id": self.integration.client_id,
            "redirect_uri": self.integration.redirect_uri,
            "scopes": list(self.integration.scopes),
            "account_id": self.account_id,
            **extra,
        }

    def spawn(self, tmp_path: Path, name: str, config: dict[str, Any]) -> Child:
        """Start a child with this setup's secrets in its environment."""
        return spawn_child(
            tmp_path,
            name,
            config,
            key_spec=self.key_spec,
            client_secret=self.integration.client_secret,
        )


@pytest.fixture
def shared_setup(
    database: Any, database_url: str, emulator: EmulatorHandle, integration: Integration
) -> SharedSetup:
    """Connect alice with a token that is due at once (10 min life, inside the 15 min margin).

    Later tokens live 14 days again, so one refresh makes the account fresh. Everything runs
    on the system clock, like the child processes.
    """
    from tokenbot.core.clock import SystemClock
    from tokenbot.core.crypto import TokenCipher
    from tokenbot.core.policy import RefreshPolicy
    from tokenbot.core.store import TokenStore

    key_spec = TokenCipher.generate_key_spec("kshared")
    clock = SystemClock()
    store = TokenStore(
        database, TokenCipher.from_spec(key_spec), clock=clock, policy=RefreshPolicy()
    )
    client = make_client(emulator, integration, timeout=5)
    emulator.settings(access_token_lifetime=600)
    account = connect(store, client, emulator, clock)
    emulator.settings(access_token_lifetime=1209599)
    return SharedSetup(store, client, integration, key_spec, database_url, account.id)
