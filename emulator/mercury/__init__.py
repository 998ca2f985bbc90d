"""Webex's websocket intake, emulated: U2C catalog, WDM devices and the Mercury socket.

`install(app, state)` adds the routes to the emulator's Flask app and a `MercuryHub` to the
state (`state.mercury`); the hub hears every message, edit, delete and membership change
through `state.event_listeners` and pushes `conversation.activity` frames to open sockets.
"""

from __future__ import annotations

from tokenbot.emulator.mercury.hub import MercuryHub
from tokenbot.emulator.mercury.routes import install

__all__ = ["MercuryHub", "install"]
