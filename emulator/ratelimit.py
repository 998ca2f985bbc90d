"""An optional per-token request limit, answering 429 with Retry-After."""

from __future__ import annotations

import math
import threading
from collections import deque
from datetime import datetime


class RateLimiter:
    """A sliding-window counter per access token."""

    def __init__(self) -> None:
        self._windows: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, limit: int, window: float, now: datetime) -> int | None:
        """Count one request; return the seconds to wait when over `limit`, else None."""
        with self._lock:
            times = self._windows.setdefault(key, deque())
            while times and (now - times[0]).total_seconds() >= window:
                times.popleft()
            if len(times) >= limit:
                wait = window - (now - times[0]).total_seconds()
                return max(1, math.ceil(wait))
            times.append(now)
            return None

    def clear(self) -> None:
        """Forget every window."""
        with self._lock:
            self._windows.clear()
