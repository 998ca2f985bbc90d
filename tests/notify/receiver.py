"""A Standard Webhooks receiver on loopback, for the notification tests.

It verifies every delivery with the independent `standardwebhooks` package (not our signing
code), records what it accepted, and can be "down" (answers 503) or hold a request until told.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Received:
    """One delivery the receiver accepted."""

    message_id: str
    type: str
    data: dict[str, Any]
    body: dict[str, Any]
    headers: dict[str, str]


class Receiver:
    """Run the receiver on 127.0.0.1 (a free port) until `close()`.

    Args:
        secret: The ``whsec_...`` secret deliveries must be signed with.
    """

    def __init__(self, secret: str) -> None:
        self.verifier = Webhook(secret)
        self.up = True
        self.received: list[Received] = []
        self.refused = 0
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        self.hold: threading.Event | None = None  # when set to an Event, requests wait on it
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                if not receiver.up:
                    with receiver.lock:
                        receiver.refused += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                try:
                    body = receiver.verifier.verify(raw, headers)
                except Exception as exc:  # the test reads `bad` to see why
                    with receiver.lock:
                        receiver.bad.append(f"{type(exc).__name__}: {exc}")
                    self.send_response(400)
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.received.append(
                        Received(headers["webhook-id"], body["type"], body["data"], body, headers)
                    )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.bad: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tokenbot?key=s3cr3t"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def types(self, subject_account: int | None = None) -> list[str]:
        """Return the accepted event types in arrival order (optionally of one account)."""
        with self.lock:
            return [
                r.type
                for r in self.received
                if subject_account is None or r.data.get("account_id") == subject_account
            ]

    def unique(self) -> list[Received]:
        """Return accepted deliveries de-duplicated by webhook-id, as a receiver must."""
        seen: set[str] = set()
        out = []
        with self.lock:
            for item in self.received:
                if item.message_id not in seen:
                    seen.add(item.message_id)
                    out.append(item)
        return out

    def close(self) -> None:
        """Stop the server and its thread."""
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


def body_json(item: Received) -> str:
    """Return the body of `item` as compact JSON (for 'never a token' checks)."""
    return json.dumps(item.body)
