"""Hostile HTTP clients on raw sockets: slowloris connections and bodies that never come."""

from __future__ import annotations

import math
import select
import socket
import time
from dataclasses import dataclass
from dataclasses import field

import requests


def open_partial(
    port: int, first: bytes = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
) -> socket.socket:
    """Open a connection to the panel and send the start of a request that never ends."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(first)
    sock.setblocking(False)
    return sock


def closed_by_peer(sock: socket.socket) -> bool:
    """Tell (without blocking) whether the server has closed this connection."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except BlockingIOError:
        return False


@dataclass
class Slowloris:
    """Hold `count` connections open by trickling one header line each, reopening cut ones."""

    port: int
    count: int
    sockets: list[socket.socket] = field(default_factory=list)
    cut: int = 0  # connections the server closed on us
    refused: int = 0  # reopen attempts the server did not accept in time

    def fill(self) -> None:
        """Open connections until `count` are held."""
        while len(self.sockets) < self.count:
            try:
                self.sockets.append(open_partial(self.port))
            except OSError:
                self.refused += 1
                return

    def trickle(self) -> None:
        """Send one more header line on every connection; drop the ones the server cut."""
        alive = []
        for sock in self.sockets:
            if closed_by_peer(sock):
                self.cut += 1
                sock.close()
                continue
            try:
                sock.send(b"X-Slow: 1\r\n")
            except OSError:
                self.cut += 1
                sock.close()
                continue
            alive.append(sock)
        self.sockets = alive

    def close(self) -> None:
        """Close every connection."""
        for sock in self.sockets:
            sock.close()
        self.sockets = []


def healthz_seconds(url: str, timeout: float = 2.0) -> float:
    """Time one `/healthz` from a fresh client (new connection); inf if it did not answer."""
    started = time.monotonic()
    try:
        with requests.Session() as fresh:
            answer = fresh.get(f"{url}/healthz", timeout=timeout)
    except requests.RequestException:
        return float("inf")
    took = time.monotonic() - started
    return took if answer.status_code == 200 else float("inf")


def status_line_within(sock: socket.socket, seconds: float) -> bytes:
    """Return the first line the server answers on `sock` within `seconds` (b"" if none)."""
    sock.settimeout(seconds)
    try:
        data = sock.recv(4096)
    except (TimeoutError, ConnectionResetError):
        return b""
    return data.split(b"\r\n", 1)[0]


def percentile(values: list[float], fraction: float) -> float:
    """Return the `fraction` percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]
