"""SIGKILL `tokenbot serve` while it is POSTing a notification: nothing lost, nothing doubled.

The receiver holds the first delivery open; the process is killed while it waits for the
answer (claimed, sent, not recorded). After a restart every event arrives, in order per
account; the one in flight is sent again with the SAME webhook-id, which is what a Standard
Webhooks receiver de-duplicates on, and nothing else is sent twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from tests.notify.receiver import Receiver
from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import wait_until
from tests.reliability.crowd import connect_due
from tests.reliability.crowd import crowd_emails
from tests.reliability.serve import Deployment
from tokenbot.core.clock import SystemClock
from tokenbot.core.config import generate_notify_secret
from tokenbot.core.notify import NotifyDelivery
from tokenbot.core.notify import NotifyEvent

ACCOUNTS = 6


@pytest.mark.slow
def test_sigkill_mid_delivery_loses_and_doubles_nothing(
    deploy: Callable[..., Deployment], emulator: EmulatorHandle, sqlite_url: str
) -> None:
    secret = generate_notify_secret()
    receiver = Receiver(secret)
    try:
        deployment = deploy(
            sqlite_url,
            notify={
                "webhooks": [{"url": receiver.url}],
                "interval_seconds": 1,
                "timeout_seconds": 1,
                "lease_seconds": 2,
            },
        )
        deployment.extra_env["TOKENBOT_NOTIFY_SECRET"] = secret
        with deployment.runtime() as runtime:
            ids = connect_due(
                runtime.store,
                emulator,
                deployment.client_id,
                crowd_emails(ACCOUNTS),
                now=SystemClock().now(),
            )
            for account_id in ids[:3]:
                runtime.store.disconnect(account_id)
            with runtime.database.read() as session:
                events = session.execute(
                    sa.select(NotifyEvent.message_id, NotifyEvent.account_id).order_by(
                        NotifyEvent.id
                    )
                ).all()
            assert len(events) == ACCOUNTS + 3

            hold = threading.Event()
            receiver.hold = hold
            first = deployment.spawn("before-kill").wait_ready()
            assert receiver.arrived.wait(30), first.stderr()[-3000:]
            first.kill()  # the POST is out, its answer not yet read
            receiver.hold = None
            hold.set()

            second = deployment.spawn("after-kill").wait_ready()

            def all_sent() -> bool:
                with runtime.database.read() as session:
                    statuses = session.execute(sa.select(NotifyDelivery.status)).scalars().all()
                return len(statuses) == len(events) and set(statuses) == {"sent"}

            wait_until(all_sent, timeout=60, interval=0.1, what="every delivery sent")
            assert second.stop() == 0, second.stderr()[-3000:]
            assert "Traceback" not in second.stderr()

        unique = receiver.unique()
        assert sorted(r.message_id for r in unique) == sorted(m for m, _ in events)
        for account_id in ids:
            want = [m for m, a in events if a == account_id]
            got = [r.message_id for r in unique if r.data["account_id"] == account_id]
            assert got == want, account_id
        doubled = len(receiver.received) - len(unique)
        assert doubled <= 1, "only the delivery in flight at the kill may arrive twice"
        assert receiver.bad == []
    finally:
        receiver.close()
