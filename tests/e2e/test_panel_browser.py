"""A real browser against a live panel and the emulator: log in, connect, refresh, disconnect.

Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright's Python package; the panel
runs in a real WSGI server on a loopback port; the emulator is the session's. The test saves
screenshots of the dashboard to ``$TOKENBOT_SCREENSHOTS`` (default: the test's tmp folder); one
of them is the README's picture; with ``$TOKENBOT_DOCS_SHOTS`` set (to ``docs``) the stale-banner
test copies its light and dark screenshots of the dashboard and an account page there.

Without Chromium or Playwright the test is skipped locally, and fails under CI (CI=true).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

from tests.plugins.panel import ADMIN_PASSWORD
from tests.plugins.panel import ADMIN_USERNAME
from tests.plugins.panel import CHEAP_HASHER
from tests.plugins.panel import PANEL_SCOPES
from tests.plugins.panel import make_settings
from tokenbot.core.admins import AdminStore
from tokenbot.core.clock import SystemClock
from tokenbot.core.models import EventKind
from tokenbot.core.runtime import build_runtime

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # The browser is outside the test's socket guard: resolve nothing but loopback.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
TIMEOUT_MS = 15_000


def _browser_or_skip() -> Any:
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            reason = "the playwright package is not installed"
    if reason:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI must run the browser test, but {reason}")
        pytest.skip(reason)
    return sync_playwright


class _OneShot(WSGIRequestHandler):
    """One request per connection (HTTP/1.0): a stopped server must look stopped to the browser.

    With keep-alive, the browser's open connections would go on being served by their threads
    after the listening socket closed.
    """

    protocol_version = "HTTP/1.0"


class LivePanel:
    """The panel in a real WSGI server on a fixed loopback port, which a test may stop and start."""

    def __init__(self, wsgi: Any) -> None:
        self._wsgi = wsgi
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.runtime: Any = None
        self.integration: tuple[str, str, str] = ("", "", "")
        self.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve (again) on the same port."""
        self._server = make_server(
            "127.0.0.1", self.port, self._wsgi, threaded=True, request_handler=_OneShot
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="live-panel", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the port: the browser's next request is refused."""
        if self._server is None:
            return
        self._server.shutdown()
        assert self._thread is not None
        self._thread.join(timeout=10)
        self._server.server_close()
        self._server = None


@pytest.fixture
def live_panel(emulator: Any, tmp_path: Path) -> Iterator[LivePanel]:
    """Serve the panel on a free loopback port with a real WSGI server."""
    holder: dict[str, Any] = {}

    def wsgi(environ: Any, start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    live = LivePanel(wsgi)
    url = live.url
    client_id, secret = emulator.register_integration([f"{url}/oauth/callback"], list(PANEL_SCOPES))
    settings = make_settings(
        emulator_url=emulator.url,
        client_id=client_id,
        client_secret=secret,
        database_url=f"sqlite:///{tmp_path / 'live.sqlite3'}",
        redirect_uri=f"{url}/oauth/callback",
        public_url=url,
    )
    runtime = build_runtime(settings, clock=SystemClock())
    live.runtime = runtime
    live.integration = (client_id, secret, f"{url}/oauth/callback")
    admins = AdminStore(runtime.database, clock=runtime.clock, hasher=CHEAP_HASHER)
    admins.create_admin(ADMIN_USERNAME, ADMIN_PASSWORD)
    from tokenbot.admin import create_app

    status = {
        "intake_mode": "polling",
        "webhook_registered": False,
        "commands_handled": 12,
        "errors": 0,
    }
    holder["app"] = create_app(
        settings, runtime, admins=admins, bot_status=lambda: status, scheduler_alive=lambda: True
    )
    try:
        yield live
    finally:
        live.stop()
        runtime.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("TOKENBOT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _connect(page: Any, emulator: Any, email: str) -> None:
    """Click Connect Webex and pick `email` on the emulator's consent page."""
    from playwright.sync_api import expect

    emulator.settings(auto_approve=None)
    page.get_by_role("button", name="Connect Webex").first.click()
    page.wait_for_url(f"{emulator.url}/v1/authorize*")
    expect(page.get_by_text("wants to access your Webex account")).to_be_visible()
    page.locator(f'input[name="email"][value="{email}"]').check()
    page.get_by_role("button", name="Accept").click()
    page.wait_for_url("**/accounts/*")


def test_log_in_connect_refresh_disconnect(
    live_panel: LivePanel, emulator: Any, shots: Path
) -> None:
    sync_playwright = _browser_or_skip()
    url, runtime = live_panel.url, live_panel.runtime
    from playwright.sync_api import expect

    # Every expectation may wait as long as the actions do (a busy CI machine is slow).
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(
                viewport={"width": 1440, "height": 900},
                timezone_id="Europe/Zurich",
                locale="en-US",
            )
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            problems: list[str] = []
            # Script errors and CSP violations anywhere; failed requests to the panel only (the
            # emulator's pages are not ours to judge).
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on(
                "console",
                lambda m: (
                    problems.append(m.text)
                    if m.type == "error" and "Failed to load resource" not in m.text
                    else None
                ),
            )
            page.on(
                "response",
                lambda r: (
                    problems.append(f"{r.status} {r.url}")
                    if r.url.startswith(url) and r.status >= 400
                    else None
                ),
            )

            # Log in.
            page.goto(f"{url}/")
            page.wait_for_url("**/login?next=/")
            page.get_by_label("Username").fill(ADMIN_USERNAME)
            page.get_by_label("Password").fill(ADMIN_PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{url}/")
            expect(page.get_by_text("No Webex account is connected yet.")).to_be_visible()

            # Connect through the emulator's consent page: the account is healthy.
            _connect(page, emulator, "alice@example.com")
            expect(page.get_by_text("Connected Alice Andersen")).to_be_visible()
            expect(page.locator("h1 .badge")).to_have_text("healthy")
            page.get_by_role("link", name="← All accounts").click()
            _connect(page, emulator, "bob@example.com")
            page.get_by_role("link", name="← All accounts").click()

            row = page.locator("tr", has_text="alice@example.com")
            expect(row.locator('[data-field="health"]')).to_have_text("healthy")
            # Times are shown in the viewer's zone (Europe/Zurich here), not UTC.
            expect(page.locator("#time-zone")).to_contain_text("Europe/Zurich")
            expires = row.locator('[data-token="access"] .exact time')
            expect(expires).to_have_text(_zurich(expires.get_attribute("datetime")))
            expect(row.locator('[data-token="access"] .left')).to_contain_text("13 d")
            page.screenshot(path=str(shots / "dashboard-connected.png"), full_page=True)

            # Refresh now: the last-refresh time changes from "never" to a time.
            last = row.locator('[data-field="last_refreshed_at"]')
            expect(last).to_have_text("never")
            row.get_by_role("button", name="Refresh now").click()
            expect(page.get_by_text("Tokens refreshed.")).to_be_visible()
            row = page.locator("tr", has_text="alice@example.com")
            last = row.locator('[data-field="last_refreshed_at"] time')
            expect(last).to_have_attribute("datetime", _iso_pattern())
            expect(last).to_have_text(_zurich(last.get_attribute("datetime")))
            page.screenshot(path=str(shots / "dashboard-refreshed.png"), full_page=True)

            # The status updates live: a change made elsewhere shows without a reload.
            page.evaluate("window.notReloaded = true")
            bob = runtime.store.get_by_person(emulator.person("bob@example.com")["id"])
            runtime.store.mark_needs_reauth(bob.id, reason="revoked at Webex (test)")
            bob_row = page.locator("tr", has_text="bob@example.com")
            # It arrives with the next poll (every 5 s): wait longer than that.
            expect(bob_row.locator('[data-field="health"]')).to_have_text(
                "needs re-login", timeout=TIMEOUT_MS
            )
            expect(page.locator('[data-count="needs_reauth"]')).to_have_text(
                "1", timeout=TIMEOUT_MS
            )
            assert page.evaluate("window.notReloaded") is True
            page.screenshot(path=str(shots / "dashboard-live.png"), full_page=True)

            # Disconnect, with confirmation.
            row.get_by_role("link", name="Details").click()
            page.get_by_role("link", name="Disconnect…").click()
            expect(page.get_by_text("Disconnect Alice Andersen?")).to_be_visible()
            page.get_by_role("button", name="Yes, disconnect").click()
            expect(page.locator("h1 .badge")).to_have_text("disconnected")
            expect(page.get_by_text("its tokens are wiped")).to_be_visible()
            page.get_by_role("link", name="← All accounts").click()
            row = page.locator("tr", has_text="alice@example.com")
            expect(row.locator('[data-field="health"]')).to_have_text("disconnected")
            page.screenshot(path=str(shots / "dashboard-disconnected.png"), full_page=True)
            assert problems == []
        finally:
            browser.close()
            expect.set_options(timeout=None)
    assert (shots / "dashboard-live.png").stat().st_size > 10_000
    keep = os.environ.get("TOKENBOT_README_SHOT")
    if keep:
        shutil.copyfile(shots / "dashboard-live.png", keep)


def _zurich(iso: str | None) -> str:
    """Format a UTC ISO time as the panel shows it to an en-US viewer in Zurich."""
    assert iso
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(
        ZoneInfo("Europe/Zurich")
    )
    year = f", {moment.year}" if moment.year != datetime.now().year else ""
    return f"{moment:%b} {moment.day}{year}, {moment:%I:%M:%S %p}"


def _iso_pattern() -> Any:
    import re

    return re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _watch(page: Any, url: str, problems: list[str]) -> None:
    """Collect script errors, CSP violations and failed requests to the panel on `page`."""
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.url.startswith(url) and r.status >= 400
            else None
        ),
    )


def _log_in(page: Any, url: str) -> None:
    page.goto(f"{url}/")
    page.get_by_label("Username").fill(ADMIN_USERNAME)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")


def _add_account(runtime: Any, email: str, name: str) -> Any:
    """Store a connected account directly, as another process's Connect would."""
    from tokenbot.core.tokens import Identity
    from tokenbot.core.tokens import TokenSet

    identity = Identity(person_id=f"person-{email}", email=email, display_name=name)
    tokens = TokenSet(
        access_token=f"access-{email}",
        expires_in=1_209_599,
        refresh_token=f"refresh-{email}",
        refresh_token_expires_in=7_775_999,
    )
    return runtime.store.save_connected(
        identity, list(PANEL_SCOPES), tokens, sent_at=runtime.clock.now()
    )


def _no_sideways_scroll(page: Any) -> None:
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


def test_stale_banner_live_parts_narrow_and_dark(
    live_panel: LivePanel, emulator: Any, shots: Path
) -> None:
    sync_playwright = _browser_or_skip()
    url, runtime = live_panel.url, live_panel.runtime
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, timezone_id="Europe/Zurich"
            )
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            problems: list[str] = []
            _watch(page, url, problems)
            _log_in(page, url)
            _connect(page, emulator, "alice@example.com")
            page.get_by_role("link", name="← All accounts").click()
            alice = page.locator("tr", has_text="alice@example.com")
            expect(alice.locator('[data-field="health"]')).to_have_text("healthy")
            page.evaluate("window.notReloaded = true")
            stale = page.locator("#stale")
            expect(stale).to_be_hidden()

            # The server stops: within a poll the page says it is no longer live.
            live_panel.stop()
            expect(stale).to_be_visible()
            expect(stale).to_contain_text("Not live")
            expect(stale).to_contain_text("cannot reach the server")
            expect(stale).to_contain_text(re.compile(r"last update \d+ s ago"))

            # Meanwhile the state changes: alice needs re-login, carol is connected.
            who = runtime.store.get_by_person(emulator.person("alice@example.com")["id"])
            runtime.store.mark_needs_reauth(who.id, reason="revoked at Webex (test)")
            _add_account(runtime, "carol@example.com", "Carol Chen")

            # It comes back: the banner goes, and the page matches the server again: the
            # badge, the new account's row, the Reconnect button in place of Refresh now.
            live_panel.start()
            expect(stale).to_be_hidden(timeout=40_000)
            expect(alice.locator('[data-field="health"]')).to_have_text("needs re-login")
            expect(alice.get_by_role("button", name="Reconnect")).to_be_visible()
            expect(alice.get_by_role("button", name="Refresh now")).to_have_count(0)
            carol = page.locator("tr", has_text="carol@example.com")
            expect(carol.locator('[data-field="health"]')).to_have_text("healthy")
            expect(page.locator('[data-count="needs_reauth"]')).to_have_text("1")
            assert page.evaluate("window.notReloaded") is True

            # The dashboard's charts show what the bot and the schedule did (live, too).
            from tokenbot.core.botstate import BotStateStore

            BotStateStore(runtime.database, runtime.clock).add_counters(
                {"commands_total": 4, "errors": 1}
            )
            expect(page.locator("#activity-desc")).to_contain_text("4 commands handled, 1 error")
            expect(page.locator("#activity rect.commands")).to_have_count(1)
            expect(page.locator("#activity rect.errors")).to_have_count(1)
            expect(page.locator("#schedule")).to_be_visible()

            # The account page's History is live too.
            carol.get_by_role("link", name="Details").click()
            page.evaluate("window.notReloaded = true")
            history = page.locator("table.events tbody tr")
            expect(history).to_have_count(1)
            carol_id = runtime.store.get_by_person("person-carol@example.com").id
            runtime.store.mark_needs_reauth(carol_id, reason="revoked at Webex (test)")
            expect(history.first).to_contain_text("needs re-login")
            expect(page.locator("h1 .badge")).to_have_text("needs re-login")
            # The timeline marks the connect and the failure the test made, and says so.
            runtime.store.record_event(carol_id, EventKind.REFRESHED, detail="test")
            expect(page.locator('#timeline [data-kind="connected"]')).to_have_count(1)
            expect(page.locator('#timeline [data-kind="needs_reauth"]')).to_have_count(1)
            expect(page.locator('#timeline [data-kind="refreshed"]')).to_have_count(1)
            expect(page.locator("#timeline-desc")).to_contain_text(
                "1 refresh, 1 failure, 1 connect or reconnect"
            )
            assert page.evaluate("window.notReloaded") is True
            assert problems == [], problems
            state = context.storage_state()
            context.close()
            # A healthy account with some history, for the pictures.
            dana = _add_account(runtime, "dana@example.com", "Dana Diaz")
            for kind in (EventKind.REFRESHED, EventKind.REFRESH_FAILED, EventKind.REFRESHED):
                runtime.store.record_event(dana.id, kind, detail="for the screenshot")

            # Narrow (375 px) and dark: nothing scrolls sideways, status, lifetimes and the
            # actions are on screen, and the dark palette is in use.
            for width in (320, 414):  # the rest of the phone range, light only
                phone = browser.new_context(
                    viewport={"width": width, "height": 800}, storage_state=state
                )
                tiny = phone.new_page()
                _watch(tiny, url, problems)
                for path in ("/", f"/accounts/{carol_id}"):
                    tiny.goto(f"{url}{path}")
                    _no_sideways_scroll(tiny)
                phone.close()
            for scheme in ("light", "dark"):
                narrow = browser.new_context(
                    viewport={"width": 375, "height": 812},
                    color_scheme=scheme,
                    storage_state=state,
                    timezone_id="Europe/Zurich",
                )
                small = narrow.new_page()
                _watch(small, url, problems)
                small.goto(f"{url}/")
                _no_sideways_scroll(small)
                row = small.locator("tr", has_text="carol@example.com")
                for part in (
                    row.locator('[data-field="health"]'),
                    row.locator('[data-token="access"]'),
                    row.locator('[data-token="refresh"]'),
                    row.get_by_role("button", name="Reconnect"),
                ):
                    expect(part).to_be_visible()
                    box = part.bounding_box()
                    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375, box
                background = small.evaluate(
                    "getComputedStyle(document.documentElement).backgroundColor"
                )
                assert background == (
                    "rgb(13, 17, 23)" if scheme == "dark" else "rgb(244, 246, 249)"
                )
                small.screenshot(path=str(shots / f"dashboard-375-{scheme}.png"), full_page=True)
                small.goto(f"{url}/accounts/{carol_id}")
                _no_sideways_scroll(small)
                expect(small.locator("h1 .badge")).to_be_visible()
                small.screenshot(path=str(shots / f"account-375-{scheme}.png"), full_page=True)
                narrow.close()

                wide = browser.new_context(
                    viewport={"width": 1280, "height": 900},
                    color_scheme=scheme,
                    storage_state=state,
                    timezone_id="Europe/Zurich",
                )
                big = wide.new_page()
                _watch(big, url, problems)
                big.goto(f"{url}/")
                big.screenshot(path=str(shots / f"dashboard-{scheme}.png"), full_page=True)
                big.goto(f"{url}/accounts/{dana.id}")
                expect(big.locator('#timeline [data-kind="refresh_failed"]')).to_have_count(1)
                big.screenshot(path=str(shots / f"account-{scheme}.png"), full_page=True)
                wide.close()
            assert problems == [], problems
        finally:
            browser.close()
            expect.set_options(timeout=None)
    docs = os.environ.get("TOKENBOT_DOCS_SHOTS")
    if docs:
        for name in ("dashboard-light", "dashboard-dark", "account-light", "account-dark"):
            shutil.copyfile(shots / f"{name}.png", Path(docs) / f"{name}.png")


def test_wrong_secret_and_missing_scope_connects_name_the_cause(
    live_panel: LivePanel, emulator: Any, shots: Path
) -> None:
    sync_playwright = _browser_or_skip()
    url = live_panel.url
    client_id, secret, redirect = live_panel.integration
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)

    def register(**changes: Any) -> None:
        body = {
            "client_id": client_id,
            "client_secret": secret,
            "redirect_uris": [redirect],
            "scopes": list(PANEL_SCOPES),
            **changes,
        }
        emulator.control("POST", "integrations", body)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            _log_in(page, url)
            emulator.settings(auto_approve="alice@example.com")

            # The secret was regenerated at "developer.webex.com": ours is now wrong.
            register(client_secret="f" * 64)
            page.get_by_role("button", name="Connect Webex").click()
            expect(page.get_by_role("heading", level=1)).to_have_text(
                "Webex did not accept the client secret"
            )
            expect(page.locator("#fix")).to_contain_text("Check WEBEX_CLIENT_SECRET")
            expect(page.locator("#webex-said")).to_contain_text("invalid_client")
            page.screenshot(path=str(shots / "connect-wrong-secret.png"))

            # The integration lacks a scope that webex.scopes asks for.
            register(scopes=[s for s in PANEL_SCOPES if s != "spark:messages_write"])
            page.get_by_role("button", name="Try again").click()
            expect(page.get_by_role("heading", level=1)).to_have_text(
                "The integration lacks a scope"
            )
            expect(page.locator("main")).to_contain_text(
                "Webex refused these scopes: spark:messages_write."
            )
            expect(page.locator("#fix")).to_contain_text("Tick these scopes on the integration")
            page.screenshot(path=str(shots / "connect-missing-scope.png"))

            # Fixed at Webex: the same button now connects.
            register()
            page.get_by_role("button", name="Try again").click()
            page.wait_for_url("**/accounts/*")
            expect(page.locator("h1 .badge")).to_have_text("healthy")
        finally:
            browser.close()
            expect.set_options(timeout=None)
