"""Fuzz the panel: every form, and the OAuth callback's query, with and without a session.

The panel is the real app over a real runtime (SQLite file, token store, OAuth client pointed at
the emulator) with one connected account, so the forms reach real handlers: the CSRF token is
valid unless the example breaks it on purpose. Hypothesis picks the form, the account id (the
real one, an unknown one, one too large for any database integer), and random fields.

Proven, for every example: no 500 (the one 5xx allowed is the callback's 502 when Webex refuses
to exchange a code for a state we really issued), no traceback, and no secret in the page or
its headers: client secret, session key, encryption key, admin password, or any token that was
ever stored. A login that succeeds only ever redirects to a local path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tests.plugins.panel import ADMIN_PASSWORD
from tests.plugins.panel import ADMIN_USERNAME
from tests.plugins.panel import PanelClient
from tests.plugins.panel import connect_account
from tests.reliability.leaks import assert_clean
from tests.reliability.leaks import key_material
from tests.reliability.leaks import stored_tokens
from tokenbot.core.runtime import Runtime

# Examples per form test: the short form runs in `make test`, the long one in `make soak`.
SIZES = [
    pytest.param(100, id="short"),
    pytest.param(3000, id="soak", marks=[pytest.mark.soak, pytest.mark.timeout(1800)]),
]
CALLBACK = "/oauth/callback"
FORMS = ("connect", "refresh", "test", "bot", "disconnect-page", "disconnect", "logout")

# Never `csrf_token`: whether the example keeps the valid one is drawn on its own.
field_names = st.sampled_from(
    ["next", "username", "password", "account_id", "confirm", "x", ""]
) | st.text(max_size=12).filter(lambda name: name != "csrf_token")
field_values = st.text(max_size=80) | st.sampled_from(
    ["//evil.example", "https://evil.example/", "/\\evil", "/accounts/1", "0", "-1", "%00"]
)
fields = st.dictionaries(field_names, field_values, max_size=4)
account_ids = st.one_of(
    st.just("real"),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=2**31, max_value=10**30),
)


@pytest.fixture
def secrets_seen(panel_settings: Any, panel_integration: tuple[str, str]) -> set[str]:
    """Every secret value of this panel that no response may contain (tokens added later)."""
    return {
        panel_integration[1],
        panel_settings.panel.secret_key.reveal(),
        ADMIN_PASSWORD,
        *key_material(panel_settings.encryption_keys.reveal()),
    }


@pytest.fixture
def connected(admin_client: PanelClient, emulator: Any) -> Iterator[int]:
    """Connect alice through the panel; return her account id."""
    account_id, _ = connect_account(admin_client, emulator)
    emulator.settings(auto_approve=None)
    yield account_id


def _ensure_logged_in(client: PanelClient) -> None:
    if client.get("/").status_code != 200:
        response = client.login()
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        client.get("/")


@pytest.mark.parametrize("examples", SIZES)
def test_no_account_form_crashes_or_leaks(
    admin_client: PanelClient,
    panel_runtime: Runtime,
    connected: int,
    secrets_seen: set[str],
    examples: int,
) -> None:
    secrets_seen |= stored_tokens(panel_runtime)

    @settings(max_examples=examples, deadline=None, database=None)
    @given(
        form=st.sampled_from(FORMS),
        target=account_ids,
        data=fields,
        csrf=st.sampled_from(["valid"] * 4 + ["missing"]) | st.text(max_size=40),
    )
    def submit(form: str, target: int | str, data: dict[str, str], csrf: str) -> None:
        _ensure_logged_in(admin_client)
        account = connected if target == "real" else target
        if csrf != "valid":
            data = {**data, "csrf_token": "" if csrf == "missing" else csrf}
        if form == "connect":
            response = admin_client.post("/connect", data)
        elif form == "logout":
            response = admin_client.post("/logout", data)
        elif form == "disconnect-page":
            response = admin_client.get(f"/accounts/{account}/disconnect?{urlencode(data)}")
        else:
            response = admin_client.post(f"/accounts/{account}/{form}", data)
        secrets_seen.update(stored_tokens(panel_runtime))
        assert_clean(response, secrets_seen)

    submit()


@pytest.mark.parametrize(
    "path",
    ["/accounts/{}", "/api/v1/accounts/{}", "/accounts/{}/disconnect"],
)
def test_an_account_id_beyond_any_database_integer_is_simply_not_found(
    admin_client: PanelClient, path: str
) -> None:
    for account_id in (2**63 - 1, 2**63, 10**30):
        assert admin_client.get(path.format(account_id)).status_code == 404
    response = admin_client.post(f"/accounts/{2**63}/refresh")
    assert response.status_code == 404


@pytest.mark.parametrize("examples", SIZES)
def test_no_login_attempt_crashes_leaks_or_redirects_away(
    client: PanelClient, secrets_seen: set[str], examples: int
) -> None:
    @settings(max_examples=examples, deadline=None, database=None)
    @given(
        username=st.sampled_from([ADMIN_USERNAME, ""]) | st.text(max_size=200),
        password=st.sampled_from([ADMIN_PASSWORD, ""]) | st.text(max_size=200),
        next_=field_values | st.just(""),
        extra=fields,
        address=st.ip_addresses(v=4).map(str),
    )
    def attempt(
        username: str, password: str, next_: str, extra: dict[str, str], address: str
    ) -> None:
        client.get(f"/login?{urlencode({'next': next_})}")
        form = {**extra, "username": username, "password": password, "next": next_}
        response = client.post("/login", form, environ_base={"REMOTE_ADDR": address})
        visible = secrets_seen - {ADMIN_PASSWORD} if password == ADMIN_PASSWORD else secrets_seen
        assert_clean(response, visible)
        if response.status_code in (301, 302, 303):
            location = urlsplit(response.headers["Location"])
            assert not location.scheme and not location.netloc, response.headers["Location"]
            assert location.path.startswith("/") and not location.path.startswith("//")

    attempt()


@pytest.mark.parametrize("examples", SIZES)
def test_no_oauth_callback_query_crashes_or_leaks(
    admin_client: PanelClient,
    client: PanelClient,
    panel_runtime: Runtime,
    secrets_seen: set[str],
    examples: int,
) -> None:
    admin_client.get("/")
    anonymous = PanelClient(client.client.application.test_client())

    @settings(max_examples=examples, deadline=None, database=None)
    @given(
        logged_in=st.booleans(),
        real_state=st.booleans(),
        params=st.fixed_dictionaries(
            {},
            optional={
                "code": field_values,
                "state": field_values,
                "error": st.sampled_from(["access_denied", "invalid_scope"]) | field_values,
                "error_description": field_values,
            },
        ),
        extra=fields,
    )
    def arrive(
        logged_in: bool, real_state: bool, params: dict[str, str], extra: dict[str, str]
    ) -> None:
        browser = admin_client if logged_in else anonymous
        query = {**extra, **params}
        issued = False
        if real_state:
            started = admin_client.post("/connect")
            assert started.status_code == 303
            query["state"] = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
            issued = logged_in
        response = browser.get(f"{CALLBACK}?{urlencode(query)}")
        secrets_seen.update(stored_tokens(panel_runtime))
        # Webex refusing a code for a state we issued is the one upstream failure: 502.
        exchanged = issued and bool(query.get("code")) and not query.get("error")
        assert_clean(
            response, secrets_seen, allowed_5xx=frozenset({502}) if exchanged else frozenset()
        )
        if not logged_in:
            assert response.status_code == 401
        elif not issued and not query.get("error"):
            assert response.status_code == 400

    arrive()
