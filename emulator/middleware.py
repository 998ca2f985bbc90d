"""WSGI layer around the Flask app: injected faults and the call log.

Faults live here, outside Flask, because dropping a connection means closing the socket
without an answer, which Flask would turn into a 500.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from werkzeug.wrappers import Response

from tokenbot.emulator.calls import CALL_KEY
from tokenbot.emulator.errors import INVALID_TOKEN
from tokenbot.emulator.errors import JSON_TYPE
from tokenbot.emulator.faults import Fault
from tokenbot.emulator.ids import iso
from tokenbot.emulator.ids import tracking_id
from tokenbot.emulator.network import network_delay
from tokenbot.emulator.state import EmulatorState

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class EmulatorMiddleware:
    """Apply faults to, and log, every call outside /_emulator/.

    Args:
        app: the Flask WSGI app.
        state: the emulator state (faults, call log, clock, halt event).
    """

    def __init__(self, app: WSGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one call."""
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator"):
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        started = time.monotonic()
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "time": iso(self.state.clock.now()),
        }
        delay = self._latency()
        if delay:
            self.state.halt.wait(delay / 2)
        fault = self.state.faults.take(method, path)
        if fault is not None:
            entry["fault"] = True
            if fault.delay_seconds:
                self.state.halt.wait(fault.delay_seconds)
            if fault.drop:
                entry["status"] = None
                entry["dropped"] = True
                self._log(entry, started)
                _drop(environ)
            if fault.status is not None:
                response = _fault_response(fault)
                entry["status"] = fault.status
                self._log(entry, started)
                return response(environ, start_response)
        seen: dict[str, int] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        result = self.app(environ, capture)
        entry["status"] = seen.get("status")
        entry.update(environ.get(CALL_KEY, {}))
        self._log(entry, started)
        if delay:
            # The answer's way back: the server sends it only once this returns.
            self.state.halt.wait(delay / 2)
        return result

    def _latency(self) -> float:
        """Return this call's simulated network time in seconds (setting `latency_ms`)."""
        settings = self.state.settings
        return network_delay(settings.latency_ms, settings.latency_jitter_ms)

    def _log(self, entry: dict[str, Any], started: float) -> None:
        entry["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
        self.state.calls.record(entry)


def _drop(environ: dict[str, Any]) -> None:
    """Close the connection without a response (the server treats it as a dropped client)."""
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionAbortedError("emulator fault: connection dropped")


def _fault_response(fault: Fault) -> Response:
    status = fault.status or 500
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Injected fault"
    message = INVALID_TOKEN if status == 401 else f"{phrase} (injected by the emulator)."
    tid = tracking_id()
    body = json.dumps({"message": message, "errors": [{"description": message}], "trackingId": tid})
    response = Response(body, status=status, content_type=JSON_TYPE)
    response.headers["trackingid"] = tid
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    return response
