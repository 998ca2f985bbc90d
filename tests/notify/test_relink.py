"""Re-login links: the right person keeps the account, anyone else is refused, links spend once."""

from __future__ import annotations

import html
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from click.testing import CliRunner
from flask import Flask

from tests.plugins.panel import PanelClient
from tests.plugins.panel import connect_account
from tests.plugins.tokens import connect_minted
from tokenbot.cli import cli
from tokenbot.core.clock import FrozenClock
from tokenbot.core.config import load_settings
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import EventKind
from tokenbot.core.relink import RelinkLinks
from tokenbot.core.runtime import Runtime
from tokenbot.core.runtime import build_runtime


def _mint(admin: PanelClient, account_id: int) -> str:
    admin.get(f"/accounts/{account_id}")
    page = admin.post(f"/accounts/{account_id}/relink")
    assert page.status_code == 200, page.get_data(as_text=True)
    found = re.search(r'value="(http[^"]+/relink/[^"]+)"', page.get_data(as_text=True))
    assert found is not None
    return urlsplit(html.unescape(found.group(1))).path


def _sign_in(browser: PanelClient, emulator: Any, path: str, email: str) -> Any:
    """Open the link, press the button, approve at the emulator as `email`, come back."""
    opened = browser.get(path)
    assert opened.status_code == 200, opened.get_data(as_text=True)
    emulator.settings(auto_approve=email)
    started = browser.post(path)
    assert started.status_code == 303, started.get_data(as_text=True)
    consent = requests.get(started.headers["Location"], allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["Location"])
    return browser.get(f"{back.path}?{back.query}")


def test_relink_keeps_the_account_and_refuses_anyone_else(
    app: Flask,
    admin_client: PanelClient,
    panel_runtime: Runtime,
    emulator: Any,
) -> None:
    store = panel_runtime.store
    account_id, _ = connect_account(admin_client, emulator)
    assert store.get(account_id).is_bot_identity
    store.mark_needs_reauth(account_id, reason="Webex rejected the refresh token")
    history = [e.id for e in store.events(account_id)]
    path = _mint(admin_client, account_id)

    stranger = PanelClient(app.test_client())  # no panel session at all
    refused = _sign_in(stranger, emulator, path, "bob@example.com")
    assert refused.status_code == 403
    text = refused.get_data(as_text=True)
    assert "bob@example.com" in text and "alice@example.com" in text
    assert store.get_by_person(emulator.person("bob@example.com")["id"]) is None
    assert store.get(account_id).status is AccountStatus.NEEDS_REAUTH
    assert stranger.get(path).status_code == 200  # the link still works

    done = _sign_in(stranger, emulator, path, "alice@example.com")
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "connected to tokenbot again" in done.get_data(as_text=True)
    view = store.get(account_id)
    assert view.status is AccountStatus.ACTIVE and view.has_tokens and view.is_bot_identity
    events = store.events(account_id)
    assert events[0].kind is EventKind.RECONNECTED
    assert history == [e.id for e in events[1:]]  # history kept
    assert store.count_accounts() == 1
    assert stranger.client.get("/").status_code in (302, 303)  # and no panel session given

    used = stranger.get(path)
    assert used.status_code == 410 and "already used" in used.get_data(as_text=True)


def test_expired_revoked_and_unknown_links_say_so(
    app: Flask,
    admin_client: PanelClient,
    panel_runtime: Runtime,
    panel_clock: FrozenClock,
    emulator: Any,
) -> None:
    account_id, _ = connect_account(admin_client, emulator)
    first = _mint(admin_client, account_id)
    second = _mint(admin_client, account_id)
    browser = PanelClient(app.test_client())
    revoked = browser.get(first)
    assert revoked.status_code == 410 and "replaced" in revoked.get_data(as_text=True)
    panel_clock.advance(31 * 60)
    expired = browser.get(second)
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    assert browser.post(second).status_code == 410
    unknown = browser.get("/relink/not-a-link")
    assert unknown.status_code == 404 and "not valid" in unknown.get_data(as_text=True)


def test_cli_relink_prints_a_working_link(emulator: Any, tmp_path: Path) -> None:
    client_id, client_secret = emulator.register_integration(
        ["http://127.0.0.1:2000/oauth/callback"]
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        f"webex:\n  api_base_url: {emulator.api_url}\n"
        f"database:\n  url: sqlite:///{tmp_path / 'tb.sqlite3'}\n"
        "panel:\n  public_url: https://tokenbot.example.com\n",
        encoding="utf-8",
    )
    env = {
        "TOKENBOT_CONFIG": str(config),
        "WEBEX_CLIENT_ID": client_id,
        "WEBEX_CLIENT_SECRET": client_secret,
        "TOKENBOT_SECRET_KEY": secrets.token_urlsafe(48),
        "TOKENBOT_ENCRYPTION_KEYS": TokenCipher.generate_key_spec("k"),
    }
    runtime = build_runtime(load_settings(config, env=env))
    try:
        account = connect_minted(
            runtime.store,
            runtime.oauth,
            emulator,
            client_id,
            "alice@example.com",
            ["spark:people_read"],
            sent_at=runtime.clock.now(),
        )
        result = CliRunner().invoke(cli, ["accounts", "relink", str(account.id)], env=env)
        assert result.exit_code == 0, result.output
        url = result.stdout.strip()
        assert url.startswith("https://tokenbot.example.com/relink/")
        assert "alice@example.com" in result.stderr and "30 minutes" in result.stderr
        links = RelinkLinks(runtime.database, clock=runtime.clock)
        assert links.check(url.rsplit("/", 1)[1]).account_id == account.id
        missing = CliRunner().invoke(cli, ["accounts", "relink", "999"], env=env)
        assert missing.exit_code == 1 and "does not exist" in missing.stderr
    finally:
        runtime.close()
