"""OAuth over real HTTP: consent page, auto-approve, code exchange, refresh, revocation."""

from __future__ import annotations

import base64
import hashlib
import secrets
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest
import requests
from webexpythonsdk import WebexAPI

from tests.plugins.emulator import EmulatorHandle

REDIRECT = "http://127.0.0.1:2000/oauth/callback"
SCOPES = "spark:people_read spark:messages_read"
TOKEN_KEYS = {
    "access_token",
    "expires_in",
    "refresh_token",
    "refresh_token_expires_in",
    "token_type",
}


class _Form(HTMLParser):
    """Collect the first form's action and the inputs a browser would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.radios: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.action:
            self.action = a.get("action", "")
        if tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        if tag == "input" and a.get("type") == "radio":
            self.radios.append(a.get("value", ""))


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _authorize(emu: EmulatorHandle, client_id: str, **extra: str) -> requests.Response:
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": SCOPES,
        "state": "st-123",
        **extra,
    }
    return requests.get(emu.api_url + "authorize", params=params, allow_redirects=False, timeout=10)


def _query(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _token(emu: EmulatorHandle, **form: str) -> requests.Response:
    return requests.post(emu.api_url + "access_token", data=form, timeout=10)


def _code_grant(
    emu: EmulatorHandle, client: tuple[str, str], code: str, verifier: str | None
) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "client_id": client[0],
        "client_secret": client[1],
        "code": code,
        "redirect_uri": REDIRECT,
    }
    if verifier is not None:
        form["code_verifier"] = verifier
    return _token(emu, **form)


def _refresh(emu: EmulatorHandle, client: tuple[str, str], refresh: str) -> requests.Response:
    return _token(
        emu,
        grant_type="refresh_token",
        client_id=client[0],
        client_secret=client[1],
        refresh_token=refresh,
    )


def _me(emu: EmulatorHandle, access: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {access}"}
    return requests.get(emu.api_url + "people/me", headers=headers, timeout=10)


def _assert_oauth_error(response: requests.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    assert body["message"] == body["error_description"]
    assert body["errors"] == [{"description": body["message"]}]
    assert body["trackingId"]


@pytest.fixture
def client(emulator: EmulatorHandle) -> tuple[str, str]:
    return emulator.register_integration([REDIRECT], ["spark:people_read", "spark:messages_read"])


def _approve(emu: EmulatorHandle, client_id: str, email: str, challenge: str) -> dict[str, str]:
    page = _authorize(emu, client_id, code_challenge=challenge, code_challenge_method="S256")
    assert page.status_code == 200
    form = _Form()
    form.feed(page.text)
    assert email in form.radios
    data: dict[str, Any] = dict(form.fields, email=email, decision="approve")
    action = urljoin(page.url, form.action)
    answer = requests.post(action, data=data, allow_redirects=False, timeout=10)
    return _query(answer)


def test_consent_page_flow_with_pkce(emulator: EmulatorHandle, client: tuple[str, str]) -> None:
    verifier, challenge = _pkce()
    query = _approve(emulator, client[0], "bob@example.com", challenge)
    assert query["state"] == "st-123"
    response = _code_grant(emulator, client, query["code"], verifier)
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == TOKEN_KEYS  # no scope, as Webex
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 1209599
    assert tokens["refresh_token_expires_in"] == 7775999
    assert _me(emulator, tokens["access_token"]).json()["emails"] == ["bob@example.com"]
    calls = emulator.calls(path="/v1/access_token")
    assert [c["grant_type"] for c in calls] == ["authorization_code"]
    assert client[1] not in str(calls) and query["code"] not in str(calls)


def test_deny_redirects_with_access_denied(
    emulator: EmulatorHandle, client: tuple[str, str]
) -> None:
    page = _authorize(emulator, client[0])
    form = _Form()
    form.feed(page.text)
    data = dict(form.fields, email="alice@example.com", decision="deny")
    answer = requests.post(
        urljoin(page.url, form.action), data=data, allow_redirects=False, timeout=10
    )
    query = _query(answer)
    assert query["error"] == "access_denied"
    assert query["state"] == "st-123"
    assert "code" not in query


def test_bad_client_or_redirect_uri_never_redirects(
    emulator: EmulatorHandle, client: tuple[str, str]
) -> None:
    unknown = _authorize(emulator, "C" + "0" * 64)
    assert unknown.status_code == 400 and "Location" not in unknown.headers
    wrong = _authorize(emulator, client[0], redirect_uri=REDIRECT + "/evil")
    assert wrong.status_code == 400 and "Location" not in wrong.headers
    assert "redirect_uri" in wrong.text


def test_invalid_scope_and_plain_pkce(emulator: EmulatorHandle, client: tuple[str, str]) -> None:
    scope = _query(_authorize(emulator, client[0], scope="spark:people_read spark:all"))
    assert scope["error"] == "invalid_scope" and scope["state"] == "st-123"
    plain = _query(_authorize(emulator, client[0], code_challenge="x" * 43))
    assert plain["error"] == "invalid_request"
    emulator.settings(allow_plain_pkce=True, auto_approve="carol@example.com")
    query = _query(_authorize(emulator, client[0], code_challenge="v" * 43))
    assert _code_grant(emulator, client, query["code"], "v" * 43).status_code == 200


def test_auto_approve_redirects_at_once(emulator: EmulatorHandle, client: tuple[str, str]) -> None:
    emulator.settings(auto_approve="dave@example.com")
    verifier, challenge = _pkce()
    query = _query(
        _authorize(emulator, client[0], code_challenge=challenge, code_challenge_method="S256")
    )
    tokens = _code_grant(emulator, client, query["code"], verifier).json()
    assert _me(emulator, tokens["access_token"]).json()["emails"] == ["dave@example.com"]


def _auto_code(emu: EmulatorHandle, client_id: str, challenge: str) -> str:
    emu.settings(auto_approve="alice@example.com")
    response = _authorize(emu, client_id, code_challenge=challenge, code_challenge_method="S256")
    return _query(response)["code"]


def test_wrong_verifier_fails(emulator: EmulatorHandle, client: tuple[str, str]) -> None:
    _, challenge = _pkce()
    code = _auto_code(emulator, client[0], challenge)
    _assert_oauth_error(
        _code_grant(emulator, client, code, "not-the-verifier" * 3), "invalid_grant"
    )
    _assert_oauth_error(_code_grant(emulator, client, code, None), "invalid_grant")


def test_replayed_code_fails_and_revokes_its_tokens(
    emulator: EmulatorHandle, client: tuple[str, str]
) -> None:
    verifier, challenge = _pkce()
    code = _auto_code(emulator, client[0], challenge)
    tokens = _code_grant(emulator, client, code, verifier).json()
    assert _me(emulator, tokens["access_token"]).status_code == 200
    _assert_oauth_error(_code_grant(emulator, client, code, verifier), "invalid_grant")
    assert _me(emulator, tokens["access_token"]).status_code == 401
    _assert_oauth_error(_refresh(emulator, client, tokens["refresh_token"]), "invalid_grant")


def test_expired_code_fails(emulator: EmulatorHandle, client: tuple[str, str]) -> None:
    verifier, challenge = _pkce()
    code = _auto_code(emulator, client[0], challenge)
    emulator.advance_clock(601)
    _assert_oauth_error(_code_grant(emulator, client, code, verifier), "invalid_grant")


def test_code_lifetime_setting(emulator: EmulatorHandle, client: tuple[str, str]) -> None:
    emulator.settings(code_lifetime=30)
    verifier, challenge = _pkce()
    code = _auto_code(emulator, client[0], challenge)
    emulator.advance_clock(20)
    assert _code_grant(emulator, client, code, verifier).status_code == 200


def test_mismatched_redirect_uri_fails(emulator: EmulatorHandle, client: tuple[str, str]) -> None:
    verifier, challenge = _pkce()
    code = _auto_code(emulator, client[0], challenge)
    form = {
        "grant_type": "authorization_code",
        "client_id": client[0],
        "client_secret": client[1],
        "code": code,
        "redirect_uri": "http://127.0.0.1:2000/other",
        "code_verifier": verifier,
    }
    _assert_oauth_error(_token(emulator, **form), "invalid_grant")


def test_wrong_secret_is_invalid_client(emulator: EmulatorHandle, client: tuple[str, str]) -> None:
    verifier, challenge = _pkce()
    code = _auto_code(emulator, client[0], challenge)
    _assert_oauth_error(
        _code_grant(emulator, (client[0], "wrong"), code, verifier), "invalid_client"
    )
    emulator.settings(invalid_client_status=401)
    _assert_oauth_error(
        _code_grant(emulator, (client[0], "wrong"), code, verifier), "invalid_client", 401
    )
    # The failed attempts did not use the code up.
    assert _code_grant(emulator, client, code, verifier).status_code == 200


def test_unsupported_grant_type(emulator: EmulatorHandle, client: tuple[str, str]) -> None:
    response = _token(emulator, grant_type="password", client_id=client[0], client_secret=client[1])
    _assert_oauth_error(response, "unsupported_grant_type")


def _grant(emu: EmulatorHandle, client: tuple[str, str]) -> dict[str, Any]:
    verifier, challenge = _pkce()
    code = _auto_code(emu, client[0], challenge)
    tokens: dict[str, Any] = _code_grant(emu, client, code, verifier).json()
    return tokens


def test_refresh_without_rotation_keeps_token_and_counts_down(
    emulator: EmulatorHandle, client: tuple[str, str]
) -> None:
    first = _grant(emulator, client)
    emulator.advance_clock(100)
    response = _refresh(emulator, client, first["refresh_token"])
    assert response.status_code == 200
    second = response.json()
    assert set(second) == TOKEN_KEYS
    assert second["refresh_token"] == first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    # Counting down, not reset (real seconds pass too, hence the one-second slack).
    assert 0 <= first["refresh_token_expires_in"] - 100 - second["refresh_token_expires_in"] <= 1
    # Prior access tokens stay valid until their own expiry.
    assert _me(emulator, first["access_token"]).status_code == 200
    assert _refresh(emulator, client, first["refresh_token"]).status_code == 200
    calls = emulator.calls(path="/v1/access_token", method="POST")
    assert [c["grant_type"] for c in calls] == [
        "authorization_code",
        "refresh_token",
        "refresh_token",
    ]


def test_refresh_with_rotation_invalidates_old_token(
    emulator: EmulatorHandle, client: tuple[str, str]
) -> None:
    emulator.settings(rotate_refresh_tokens=True)
    first = _grant(emulator, client)
    second = _refresh(emulator, client, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    _assert_oauth_error(_refresh(emulator, client, first["refresh_token"]), "invalid_grant")
    third = _refresh(emulator, client, second["refresh_token"])
    assert third.status_code == 200


def test_refresh_lifetime_reset_setting(emulator: EmulatorHandle, client: tuple[str, str]) -> None:
    emulator.settings(reset_refresh_lifetime=True, refresh_token_lifetime=1000)
    first = _grant(emulator, client)
    emulator.advance_clock(400)
    second = _refresh(emulator, client, first["refresh_token"]).json()
    assert second["refresh_token_expires_in"] in (999, 1000)
    emulator.advance_clock(1001)
    _assert_oauth_error(_refresh(emulator, client, second["refresh_token"]), "invalid_grant")


def test_revoked_grant_gives_invalid_grant_and_401(
    emulator: EmulatorHandle, client: tuple[str, str]
) -> None:
    tokens = _grant(emulator, client)
    assert emulator.revoke(email="alice@example.com", client_id=client[0]) == 1
    _assert_oauth_error(_refresh(emulator, client, tokens["refresh_token"]), "invalid_grant")
    assert _me(emulator, tokens["access_token"]).status_code == 401


def test_expired_access_token_gets_webex_401(
    emulator: EmulatorHandle, client: tuple[str, str]
) -> None:
    emulator.settings(access_token_lifetime=60)
    tokens = _grant(emulator, client)
    assert tokens["expires_in"] == 60
    assert _me(emulator, tokens["access_token"]).status_code == 200
    emulator.advance_clock(61)
    expired = _me(emulator, tokens["access_token"])
    assert expired.status_code == 401
    assert expired.headers["trackingid"]
    body = expired.json()
    message = "The request requires a valid access token set in the Authorization request header."
    assert body == {
        "message": message,
        "errors": [{"description": message}],
        "trackingId": body["trackingId"],
    }
    for path in ("rooms", "messages?roomId=x", "webhooks", "memberships", "people/nobody"):
        response = requests.get(
            emulator.api_url + path,
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            timeout=10,
        )
        assert response.status_code == 401, path
    refreshed = _refresh(emulator, client, tokens["refresh_token"]).json()
    assert _me(emulator, refreshed["access_token"]).status_code == 200


def test_sdk_access_tokens_api_works_against_the_emulator(
    emulator: EmulatorHandle, client: tuple[str, str]
) -> None:
    emulator.settings(auto_approve="bob@example.com")
    query = _query(_authorize(emulator, client[0]))
    api = WebexAPI(access_token="unused", base_url=emulator.api_url)
    token = api.access_tokens.get(client[0], client[1], query["code"], REDIRECT)
    assert token.expires_in == 1209599
    again = api.access_tokens.refresh(client[0], client[1], token.refresh_token)
    me = WebexAPI(access_token=again.access_token, base_url=emulator.api_url).people.me()
    assert me.emails == ["bob@example.com"]


def test_basic_client_auth_only_when_enabled(
    emulator: EmulatorHandle, client: tuple[str, str]
) -> None:
    tokens = _grant(emulator, client)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    url = emulator.api_url + "access_token"
    refused = requests.post(url, data=form, auth=client, timeout=10)
    _assert_oauth_error(refused, "invalid_client")
    emulator.settings(accept_basic_auth=True)
    assert requests.post(url, data=form, auth=client, timeout=10).status_code == 200
