"""One Settings builds the whole framework-free process: store, OAuth client, token service."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import connect_minted
from tokenbot.core.clock import FrozenClock
from tokenbot.core.config import Settings
from tokenbot.core.config import load_settings
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.errors import LoginStateInvalid
from tokenbot.core.runtime import build_runtime
from tokenbot.core.runtime import policy_from

REDIRECT = "http://127.0.0.1:2000/oauth/callback"
SCOPES = ["spark:people_read", "spark:messages_read"]


def _settings(emulator: EmulatorHandle, database_url: str, **refresh: object) -> Settings:
    client_id, client_secret = emulator.register_integration([REDIRECT])
    return load_settings(
        "/dev/null",
        env={
            "WEBEX_CLIENT_ID": client_id,
            "WEBEX_CLIENT_SECRET": client_secret,
            "TOKENBOT_SECRET_KEY": secrets.token_urlsafe(48),
            "TOKENBOT_ENCRYPTION_KEYS": TokenCipher.generate_key_spec("k1"),
        },
        overrides={
            "webex": {"api_base_url": f"{emulator.api_url}", "scopes": SCOPES},
            "database": {"url": database_url},
            "refresh": dict(refresh),
        },
    )


def test_runtime_connects_refreshes_and_sweeps(emulator: EmulatorHandle, database_url: str) -> None:
    settings = _settings(emulator, database_url, margin_seconds=600)
    clock = FrozenClock()
    runtime = build_runtime(settings, clock=clock)
    try:
        assert runtime.policy == policy_from(settings)
        client_id = settings.webex.client_id.reveal()
        account = connect_minted(
            runtime.store,
            runtime.oauth,
            emulator,
            client_id,
            "alice@example.com",
            SCOPES,
            sent_at=clock.now(),
        )
        assert account.email == "alice@example.com"
        connected = runtime.store.access_grant(account.id).access_token

        # Not due yet: the sweep finds nothing and makes no call to Webex.
        assert runtime.sweep().count("refreshed") == 0
        assert runtime.tokens.access_token(account.id) == connected

        # Past the refresh point, the sweep renews the token through the emulator.
        clock.advance((account.next_refresh_at - clock.now()).total_seconds() + 1)
        emulator.advance_clock(3600)
        report = runtime.sweep()
        assert report.count("refreshed") == 1
        refreshed = runtime.store.get(account.id)
        assert refreshed.last_refreshed_at == clock.now()
        assert refreshed.next_refresh_at is not None
        assert refreshed.next_refresh_at > clock.now() + timedelta(hours=1)
        fresh = runtime.tokens.access_token(account.id)
        assert fresh != connected
        assert runtime.oauth.identify(fresh).email == "alice@example.com"
    finally:
        runtime.close()


def test_build_runtime_migrates_an_empty_database(
    emulator: EmulatorHandle, sqlite_url: str
) -> None:
    runtime = build_runtime(_settings(emulator, sqlite_url))
    try:
        assert runtime.store.count_accounts() == 0
    finally:
        runtime.close()


def test_the_sweep_forgets_old_pending_logins_hourly(
    emulator: EmulatorHandle, sqlite_url: str
) -> None:
    clock = FrozenClock()
    runtime = build_runtime(_settings(emulator, sqlite_url), clock=clock)
    try:
        old = runtime.store.begin_login(session_binding="b" * 64, verifier="v" * 43)
        clock.advance(2 * 86400)
        fresh = runtime.store.begin_login(session_binding="b" * 64, verifier="w" * 43)
        runtime.sweep()
        with pytest.raises(LoginStateInvalid) as gone:
            runtime.store.consume_login(old, session_binding="b" * 64)
        assert gone.value.reason == "unknown"
        assert runtime.store.consume_login(fresh, session_binding="b" * 64) == "w" * 43
    finally:
        runtime.close()
