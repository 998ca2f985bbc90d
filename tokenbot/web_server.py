"""The panel's waitress server, hardened against slow and oversized requests and forged proxies.

Waitress alone has three gaps an outsider can use (issue 11):

- `channel_timeout` is an inactivity timer: a client trickling one byte every few seconds keeps
  its connection forever, and a few hundred such clients fill `connection_limit` so nobody else
  is accepted (slowloris). Here every request must arrive *in full*, headers and body, within
  `panel.request_timeout_seconds` of its first byte (of the connection's opening, for the first
  request); the connection is cut otherwise. The limit is sized for that (1000 by default, with
  poll() instead of select(), which cannot watch descriptors above 1024).
- `max_request_body_size` defaults to 1 GiB and bodies beyond `inbuf_overflow` are spooled to a
  temporary file: the server's own limit is the largest body any route accepts, and a request
  whose `Content-Length` exceeds its route's cap is refused with 413 right after its headers,
  before a byte of the body is read.
- `trusted_proxy="*"` believes `X-Forwarded-For` from anyone who reaches the port. Here only the
  peers in `panel.trusted_proxy_addresses` may set `X-Forwarded-*`; everyone else's are dropped.

Waitress has no option for a total receive deadline or per-path body caps, hence the small
subclasses; they use only waitress's documented extension points (`channel_class`,
`parser_class`, `maintenance`).
"""

from __future__ import annotations

import ipaddress
import logging
import resource
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.proxy_headers import proxy_headers_middleware
from waitress.server import create_server
from waitress.utilities import RequestEntityTooLarge

__all__ = ["ServerLimits", "build_web_server", "forwarded_gate"]

log = logging.getLogger("tokenbot")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_FORWARDED = ("HTTP_X_FORWARDED_", "HTTP_FORWARDED")
# Descriptors beyond the connections: database files, log files, the listening socket, pipes.
_SPARE_DESCRIPTORS = 128


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """What one web server accepts.

    Attributes:
        request_timeout_seconds: The whole request (headers and body) must arrive within this.
        connection_limit: Open connections at once; beyond it waitress stops accepting.
        body_bytes: The largest body of any path not in `path_body_bytes`.
        path_body_bytes: Larger caps for exact paths (the webhook intake).
        threads: Worker threads running the app.
    """

    request_timeout_seconds: float = 10.0
    connection_limit: int = 1000
    body_bytes: int = 64 * 1024
    path_body_bytes: Mapping[str, int] = field(default_factory=dict)
    threads: int = 8

    @property
    def largest_body(self) -> int:
        """Return the largest body any path accepts."""
        return max([self.body_bytes, *self.path_body_bytes.values()])

    def body_cap(self, path: str) -> int:
        """Return the largest body `path` accepts."""
        return self.path_body_bytes.get(path, self.body_bytes)


def _capped_parser(limits: ServerLimits) -> type[HTTPRequestParser]:
    class CappedParser(HTTPRequestParser):
        """Refuse a declared body larger than its path's cap as soon as the headers are in."""

        def received(self, data: bytes) -> int:
            consumed: int = super().received(data)
            done = bool(getattr(self, "completed", False)) or getattr(self, "error", None)
            if self.headers_finished and not done:
                cap = limits.body_cap(str(getattr(self, "path", "") or ""))
                if self.content_length > cap:
                    self.error = RequestEntityTooLarge(f"exceeds max_body of {cap}")
                    self.completed = True
            return consumed

    return CappedParser


def _deadline_channel(limits: ServerLimits) -> type[HTTPChannel]:
    parser = _capped_parser(limits)

    class DeadlineChannel(HTTPChannel):
        """A channel that knows since when it has been waiting for the request in progress."""

        parser_class = parser

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # The first request's clock starts at accept: a client that connects and sends
            # nothing, or a byte at a time, is bound by the same deadline. (Wall-clock time,
            # like waitress's own `creation_time` and `maintenance(now)`.)
            self.receiving_since: float | None = self.creation_time

        def received(self, data: bytes) -> bool:
            if self.receiving_since is None and data:
                self.receiving_since = time.time()  # the first byte of the next request
            result: bool = super().received(data)
            if self.request is None:
                self.receiving_since = None  # every request so far has arrived in full
            return result

        def overdue(self, now: float) -> bool:
            """Tell whether the request being received has taken longer than allowed."""
            since = self.receiving_since
            if since is None or self.requests:
                return False  # idle between requests (channel_timeout), or being answered
            return now - since > limits.request_timeout_seconds

    return DeadlineChannel


def forwarded_gate(app: WSGIApp, proxies: Iterable[str], hops: int) -> WSGIApp:
    """Return `app` believing `X-Forwarded-*` only from peers in `proxies` (IPs or networks).

    From a trusted peer the headers go through waitress's own proxy handling (`hops` entries of
    X-Forwarded-For, -Proto and -Host); from anyone else they are removed before the app runs.
    """
    networks = [ipaddress.ip_network(p, strict=False) for p in proxies]
    believing = proxy_headers_middleware(
        app,
        trusted_proxy="*",  # the gate below has already checked the peer
        trusted_proxy_count=hops,
        trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"},
        clear_untrusted=True,
        log_untrusted=False,
        logger=log,
    )

    def trusted(peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in networks)

    def gate(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if trusted(str(environ.get("REMOTE_ADDR", ""))):
            return believing(environ, start_response)
        for key in [k for k in environ if k.startswith(_FORWARDED)]:
            del environ[key]
        return app(environ, start_response)

    return gate


def _raise_descriptor_limit(needed: int) -> None:
    """Raise the soft open-files limit toward `needed` (a server with 1000 clients needs it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        log.warning(
            "open-files limit %d is below panel.connection_limit + %d: raise it (ulimit -n) "
            "or lower panel.connection_limit",
            target,
            _SPARE_DESCRIPTORS,
        )


def build_web_server(
    app: WSGIApp,
    *,
    host: str,
    port: int,
    limits: ServerLimits,
    trusted_proxies: Iterable[str] = (),
    proxy_hops: int = 0,
) -> Any:
    """Create (not yet run) the waitress server for `app` with `limits` applied."""
    proxies = list(trusted_proxies)
    if proxies and proxy_hops:
        app = forwarded_gate(app, proxies, proxy_hops)
    else:
        app = forwarded_gate(app, (), 0)  # nobody may set X-Forwarded-*: drop them all
    _raise_descriptor_limit(limits.connection_limit + _SPARE_DESCRIPTORS)
    timeout = limits.request_timeout_seconds
    # Any: waitress's stubs type maintenance() and the channel map too narrowly for this.
    server: Any = create_server(
        app,
        host=host,
        port=port,
        threads=limits.threads,
        ident="tokenbot",
        expose_tracebacks=False,
        connection_limit=limits.connection_limit,
        asyncore_use_poll=True,
        # Idle keep-alive connections: closed after as long as a request may take to arrive.
        channel_timeout=max(1, int(timeout)),
        cleanup_interval=1,
        # waitress refuses Content-Length >= max_request_body_size; bodies never go to disk.
        max_request_body_size=limits.largest_body + 1,
        inbuf_overflow=limits.largest_body + 1,
        clear_untrusted_proxy_headers=False,
    )
    server.channel_class = _deadline_channel(limits)
    plain_maintenance = server.maintenance

    def maintenance(now: float) -> None:
        plain_maintenance(now)
        for channel in list(server.active_channels.values()):
            overdue = getattr(channel, "overdue", None)
            if overdue is not None and overdue(now):
                channel.will_close = True  # closed by the loop, in its own thread

    server.maintenance = maintenance
    return server
