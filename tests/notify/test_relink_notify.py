"""Re-login links in notifications: needs_reauth carries a working link only when configured.

The whole chain is real: the panel's runtime (store, outbox, dispatcher) built from settings,
the emulator's OAuth, a Standard Webhooks receiver verifying with `standardwebhooks`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.notify.receiver import Receiver
from tests.notify.test_relink import _sign_in
from tests.plugins.panel import PanelClient
from tests.plugins.panel import connect_account
from tests.plugins.panel import make_settings
from tests.plugins.panel import panel_env
from tokenbot.core.clock import FrozenClock
from tokenbot.core.models import AccountStatus
from tokenbot.core.notify_webex import message_text
from tokenbot.core.relink import RelinkLink
from tokenbot.core.runtime import Runtime

DAY = 86400
PUBLIC = "http://127.0.0.1:2000"  # panel.url: no public_url on plain loopback HTTP


@pytest.fixture(params=[True, False], ids=["link", "no-link"])
def include_link(request: pytest.FixtureRequest) -> bool:
    """Whether `notify.include_relink_link` is on."""
    return bool(request.param)


@pytest.fixture
def panel_settings(
    emulator: Any,
    panel_integration: tuple[str, str],
    tmp_path: Path,
    receiver: Receiver,
    notify_secret: str,
    include_link: bool,
) -> Any:
    """The panel's settings with one notify webhook (the receiver) and the link setting."""
    client_id, client_secret = panel_integration
    return make_settings(
        emulator_url=emulator.url,
        client_id=client_id,
        client_secret=client_secret,
        database_url=f"sqlite:///{tmp_path / 'panel.sqlite3'}",
        env={**panel_env(), "TOKENBOT_NOTIFY_SECRET": notify_secret},
        extra={
            "notify": {
                "webhooks": [{"url": receiver.url}],
                "include_relink_link": include_link,
            }
        },
    )


def _needs_reauth(runtime: Runtime, clock: FrozenClock, emulator: Any, account_id: int) -> None:
    """Revoke the grant at the emulator and let the refresher find out."""
    assert emulator.revoke(email="alice@example.com") == 1
    for _ in range(3):
        clock.advance(DAY + 1)
        runtime.sweep()
        if runtime.store.get(account_id).status is AccountStatus.NEEDS_REAUTH:
            return
    raise AssertionError("the account never reached needs_reauth")


def test_needs_reauth_carries_a_working_relink_link_only_when_configured(
    app: Flask,
    admin_client: PanelClient,
    panel_runtime: Runtime,
    panel_clock: FrozenClock,
    emulator: Any,
    receiver: Receiver,
    include_link: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    account_id, _ = connect_account(admin_client, emulator)
    _needs_reauth(panel_runtime, panel_clock, emulator, account_id)
    panel_runtime.deliver_notifications()
    assert receiver.types(account_id) == ["account.connected", "account.needs_reauth"]
    assert receiver.bad == []
    event = receiver.unique()[-1]
    with panel_runtime.database.read() as session:
        links = session.execute(sa.select(RelinkLink)).scalars().all()

    if not include_link:
        assert "relink_url" not in event.data and "relink" not in message_text(
            event.type, event.data
        )
        assert links == []
        return

    link = str(event.data["relink_url"])
    assert link.startswith(f"{PUBLIC}/relink/") and event.data["relink_expires_at"]
    assert link in message_text(event.type, event.data)  # the Webex notice carries it too
    (stored,) = links
    assert stored.account_id == account_id and stored.created_by == "notify"
    token = link.rsplit("/", 1)[1]
    assert token not in caplog.text  # the link itself is never logged

    browser = PanelClient(app.test_client())  # whoever got the notice: no panel session
    done = _sign_in(browser, emulator, urlsplit(link).path, "alice@example.com")
    assert done.status_code == 200, done.get_data(as_text=True)
    view = panel_runtime.store.get(account_id)
    assert view.status is AccountStatus.ACTIVE and panel_runtime.store.count_accounts() == 1
    panel_runtime.deliver_notifications()
    assert receiver.types(account_id)[-1] == "account.recovered"
    assert receiver.unique()[-1].data["account_id"] == account_id
    assert browser.get(urlsplit(link).path).status_code == 410  # single use
    assert token not in caplog.text
