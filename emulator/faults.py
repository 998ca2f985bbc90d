"""Injected faults: the next N matching calls get a status, a delay, or a dropped socket."""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any


class FaultSpecError(ValueError):
    """A fault description is invalid."""


@dataclass
class Fault:
    """One fault rule; `remaining` counts down as calls match it."""

    path: str
    method: str | None
    status: int | None
    delay_seconds: float | None
    drop: bool
    remaining: int
    retry_after: int | None

    def matches(self, method: str, path: str) -> bool:
        """Return True when the rule applies to this call (path may be a glob)."""
        if self.method is not None and self.method != method:
            return False
        return path == self.path or fnmatch.fnmatchcase(path, self.path)


def parse_fault(spec: dict[str, Any]) -> Fault:
    """Build a fault from the control API's JSON, or raise FaultSpecError."""
    known = {"path", "method", "status", "delay_seconds", "drop", "count", "retry_after"}
    unknown = set(spec) - known
    if unknown:
        raise FaultSpecError(f"unknown fault fields: {sorted(unknown)}")
    path = spec.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise FaultSpecError("path must be an absolute path such as /v1/people/me")
    status = spec.get("status")
    if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
        raise FaultSpecError("status must be an HTTP status code")
    delay = spec.get("delay_seconds")
    if delay is not None and (not isinstance(delay, int | float) or delay < 0):
        raise FaultSpecError("delay_seconds must be a non-negative number")
    drop = bool(spec.get("drop", False))
    if status is None and delay is None and not drop:
        raise FaultSpecError("a fault needs status, delay_seconds or drop")
    count = spec.get("count", 1)
    if not isinstance(count, int) or count < 1:
        raise FaultSpecError("count must be a positive integer")
    retry_after = spec.get("retry_after")
    if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
        raise FaultSpecError("retry_after must be a non-negative integer")
    method = spec.get("method")
    return Fault(
        path=path,
        method=method.upper() if isinstance(method, str) else None,
        status=status,
        delay_seconds=float(delay) if delay is not None else None,
        drop=drop,
        remaining=count,
        retry_after=retry_after,
    )


class FaultBook:
    """The active fault rules, consumed first-added first."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        """Add a rule."""
        with self._lock:
            self._faults.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one use of the first rule matching this call, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def list(self) -> list[dict[str, Any]]:
        """Return the active rules as JSON-ready dicts."""
        with self._lock:
            return [asdict(f) for f in self._faults]

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._faults.clear()
