"""Panel hardening: headers on every response, CSRF on every POST, cookies, sessions, redirects."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.plugins.panel import ADMIN_PASSWORD
from tests.plugins.panel import PanelClient
from tests.plugins.panel import connect_account
from tests.plugins.panel import make_settings
from tokenbot.admin import create_app

# Every state-changing route, reviewed: a new one must be added here on purpose.
EXPECTED_POST_ENDPOINTS = {
    "auth.login",
    "auth.logout",
    "connect.start",
    "dashboard.refresh",
    "dashboard.test",
    "dashboard.make_bot",
    "dashboard.disconnect",
    "api_tokens.create",
    "api_tokens.revoke",
    "api.access_token",
    "notify.send_test",
    "relink.mint",
    "relink.start",  # no panel session: the single-use link is the permission
}
# Authenticated by bearer header only, never by the session cookie, so a cross-site form
# cannot use it; tests/admin/test_broker.py shows that a session alone gets 401 there.
CSRF_EXEMPT_ENDPOINTS = {"api.access_token"}


def _url_for_rule(rule: Any) -> str:
    path = rule.rule
    for argument in rule.arguments:
        path = re.sub(rf"<(?:[a-z]+:)?{argument}>", "1", path)
    return path


def _all_get_urls(app: Flask) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint != "static":
            urls.append(_url_for_rule(rule))
    return sorted(set(urls)) + ["/static/panel.css", "/no-such-page", "/api/v1/no-such-thing"]


def assert_security_headers(response: Any) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") in {"same-origin", "no-referrer"}


def test_every_post_route_is_known(app: Flask) -> None:
    posts = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and rule.endpoint != "static"
    }
    assert posts == EXPECTED_POST_ENDPOINTS


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "admin"])
def test_every_response_carries_the_security_headers(
    app: Flask, client: PanelClient, logged_in: bool
) -> None:
    if logged_in:
        assert client.login().status_code == 303
    seen = set()
    for url in _all_get_urls(app):
        response = client.client.get(url)
        response.close()  # static files are streamed from disk
        seen.add(response.status_code)
        assert_security_headers(response)
        if not url.startswith("/static/"):
            assert response.headers.get("Cache-Control") == "no-store", url
    # The sweep covered successes, redirects and errors alike.
    assert {200, 302, 404} <= seen


def test_every_post_without_csrf_token_is_refused(app: Flask, admin_client: PanelClient) -> None:
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint in CSRF_EXEMPT_ENDPOINTS:
            continue
        response = admin_client.client.post(_url_for_rule(rule), data={"next": "/"})
        assert response.status_code == 400, rule.endpoint
        assert "did not come from this panel" in response.get_data(as_text=True)
        assert_security_headers(response)
    # And with a forged token.
    forged = admin_client.client.post("/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    # The session survived all of that: nothing changed state.
    assert admin_client.get("/").status_code == 200


def test_csrf_failure_answers_json_on_the_api(admin_client: PanelClient) -> None:
    response = admin_client.client.post("/api/v1/accounts")
    assert response.status_code in {400, 405}
    assert response.is_json
    assert_security_headers(response)


def test_500_page_leaks_nothing_and_has_headers(
    panel_settings: Any, panel_runtime: Any, panel_admins: Any
) -> None:
    app = create_app(panel_settings, panel_runtime, admins=panel_admins)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret-detail-xyz in /srv/tokenbot/whatever.py")

    response = app.test_client().get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret-detail-xyz" not in body and "Traceback" not in body and ".py" not in body
    assert re.search(r"Error id <code>[0-9a-f]{8}</code>", body)
    assert_security_headers(response)
    api = app.test_client().get("/boom", headers={"Accept": "application/json"})
    assert api.status_code == 500 and api.json["error"]["code"] == "internal_error"


def test_404_page_is_generic(client: PanelClient) -> None:
    response = client.get("/nothing/<script>alert(1)</script>")
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "There is nothing here." in body and "<script>alert" not in body
    api = client.client.get("/api/v1/nothing")
    assert api.status_code == 404 and api.json == {
        "error": {"code": "not_found", "message": "There is nothing here."}
    }


def test_cookie_flags_on_loopback_http(client: PanelClient) -> None:
    response = client.login()
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("tokenbot_session="))
    parts = {p.strip().split("=")[0].lower() for p in session_cookie.split(";")}
    assert {"httponly", "path"} <= parts
    assert "samesite=lax" in session_cookie.lower()
    assert "domain" not in parts
    # Plain HTTP on loopback: a Secure cookie would never come back, so it is not set.
    assert "secure" not in parts


def test_cookie_is_secure_and_host_prefixed_behind_https(
    emulator: Any, panel_integration: tuple[str, str], panel_runtime: Any, tmp_path: Any
) -> None:
    settings = make_settings(
        emulator_url=emulator.url,
        client_id=panel_integration[0],
        client_secret=panel_integration[1],
        database_url=f"sqlite:///{tmp_path / 'https.sqlite3'}",
        public_url="https://panel.example.com",
    )
    app = create_app(settings, panel_runtime)
    client = app.test_client()
    response = client.get("/login", base_url="https://panel.example.com")
    cookie = response.headers.get("Set-Cookie", "")
    assert cookie.startswith("__Host-tokenbot=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_cross_origin_post_over_https_is_refused(
    emulator: Any, panel_integration: tuple[str, str], panel_runtime: Any, panel_admins: Any
) -> None:
    settings = make_settings(
        emulator_url=emulator.url,
        client_id=panel_integration[0],
        client_secret=panel_integration[1],
        database_url=panel_runtime.settings.database.url,
        public_url="https://panel.example.com",
    )
    app = create_app(settings, panel_runtime, admins=panel_admins)
    client = app.test_client()
    base = "https://panel.example.com"
    page = client.get("/login", base_url=base).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"csrf_token": token, "username": "admin", "password": ADMIN_PASSWORD}
    foreign = client.post(
        "/login", data=form, base_url=base, headers={"Referer": "https://evil.example/x"}
    )
    assert foreign.status_code == 400
    same = client.post("/login", data=form, base_url=base, headers={"Referer": base + "/login"})
    assert same.status_code == 303


def test_the_panel_signs_with_the_validated_secret_key(
    panel_settings: Any, panel_runtime: Any
) -> None:
    # A weak key never gets this far: core.config refuses it (tests/core/test_config.py,
    # test_insecure_settings_are_refused_in_production), so the app only uses it.
    app = create_app(panel_settings, panel_runtime)
    assert app.config["SECRET_KEY"] == panel_settings.panel.secret_key.reveal()
    assert len(app.config["SECRET_KEY"]) >= 32


def test_login_starts_a_new_session(app: Flask, client: PanelClient) -> None:
    client.get("/login")
    before = client.cookie_value()
    assert before is not None  # the CSRF token made a pre-login session
    client.login()
    first = _decoded_session(app, client)
    assert client.cookie_value() != before and "sid" in first
    client.get("/")  # a logged-in page, for the new session's CSRF token
    client.post("/login", {"username": "admin", "password": ADMIN_PASSWORD})
    second = _decoded_session(app, client)
    assert second["sid"] != first["sid"]
    assert (
        app.extensions["tokenbot"].admins.resolve_session(
            first["sid"], idle_seconds=60, absolute_seconds=60
        )
        is None
    )


def test_logout_invalidates_the_session_on_the_server(client: PanelClient) -> None:
    client.login()
    assert client.get("/").status_code == 200
    stolen = client.cookie_value()
    assert client.post("/logout").status_code == 303
    assert client.get("/").status_code == 302
    client.client.set_cookie("tokenbot_session", stolen or "")
    replayed = client.client.get("/")
    assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]


def test_idle_timeout(client: PanelClient, panel_clock: Any) -> None:
    client.login()
    panel_clock.advance(29 * 60)
    assert client.get("/").status_code == 200
    panel_clock.advance(29 * 60)
    assert client.get("/").status_code == 200  # each request resets the idle timer
    panel_clock.advance(30 * 60 + 1)
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_absolute_timeout(client: PanelClient, panel_clock: Any) -> None:
    client.login()
    for _ in range(35):  # 35 x 20 min = 11 h 40 min, never idle
        panel_clock.advance(20 * 60)
        assert client.get("/").status_code == 200
    panel_clock.advance(20 * 60 + 1)
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/\r\nLocation: https://evil.example",
        "/\tevil",
        "",
    ],
)
def test_open_redirect_attempts_land_on_root(client: PanelClient, target: str) -> None:
    response = client.login(next=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_local_next_is_honoured(client: PanelClient) -> None:
    response = client.login(next="/accounts/7?tab=events")
    assert response.headers["Location"] == "/accounts/7?tab=events"


def test_pages_redirect_to_login_with_a_local_next(client: PanelClient) -> None:
    response = client.get("/accounts/3")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/accounts/3"


def test_wrong_password_and_unknown_user_look_the_same(client: PanelClient) -> None:
    def attempt(username: str) -> tuple[int, str]:
        response = client.login(username=username, password="not the password")
        # The form echoes the username back in its value attribute; nothing else may differ.
        body = re.sub(r'value="[^"]*"', "", response.get_data(as_text=True))
        return response.status_code, body

    assert attempt("admin") == attempt("nobody-here")
    assert attempt("admin")[0] == 401
    assert "Wrong username or password." in attempt("nobody-here")[1]


def test_logins_are_throttled_alike_for_known_and_unknown_users(client: PanelClient) -> None:
    statuses: dict[str, list[int]] = {}
    for username in ("admin", "ghost"):
        statuses[username] = [
            client.login(username=username, password="wrong guess").status_code for _ in range(11)
        ]
    assert statuses["admin"] == statuses["ghost"] == [401] * 10 + [429]
    throttled = client.login(username="admin", password=ADMIN_PASSWORD)
    assert throttled.status_code == 429  # even the right password waits
    assert int(throttled.headers["Retry-After"]) > 0
    assert "Too many failed logins" in throttled.get_data(as_text=True)


def test_throttle_ends_with_its_window(client: PanelClient, panel_clock: Any) -> None:
    for _ in range(10):
        client.login(username="admin", password="wrong guess")
    assert client.login().status_code == 429
    panel_clock.advance(15 * 60 + 1)
    assert client.login().status_code == 303


def _decoded_session(app: Flask, client: PanelClient) -> dict[str, Any]:
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return dict(serializer.loads(client.cookie_value()))


def test_session_cookie_holds_no_state_verifier_or_token(
    app: Flask, admin_client: PanelClient, emulator: Any
) -> None:
    # While a login is pending: the state is in the authorize URL, not in the cookie.
    admin_client.get("/")
    started = admin_client.post("/connect")
    state = re.search(r"[?&]state=([^&]+)", started.headers["Location"]).group(1)  # type: ignore[union-attr]
    pending = _decoded_session(app, admin_client)
    assert set(pending) <= {"sid", "csrf_token", "ob", "_flashes"}
    assert state not in repr(pending) and state not in (admin_client.cookie_value() or "")

    account_id, _ = connect_account(admin_client, emulator)
    runtime = app.extensions["tokenbot"].runtime
    access = runtime.store.access_grant(account_id).access_token
    decoded = _decoded_session(app, admin_client)
    assert set(decoded) <= {"sid", "csrf_token", "ob", "_flashes"}
    raw = admin_client.cookie_value() or ""
    for secret in (access, state):
        assert secret not in raw and secret not in repr(decoded)
    # No value in the cookie is the verifier either: each one is accounted for.
    assert len(decoded["sid"]) == 43 and len(decoded["ob"]) == 43
