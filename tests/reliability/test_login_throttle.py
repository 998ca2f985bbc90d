"""The login throttle of a real `tokenbot serve` (issue 11, finding 6).

Attacks: ten wrong passwords for `admin` from ten addresses (127.0.0.2-11: every 127/8 address
is loopback) used to lock the right password out for 15 minutes, repeatable forever; and 40
parallel wrong tries from one address got 17 passwords checked against a limit of 10, because
the limit was checked before and counted after the (slow, argon2) check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.e2e.newcomer import hidden_fields
from tests.reliability.serve import Deployment
from tokenbot.core.admins import AdminStore

PASSWORD = "correct horse battery staple"
PARALLEL = 40
LIMIT = 10  # failures per username and address (AdminStore's default)


class _FromAddress(HTTPAdapter):
    """Connect from a chosen loopback source address."""

    def __init__(self, source: str) -> None:
        self._source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._source, 0)
        super().init_poolmanager(*args, **kwargs)


def _client(source: str) -> requests.Session:
    http = requests.Session()
    http.mount("http://", _FromAddress(source))
    return http


def _login_form(http: requests.Session, url: str, password: str) -> dict[str, str]:
    form = hidden_fields(http.get(f"{url}/login", timeout=10).text)
    form.update(username="admin", password=password)
    return form


def _try(http: requests.Session, url: str, form: dict[str, str]) -> int:
    return http.post(f"{url}/login", data=form, timeout=30, allow_redirects=False).status_code


@pytest.fixture
def serve(deploy: Callable[..., Deployment], sqlite_url: str) -> Any:
    deployment = deploy(sqlite_url)
    with deployment.runtime() as runtime:
        AdminStore(runtime.database, clock=runtime.clock).create_admin("admin", PASSWORD)
    return deployment.spawn("throttle").wait_ready()


def test_wrong_passwords_from_ten_addresses_do_not_lock_the_admin_out(serve: Any) -> None:
    admin = _client("127.0.0.1")
    assert _try(admin, serve.url, _login_form(admin, serve.url, PASSWORD)) == 303
    for number in range(2, 12):
        attacker = _client(f"127.0.0.{number}")
        assert _try(attacker, serve.url, _login_form(attacker, serve.url, "wrong!")) in (401, 429)
    # The admin, from where they logged in before, gets in at once.
    again = _client("127.0.0.1")
    assert _try(again, serve.url, _login_form(again, serve.url, PASSWORD)) == 303
    # From a new address the name is slowed (one try per few seconds), not locked for 15 min.
    new = _client("127.0.0.99")
    answer = new.post(
        f"{serve.url}/login", data=_login_form(new, serve.url, PASSWORD), allow_redirects=False
    )
    if answer.status_code == 429:
        assert int(answer.headers["Retry-After"]) <= 6
    else:
        assert answer.status_code == 303


def test_parallel_wrong_tries_check_no_more_passwords_than_the_limit(serve: Any) -> None:
    clients = [_client("127.0.0.1") for _ in range(PARALLEL)]
    forms = [_login_form(http, serve.url, "wrong password!") for http in clients]
    start = threading.Barrier(PARALLEL)
    statuses: list[int] = []
    lock = threading.Lock()

    def attempt(index: int) -> None:
        start.wait(timeout=30)
        status = _try(clients[index], serve.url, forms[index])
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(statuses) == PARALLEL
    checked = statuses.count(401)  # 429: refused before the password was looked at
    assert checked <= LIMIT, f"{checked} passwords checked, limit {LIMIT}: {sorted(statuses)}"
    assert set(statuses) <= {401, 429}
