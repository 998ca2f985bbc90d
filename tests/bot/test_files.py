"""The file fetcher against the emulator: HEAD first, the scan ladder, caps, never off-host."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tests.plugins.emulator import EmulatorHandle
from tokenbot.bot.files import FileFetcher
from tokenbot.bot.files import FileRefused
from tokenbot.bot.files import safe_name
from tokenbot.emulator import SEED_CLIENT_ID


def _setup(emulator: EmulatorHandle, data: bytes = b"hello") -> tuple[str, str]:
    token = emulator.mint_token(SEED_CLIENT_ID, "alice@example.com", ["spark:all"])
    posted = emulator.control(
        "POST",
        "messages",
        {
            "roomId": emulator.room_id("Team Space"),
            "personEmail": "bob@example.com",
            "text": "file",
            "file": {
                "name": "a.txt",
                "contentType": "text/plain",
                "base64": base64.b64encode(data).decode(),
            },
        },
    )
    return str(posted["files"][0]), str(token["access_token"])


def _fetcher(emulator: EmulatorHandle, token: str, **kwargs: object) -> FileFetcher:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        emulator.advance_clock(seconds)  # the scan ends by the emulator's clock

    values: dict[str, object] = {
        "api_base_url": emulator.api_url,
        "token": lambda: token,
        "max_bytes": 1024,
        "sleep": sleep,
        "monotonic": lambda: float(sum(waits)),
    }
    values.update(kwargs)
    fetcher = FileFetcher(**values)  # type: ignore[arg-type]
    fetcher.waits = waits  # type: ignore[attr-defined]
    return fetcher


def _content_id(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_423_is_retried_within_the_budget(emulator: EmulatorHandle, tmp_path: Path) -> None:
    url, token = _setup(emulator)
    emulator.control(
        "POST", f"contents/{_content_id(url)}/scan", {"scan": "scanning", "clean_after": 7}
    )
    fetcher = _fetcher(emulator, token)
    got = fetcher.fetch(url, tmp_path)
    assert got.path.read_bytes() == b"hello" and got.name == "a.txt"
    assert got.content_type == "text/plain"
    assert fetcher.waits == [7.0]  # type: ignore[attr-defined]
    methods = [c["method"] for c in emulator.calls() if c["path"].startswith("/v1/contents/")]
    assert methods == ["HEAD", "GET", "GET"]


def test_423_beyond_the_budget_gives_up(emulator: EmulatorHandle, tmp_path: Path) -> None:
    url, token = _setup(emulator)
    emulator.control(
        "POST", f"contents/{_content_id(url)}/scan", {"scan": "scanning", "clean_after": 100}
    )
    with pytest.raises(FileRefused, match="still scanning"):
        _fetcher(emulator, token, budget_seconds=30).fetch(url, tmp_path)


def test_410_stops_and_428_is_refused_unless_allowed(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    url, token = _setup(emulator)
    emulator.control("POST", f"contents/{_content_id(url)}/scan", {"scan": "infected"})
    with pytest.raises(FileRefused, match="malware"):
        _fetcher(emulator, token).fetch(url, tmp_path)
    gets = [c for c in emulator.calls() if c["method"] == "GET" and "/contents/" in c["path"]]
    assert len(gets) == 1  # stopped at once
    emulator.control("POST", f"contents/{_content_id(url)}/scan", {"scan": "unscannable"})
    with pytest.raises(FileRefused, match="could not scan"):
        _fetcher(emulator, token).fetch(url, tmp_path)
    (tmp_path / "x").mkdir()
    got = _fetcher(emulator, token, allow_unscannable=True).fetch(url, tmp_path / "x")
    assert got.path.read_bytes() == b"hello"


def test_another_host_never_gets_the_token(emulator: EmulatorHandle, tmp_path: Path) -> None:
    url, token = _setup(emulator)
    fetcher = _fetcher(emulator, token)
    elsewhere = [
        url.replace("127.0.0.1", "localhost"),  # same server, another host name
        url.replace("/v1/contents/", "/v1/people/"),
        url + "?x=1",
        "https://evil.example.com/v1/contents/abc",
        url.replace("http://", "https://"),
    ]
    for bad in elsewhere:
        with pytest.raises(FileRefused, match="not stored on Webex"):
            fetcher.fetch(bad, tmp_path)
    assert [
        c for c in emulator.calls() if "/contents/" in c["path"] or "/people/" in c["path"]
    ] == []


class _Redirecting(BaseHTTPRequestHandler):
    """An "API host" whose GET redirects to a thief, which records what it receives."""

    seen: ClassVar[list[dict[str, str]]] = []
    thief = ""

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.send_header("Content-Disposition", 'attachment; filename="a.txt"')
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/steal"):
            type(self).seen.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"stole")
            return
        self.send_response(302)
        self.send_header("Location", type(self).thief)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def test_a_redirect_is_not_followed(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}/v1/"
        _Redirecting.thief = f"http://localhost:{server.server_port}/steal"
        fetcher = FileFetcher(api_base_url=base, token=lambda: "TOKEN", max_bytes=1024)
        with pytest.raises(FileRefused, match="redirect"):
            fetcher.fetch(base + "contents/abc", tmp_path)
        assert _Redirecting.seen == []
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def test_caps_on_type_and_on_the_streamed_size(emulator: EmulatorHandle, tmp_path: Path) -> None:
    url, token = _setup(emulator, b"y" * 2000)
    with pytest.raises(FileRefused, match="2000 bytes"):
        _fetcher(emulator, token).fetch(url, tmp_path)
    with pytest.raises(FileRefused, match="do not accept text/plain"):
        _fetcher(emulator, token, max_bytes=4096, types=("image/*",)).fetch(url, tmp_path)
    assert (
        _fetcher(emulator, token, max_bytes=4096, types=("text/*",)).fetch(url, tmp_path).size
        == 2000
    )


def test_safe_names() -> None:
    assert safe_name('attachment; filename="../../etc/passwd"') == "passwd"
    assert safe_name('attachment; filename="..\\\\x\\\\evil.bat"') == "evil.bat"
    assert safe_name("attachment") == "file"
    assert safe_name('attachment; filename=".hidden"') == "hidden"
