"""Run the emulator on a real port, in a thread: for tests, the CLI and the demo."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

from tokenbot.emulator.app import create_app
from tokenbot.emulator.delivery import DeliveryWorker
from tokenbot.emulator.state import EmulatorState

logger = logging.getLogger("emulator")


class _QuietHandler(WSGIRequestHandler):
    """Log no request lines: URLs of /v1/authorize carry state and PKCE values."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip the access log (the call log covers it)."""

    def log(self, type: str, message: str, *args: Any) -> None:
        """Route server errors to the `emulator` logger."""
        logger.warning("http server %s: %s", type, message % args if args else message)


class EmulatorServer:
    """Serve the emulator on host:port from a background thread.

    Args:
        host: the address to bind (keep it on loopback).
        port: the port; 0 picks a free one (read it back from `.port` after start).
        seed: a seed file path, a seed dict, or None for the built-in sandbox.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: str | Path | dict[str, Any] | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.state = EmulatorState(seed)
        self.app = create_app(self.state)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._worker: DeliveryWorker | None = None
        self._lock = threading.Lock()

    def start(self) -> EmulatorServer:
        """Bind, start serving and the delivery worker; return once listening."""
        with self._lock:
            if self._server is not None:
                return self
            self.state.halt.clear()
            server = make_server(
                self.host,
                self._requested_port,
                self.app,
                threaded=True,
                request_handler=_QuietHandler,
            )
            worker = DeliveryWorker(self.state)
            self.state.delivery = worker
            worker.start()
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"emulator-http-{server.server_port}",
                daemon=True,
            )
            thread.start()
            self._server, self._thread, self._worker = server, thread, worker
            return self

    def stop(self) -> None:
        """Stop serving and delivering, and wait for the threads (idempotent)."""
        with self._lock:
            server, thread, worker = self._server, self._thread, self._worker
            self._server = self._thread = self._worker = None
        if server is None:
            return
        self.state.halt.set()
        if self.state.mercury is not None:
            self.state.mercury.close_all(1001, "going away")
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(10)
        if worker is not None:
            worker.stop()
        self.state.delivery = None

    @property
    def port(self) -> int:
        """Return the bound port (after start)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        """Return the base URL, e.g. `http://127.0.0.1:2001`."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Return the Webex API base URL, ending in `/v1/` as the SDK needs."""
        return f"{self.url}/v1/"

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
