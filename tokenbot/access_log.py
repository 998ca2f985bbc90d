"""One access-log line per HTTP request, through the redacting log handler.

Waitress writes no access log, so the web server's WSGI app is wrapped here. The line names
the method, the path *without* its query string (the OAuth callback's carries the code and the
state), the status, the body size, the time taken and the client address as waitress saw it
(after any trusted proxy). Records go to the `tokenbot.access` logger, so they take the
configured level and format (text or JSON) and pass the secret redactor like every other line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from types import TracebackType
from typing import Any

__all__ = ["AccessLog"]

log = logging.getLogger("tokenbot.access")

StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


class AccessLog:
    """WSGI middleware: log each request when the server closes its answer (PEP 3333)."""

    def __init__(self, app: WSGIApp, *, clock: Callable[[], float] = time.perf_counter) -> None:
        self._app = app
        self._clock = clock

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = self._clock()
        status = ["-"]

        def recording_start(
            status_line: str, headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            status[0] = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        def done(sent: int) -> None:
            path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            method = environ.get("REQUEST_METHOD", "-")
            client = environ.get("REMOTE_ADDR", "-")
            took_ms = (self._clock() - started) * 1000
            log.info(
                '%s "%s %s" %s %d %.1fms',
                client,
                method,
                path,
                status[0],
                sent,
                took_ms,
                extra={"http": {"method": method, "path": path, "status": status[0]}},
            )

        try:
            body = self._app(environ, recording_start)
        except BaseException:
            status[0] = "500"
            done(0)
            raise
        return _Counted(body, done)


class _Counted:
    """The app's body, counted as it is sent; `done(bytes)` runs once, at close."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self._body = body
        self._done = done
        self._sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._done(self._sent)
