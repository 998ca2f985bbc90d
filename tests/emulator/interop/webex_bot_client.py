"""Run fbradyirl/webex_bot's websocket client, unchanged, against the emulator.

Started by tests/emulator/test_mercury_interop.py with a Python that has webex_bot installed
(its pins clash with ours). Only where it points is changed: the U2C URL and the REST base
URL (both hard-coded to Webex), and no TLS context for the emulator's plain ws://. Prints the
first message it hears (or, with a third argument `card`, the first card submit it hydrates)
as one JSON line, then exits.
"""

from __future__ import annotations

import json
import os
import sys

import webex_bot.websockets.webex_websocket_client as client_module

emulator_url, token = sys.argv[1], sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else "message"
client_module.DEFAULT_U2C_URL = f"{emulator_url}/u2c/api/v1/catalog"
client_module.ssl_context = None  # the emulator speaks ws://, not wss://
_sdk = client_module.WebexAPI
client_module.WebexAPI = lambda **kwargs: _sdk(base_url=f"{emulator_url}/v1/", **kwargs)


def on_message(teams_message, activity):  # type: ignore[no-untyped-def]
    """Print what webex_bot hydrated, then stop the process."""
    print(json.dumps({"id": teams_message.id, "text": teams_message.text}), flush=True)
    os._exit(0)


def on_card_action(attachment_actions, activity):  # type: ignore[no-untyped-def]
    """Print the submit webex_bot fetched for a `cardAction`, then stop the process."""
    heard = {
        "id": attachment_actions.id,
        "messageId": attachment_actions.messageId,
        "inputs": attachment_actions.inputs,
        "actor": activity["actor"]["emailAddress"],
    }
    print(json.dumps(heard), flush=True)
    os._exit(0)


print("starting", flush=True)
if mode == "card":
    client = client_module.WebexWebsocketClient(token, "interop", on_card_action=on_card_action)
else:
    client = client_module.WebexWebsocketClient(token, "interop", on_message=on_message)
client.run()
