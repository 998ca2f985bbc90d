"""A real browser on the emulator's sandbox chat page: the help card, a button, a file download.

Headless Chromium (Debian's /usr/bin/chromium) via Playwright; the bot runs with webhook intake
on a loopback port (card presses reach a bot only by webhook). Skipped without Chromium or
Playwright locally, failed under CI (as the panel's browser test).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.e2e.test_panel_browser import CHROMIUM
from tests.e2e.test_panel_browser import CHROMIUM_ARGS
from tests.e2e.test_panel_browser import TIMEOUT_MS
from tests.e2e.test_panel_browser import _browser_or_skip
from tests.plugins.bot import BotEnv


def test_help_card_button_and_file_download_in_the_chat_page(
    bot_env_factory: Callable[..., BotEnv], tmp_path: Path
) -> None:
    sync_playwright = _browser_or_skip()
    from playwright.sync_api import expect

    env = bot_env_factory("webhook")
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(accept_downloads=True)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{env.emulator.url}/_emulator/spaces")
            page.select_option("#person", "dave@example.com")
            page.locator("#rooms li", has_text="Project X").click()
            page.fill("#text", "/help")
            page.locator("#send button").click()
            card = page.locator("#messages .card")
            expect(card).to_have_count(1)
            buttons = card.locator(".card-actions button")
            expect(buttons).to_have_text(["/help", "/ping", "/whoami"])
            buttons.filter(has_text="/ping").click()
            expect(page.locator("#messages li", has_text="pong")).to_have_count(1)

            # bob sends a file to /echo (from the page's file picker); the answer downloads.
            data = bytes(range(256)) * 40
            upload = tmp_path / "notes.bin"
            upload.write_bytes(data)
            page.select_option("#person", "bob@example.com")
            page.locator("#rooms li", has_text="Team Space").click()
            page.fill("#text", "/echo")
            page.set_input_files("#file", str(upload))
            page.locator("#send button").click()
            links = page.locator("#messages a.file", has_text="notes.bin")
            expect(links).to_have_count(2)  # bob's upload and the bot's echo
            with page.expect_download() as info:
                links.nth(1).click()
            download = info.value
            assert download.suggested_filename == "notes.bin"
            assert Path(download.path()).read_bytes() == data
            assert problems == []
        finally:
            browser.close()
