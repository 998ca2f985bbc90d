"""Prometheus metrics of the websocket intake (on the bot's registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Gauge

__all__ = ["WebsocketMetrics"]


class WebsocketMetrics:
    """Gauges and counters of the Mercury socket.

    - `tokenbot_bot_websocket_connected`: 1 while this instance holds an authorized socket.
    - `tokenbot_bot_websocket_connected_since_seconds`: Unix time of the last authorization.
    - `tokenbot_bot_websocket_last_frame_seconds`: Unix time of the last frame received.
    - `tokenbot_bot_websocket_reconnects_total`: sockets ended and opened again.
    - `tokenbot_bot_websocket_devices`: devices of ours registered for the identity.
    - `tokenbot_bot_events_backfilled_total`: messages read from the polling cursors after a
      (re)connect or a takeover.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.connected = Gauge(
            "tokenbot_bot_websocket_connected",
            "1 while this instance holds an authorized Webex websocket.",
            registry=registry,
        )
        self.connected_since = Gauge(
            "tokenbot_bot_websocket_connected_since_seconds",
            "Unix time the websocket was last authorized.",
            registry=registry,
        )
        self.last_frame = Gauge(
            "tokenbot_bot_websocket_last_frame_seconds",
            "Unix time of the last frame received on the websocket.",
            registry=registry,
        )
        self.reconnects = Counter(
            "tokenbot_bot_websocket_reconnects",
            "Websocket sessions ended and started again.",
            registry=registry,
        )
        self.devices = Gauge(
            "tokenbot_bot_websocket_devices",
            "Webex devices of ours registered for the bot identity.",
            registry=registry,
        )
        self.backfilled = Counter(
            "tokenbot_bot_events_backfilled",
            "Messages read from the polling cursors after a websocket (re)connect or takeover.",
            registry=registry,
        )
