"""Fixtures and helpers for the OAuth client, refresher and scheduler tests.

`wait_until` polls a condition against a deadline (never a bare sleep); the fixtures chain
emulator -> integration -> OAuth client -> connected account in the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.01, what: str = ""
) -> T:
    """Return the first truthy value of `condition()`, polling until `timeout` seconds pass.

    Raises:
        AssertionError: The condition stayed falsy until the deadline.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    value = condition()
    if value:
        return value
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what or condition}")
