"""A webhook receiver for tests: a small http.server on loopback that records what it gets."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from types import TracebackType


@dataclass
class Delivery:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Record POSTs and answer them with `status` (changeable while running)."""

    def __init__(
        self, status: int = 200, delay: float = 0.0, gate: threading.Event | None = None
    ) -> None:
        self.status = status
        self.delay = delay
        self.gate = gate  # when given, each request waits for it (bounded) before answering
        self.started = 0  # requests that arrived, answered or not
        self.deliveries: list[Delivery] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._cond:
                    receiver.started += 1
                    receiver._cond.notify_all()
                if receiver.gate is not None:
                    receiver.gate.wait(30)
                if receiver.delay:
                    time.sleep(receiver.delay)  # simulates a slow receiver, not a wait
                with receiver._cond:
                    receiver.deliveries.append(
                        Delivery(self.path, {k: v for k, v in self.headers.items()}, body)
                    )
                    receiver._cond.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Stay quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """Return the receiver's URL."""
        return f"http://127.0.0.1:{self._server.server_port}/hook"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        """Wait until at least `count` deliveries arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.deliveries) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} deliveries, got {len(self.deliveries)}")
                self._cond.wait(remaining)
            return list(self.deliveries)

    def wait_started(self, count: int, timeout: float = 10.0) -> None:
        """Wait until at least `count` requests arrived (answered or not)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.started < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} requests, got {self.started}")
                self._cond.wait(remaining)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
