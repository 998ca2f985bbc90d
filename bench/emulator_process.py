"""Run the emulator in its own process, so a benchmark measures our code and not a shared GIL.

`EmulatorProcess` starts `python -m bench.emulator_process` as a child and reads back the URL
it bound. Two servers are offered for the same WSGI app and state (routes, control API and
webhook delivery are identical):

- `waitress` (default for the published figures): HTTP/1.1 keep-alive, so a client that reuses
  its connection pays one TCP connect, as against webexapis.com;
- `werkzeug`: the emulator's own development server (`tokenbot emulator`), which answers
  `Connection: close` to every request, so every SDK call pays a TCP connect.

The one emulator feature that needs werkzeug is the `drop` fault (it closes the raw socket);
benchmarks inject no faults.

Run alone: `.venv/bin/python -m bench.emulator_process [--server waitress]` prints
`EMULATOR_URL http://127.0.0.1:PORT` and serves until stdin closes or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_READY = "EMULATOR_URL "


class EmulatorProcess:
    """Start the emulator as a child process and stop it on exit.

    Args:
        server: `waitress` (keep-alive) or `werkzeug` (one connection per request).
        threads: waitress worker threads.
    """

    def __init__(self, server: str = "waitress", threads: int = 16) -> None:
        self.server = server
        self.threads = threads
        self._child: subprocess.Popen[str] | None = None
        self.url = ""

    @property
    def api_url(self) -> str:
        """Return the REST base URL, ending in `/v1/` as the SDK needs."""
        return f"{self.url}/v1/"

    @property
    def pid(self) -> int:
        """Return the child's process id."""
        assert self._child is not None
        return self._child.pid

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        """Spawn the child and wait for its ready line."""
        command = [
            sys.executable,
            "-m",
            "bench.emulator_process",
            "--server",
            self.server,
            "--threads",
            str(self.threads),
        ]
        self._child = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self._child.stdout is not None
        found: list[str] = []

        def read() -> None:
            assert self._child is not None and self._child.stdout is not None
            for line in self._child.stdout:
                if line.startswith(_READY):
                    found.append(line[len(_READY) :].strip())
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.stop()
            raise RuntimeError(f"the emulator ({self.server}) did not start within {timeout} s")
        self.url = found[0]
        return self

    def stop(self) -> None:
        """Close the child's stdin (its stop signal) and wait for it; kill it if it hangs."""
        child, self._child = self._child, None
        if child is None:
            return
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _serve_waitress(threads: int, stop: threading.Event) -> None:
    from waitress.server import create_server

    from tokenbot.emulator import EmulatorState
    from tokenbot.emulator import create_app
    from tokenbot.emulator.delivery import DeliveryWorker

    state = EmulatorState(None)
    worker = DeliveryWorker(state)
    state.delivery = worker
    worker.start()
    # Any: waitress's stubs leave out `effective_port`, the port a port-0 server was given.
    server: Any = create_server(
        create_app(state), host="127.0.0.1", port=0, threads=threads, ident="emulator"
    )
    threading.Thread(target=server.run, daemon=True).start()
    print(f"{_READY}http://127.0.0.1:{server.effective_port}", flush=True)
    stop.wait()
    state.halt.set()
    worker.stop()


def _serve_werkzeug(stop: threading.Event) -> None:
    from tokenbot.emulator import EmulatorServer

    with EmulatorServer() as server:
        print(f"{_READY}{server.url}", flush=True)
        stop.wait()


def main() -> None:
    """Serve the emulator until stdin closes or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", choices=["waitress", "werkzeug"], default="waitress")
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    stop = threading.Event()

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)

    def watch_stdin() -> None:
        sys.stdin.read()  # returns when the parent closes our stdin (or dies)
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    if args.server == "waitress":
        _serve_waitress(args.threads, stop)
    else:
        _serve_werkzeug(stop)


if __name__ == "__main__":
    main()
