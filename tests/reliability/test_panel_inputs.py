"""Inputs that used to give a 500 from a real `tokenbot serve` (issue 11, finding 10).

- `?before=99999999999999999999` on an account's history: larger than any database integer.
- "Test token" on an account whose stored ciphertext does not open (damaged row, or a key
  removed from TOKENBOT_ENCRYPTION_KEYS too early).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from tests.e2e.newcomer import hidden_fields
from tests.e2e.newcomer import log_in
from tests.plugins.emulator import EmulatorHandle
from tests.reliability.crowd import connect_bot_identity
from tests.reliability.serve import Deployment
from tokenbot.core.admins import AdminStore
from tokenbot.core.models import Account

PASSWORD = "correct horse battery staple"


@pytest.fixture
def panel(
    deploy: Callable[..., Deployment], emulator: EmulatorHandle, sqlite_url: str
) -> tuple[Any, requests.Session, int, Deployment]:
    deployment = deploy(sqlite_url)
    with deployment.runtime() as runtime:
        AdminStore(runtime.database, clock=runtime.clock).create_admin("admin", PASSWORD)
        account_id = connect_bot_identity(
            runtime.store, emulator, deployment.client_id, now=runtime.clock.now()
        )
    serve = deployment.spawn("inputs").wait_ready()
    http = requests.Session()
    log_in(http, serve.url, "admin", PASSWORD)
    return serve, http, account_id, deployment


@pytest.mark.parametrize("before", ["99999999999999999999", "-1", "0", "9223372036854775808"])
def test_a_history_page_beyond_any_event_id_is_a_clear_400(
    panel: tuple[Any, requests.Session, int, Deployment], before: str
) -> None:
    serve, http, account_id, _ = panel
    answer = http.get(f"{serve.url}/accounts/{account_id}?before={before}", timeout=10)
    assert answer.status_code == 400, answer.text[:300]
    assert "before= must be an event id" in answer.text
    assert http.get(f"{serve.url}/accounts/{account_id}?before=5", timeout=10).status_code == 200


def test_testing_a_token_whose_ciphertext_does_not_open_says_so(
    panel: tuple[Any, requests.Session, int, Deployment],
) -> None:
    serve, http, account_id, deployment = panel
    with deployment.runtime() as runtime, runtime.database.write() as session:
        row = session.get(Account, account_id)
        assert row is not None and row.access_token_enc
        sealed = row.access_token_enc
        # One character of the sealed value changed: AES-GCM refuses to open it.
        flipped = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
        session.execute(
            sa.update(Account).where(Account.id == account_id).values(access_token_enc=flipped)
        )
    page = http.get(f"{serve.url}/accounts/{account_id}", timeout=10)
    token = hidden_fields(page.text)["csrf_token"]
    answer = http.post(
        f"{serve.url}/accounts/{account_id}/test", data={"csrf_token": token}, timeout=10
    )
    assert answer.status_code == 200, answer.text[:300]
    assert "cannot be decrypted with the configured keys" in answer.text
