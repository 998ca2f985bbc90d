"""No old ciphertext left in the SQLite files, and disconnect revokes at Webex (issue 11, #8).

Against a real `tokenbot serve` on a SQLite file and the emulator:

- `tokenbot keys rotate` while serve runs: afterwards neither the main database file nor its
  `-wal` holds the tokens sealed under the old key (they used to stay in the main file, the new
  rows only in the WAL).
- Disconnect from the panel: the wiped ciphertext is gone from both files; when the grant holds
  `identity:tokens_write` it is revoked at Webex (its tokens stop working there), otherwise the
  panel says plainly that the grant stays valid at Webex.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.newcomer import hidden_fields
from tests.e2e.newcomer import log_in
from tests.plugins.emulator import EmulatorHandle
from tests.reliability.serve import REDIRECT_URI
from tests.reliability.serve import Deployment
from tokenbot.core.admins import AdminStore
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.models import Account
from tokenbot.core.tokens import Identity
from tokenbot.core.tokens import TokenSet

PASSWORD = "correct horse battery staple"
PLAIN = ["spark:people_read", "spark:messages_read"]
ADMIN = [*PLAIN, "identity:tokens_read", "identity:tokens_write"]


@pytest.fixture
def deployment(emulator: EmulatorHandle, tmp_path: Path) -> Iterator[Deployment]:
    client_id, client_secret = emulator.register_integration([REDIRECT_URI], ADMIN)
    folder = tmp_path / "leftovers"
    folder.mkdir()
    url = f"sqlite:///{folder / 'tokenbot.sqlite3'}"
    made = Deployment(emulator, folder, url, client_id, client_secret)
    try:
        yield made
    finally:
        made.close()


def _db_files(deployment: Deployment) -> list[bytes]:
    main = Path(deployment.database_url.removeprefix("sqlite:///"))
    wal = main.with_name(main.name + "-wal")
    return [path.read_bytes() for path in (main, wal) if path.exists()]


def _connect(deployment: Deployment, emulator: EmulatorHandle, scopes: list[str]) -> int:
    minted = emulator.mint_token(deployment.client_id, "alice@example.com", scopes)
    person = emulator.person("alice@example.com")
    identity = Identity(
        person_id=person["id"], email="alice@example.com", display_name=person["displayName"]
    )
    tokens = TokenSet(
        access_token=minted["access_token"],
        expires_in=int(minted["expires_in"]),
        refresh_token=minted["refresh_token"],
        refresh_token_expires_in=int(minted["refresh_token_expires_in"]),
    )
    with deployment.runtime() as runtime:
        AdminStore(runtime.database, clock=runtime.clock).create_admin("admin", PASSWORD)
        account = runtime.store.save_connected(
            identity, scopes, tokens, sent_at=runtime.clock.now()
        )
    return account.id


def _sealed(deployment: Deployment, account_id: int) -> list[bytes]:
    with deployment.runtime() as runtime, runtime.database.read() as session:
        row = session.get(Account, account_id)
        assert row is not None
        values = [row.access_token_enc, row.refresh_token_enc]
    assert all(values)
    return [str(v).encode() for v in values]


def _assert_gone(deployment: Deployment, sealed: list[bytes]) -> None:
    for content in _db_files(deployment):
        for value in sealed:
            # The sealed value's body (after the key id): its bytes anywhere in the file.
            assert value[-40:] not in content, "an old ciphertext is still in the database files"


def test_key_rotation_on_a_running_server_leaves_no_old_ciphertext(
    deployment: Deployment, emulator: EmulatorHandle
) -> None:
    account_id = _connect(deployment, emulator, PLAIN)
    old = _sealed(deployment, account_id)
    deployment.encryption_keys = (
        TokenCipher.generate_key_spec("new") + "," + (deployment.encryption_keys)
    )
    deployment.spawn("rotating").wait_ready()
    config = deployment.write_config("rotate-cli", {"bot": {"intake": "polling"}})
    done = subprocess.run(
        [sys.executable, "-m", "tokenbot", "keys", "rotate"],
        env=deployment.env(config),
        cwd=deployment.folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 2 value(s) under key 'new'" in done.stdout
    assert _sealed(deployment, account_id) != old
    _assert_gone(deployment, old)


def _disconnect(serve: Any, account_id: int) -> str:
    http = requests.Session()
    log_in(http, serve.url, "admin", PASSWORD)
    page = http.get(f"{serve.url}/accounts/{account_id}/disconnect", timeout=10)
    assert page.status_code == 200
    answer = http.post(
        f"{serve.url}/accounts/{account_id}/disconnect",
        data={"csrf_token": hidden_fields(page.text)["csrf_token"]},
        timeout=20,
    )
    assert answer.status_code == 200, answer.text[:300]
    return page.text + answer.text


def _grant_revoked(emulator: EmulatorHandle, client_id: str) -> bool:
    grants = emulator.control("GET", "grants")["items"]
    ours = [g for g in grants if g["client_id"] == client_id]
    assert ours
    return all(g["revoked"] for g in ours)


def test_disconnect_with_the_admin_scope_revokes_at_webex_and_leaves_no_ciphertext(
    deployment: Deployment, emulator: EmulatorHandle
) -> None:
    account_id = _connect(deployment, emulator, ADMIN)
    sealed = _sealed(deployment, account_id)
    serve = deployment.spawn("disconnect").wait_ready()
    pages = _disconnect(serve, account_id)
    assert "The grant was revoked at Webex too." in pages
    assert _grant_revoked(emulator, deployment.client_id)
    deletes = emulator.calls(method="DELETE")
    assert [c["status"] for c in deletes if c["path"].startswith("/v1/authorizations/")] == [204]
    _assert_gone(deployment, sealed)


def test_disconnect_without_the_admin_scope_says_the_grant_stays_valid_at_webex(
    deployment: Deployment, emulator: EmulatorHandle
) -> None:
    account_id = _connect(deployment, emulator, PLAIN)
    sealed = _sealed(deployment, account_id)
    serve = deployment.spawn("disconnect").wait_ready()
    pages = _disconnect(serve, account_id)
    assert pages.count("stays valid at Webex") >= 2  # on the confirmation page and afterwards
    assert not _grant_revoked(emulator, deployment.client_id)
    _assert_gone(deployment, sealed)
