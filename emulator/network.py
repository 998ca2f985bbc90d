"""The simulated network: how long a call or a delivery spends on the wire."""

from __future__ import annotations

import random


def network_delay(latency_ms: float, jitter_ms: float) -> float:
    """Return `latency_ms` plus a uniform 0..`jitter_ms`, in seconds (0 when both are 0)."""
    if not latency_ms and not jitter_ms:
        return 0.0
    return (latency_ms + random.uniform(0.0, jitter_ms)) / 1000.0
