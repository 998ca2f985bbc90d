"""The panel's notifications page: a "Send test event" button per endpoint, and the log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.notify.receiver import Receiver
from tests.plugins.panel import CHEAP_HASHER
from tests.plugins.panel import PanelClient
from tests.plugins.panel import build_panel_runtime
from tests.plugins.panel import connect_account
from tokenbot.core.admins import AdminStore
from tokenbot.core.clock import FrozenClock
from tokenbot.core.runtime import Runtime
from tokenbot.core.settings import NotifySettings
from tokenbot.core.settings import NotifyWebhook
from tokenbot.core.settings import Secret


@pytest.fixture
def notify_client(
    panel_settings: Any, panel_clock: FrozenClock, receiver: Receiver, notify_secret: str
) -> Iterator[tuple[PanelClient, Runtime]]:
    from tokenbot.admin import create_app

    settings = panel_settings.model_copy(
        update={
            "notify": NotifySettings(
                webhooks=(NotifyWebhook(url=receiver.url),), secret=Secret(notify_secret)
            )
        }
    )
    runtime = build_panel_runtime(settings, panel_clock)
    try:
        admins = AdminStore(runtime.database, clock=runtime.clock, hasher=CHEAP_HASHER)
        admins.create_admin("admin", "correct horse battery staple")
        app = create_app(settings, runtime, admins=admins)
        app.config["TESTING"] = True
        client = PanelClient(app.test_client())
        assert client.login("admin", "correct horse battery staple").status_code == 303
        yield client, runtime
    finally:
        runtime.close()


def test_send_test_event_button_and_delivery_log(
    notify_client: tuple[PanelClient, Runtime], receiver: Receiver, emulator: Any
) -> None:
    client, runtime = notify_client
    page = client.get("/notify").get_data(as_text=True)
    assert "Send test event" in page and "/hooks/tokenbot?..." in page
    assert "s3cr3t" not in page  # the endpoint's query (a receiver's token) never shows
    [target] = runtime.outbox.targets if runtime.outbox else []
    response = client.post(f"/notify/{target.key}/test")
    assert response.status_code == 303
    assert receiver.types() == ["notify.test"]
    assert receiver.bad == []

    connect_account(client, emulator)
    runtime.deliver_notifications()
    assert receiver.types() == ["notify.test", "account.connected"]
    log = client.get("/notify").get_data(as_text=True)
    assert log.count('data-status="sent"') == 2 and "account.connected" in log
    assert client.post("/notify/webhook:nope/test").status_code == 404
