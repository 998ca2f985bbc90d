"""A bare bot, the floor of the end-to-end path: a delivery comes in, GET the message, POST a reply.

No database, no de-duplication, no loop safety beyond skipping its own person, no routing:
only what any bot must do on this path, served by waitress like `tokenbot serve`, with a
thread pool of `--workers`. `bench.bot_latency` runs it in its own process and measures it
exactly like ours. It registers its own webhook and stops when stdin closes.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from waitress.server import create_server
from webexpythonsdk import WebexAPI

from bench.serve_process import SCOPES
from bench.serve_process import control
from bench.serve_process import register_integration


def main() -> None:
    """Serve the bare bot until stdin closes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emulator-url", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    client_id, _secret = register_integration(args.emulator_url)
    body = {"client_id": client_id, "email": args.email, "scopes": SCOPES}
    token = control(args.emulator_url, "POST", "tokens", body)["access_token"]
    api = WebexAPI(access_token=token, base_url=f"{args.emulator_url}/v1/")
    pool = ThreadPoolExecutor(args.workers)

    def handle(message_id: str) -> None:
        message = api.messages.get(message_id)
        text = message.text or ""
        if text.startswith("/echo "):
            api.messages.create(roomId=message.roomId, parentId=message.id, markdown=text[6:])

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = json.loads(environ["wsgi.input"].read(length)).get("data", {})
        if data.get("personEmail") != args.email:
            pool.submit(handle, data["id"])
        start_response("202 Accepted", [("Content-Length", "0")])
        return [b""]

    # Any: waitress's stubs leave out `effective_port`, the port a port-0 server was given.
    server: Any = create_server(app, host="127.0.0.1", port=0, threads=8, ident="bare")
    threading.Thread(target=server.run, daemon=True).start()
    api.webhooks.create(
        name="bare bot",
        targetUrl=f"http://127.0.0.1:{server.effective_port}/bare",
        resource="messages",
        event="created",
    )
    sys.stdin.read()
    pool.shutdown(wait=False, cancel_futures=True)


if __name__ == "__main__":
    main()
