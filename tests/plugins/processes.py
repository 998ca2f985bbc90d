"""Read a child process's output without ever blocking the test past a deadline."""

from __future__ import annotations

import queue
import threading
import time
from typing import IO


class LineReader:
    """Collect the lines of `stream` on a thread; wait for a marker with a deadline.

    A bare `readline()` blocks until the child writes or exits, so a hung child would hold the
    test until pytest's global timeout; here every wait has its own bound.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        with stream:  # closed at the end of output, so no pipe is left open
            for line in stream:
                self._queue.put(line)
        self._queue.put(None)  # end of output

    def wait_for(self, marker: str, timeout: float) -> str:
        """Return all output up to the first line containing `marker`; AssertionError if none."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if marker in line:
                return "".join(self.lines)
        raise AssertionError(f"no {marker!r} within {timeout:g} s; output:\n{''.join(self.lines)}")

    def rest(self, timeout: float = 10.0) -> str:
        """Return everything, after the stream has ended (bounded)."""
        self._thread.join(timeout)
        while not self._queue.empty():
            line = self._queue.get_nowait()
            if line is not None:
                self.lines.append(line)
        return "".join(self.lines)
