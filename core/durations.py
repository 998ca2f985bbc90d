"""Render a span of seconds for people, one way everywhere: ``13 d 4 h``, ``2 h 5 min``, ``45 s``.

The panel's countdowns (admin/static/panel.js, `duration`) render the same way in the browser,
so a page's first text and its live ticks agree; change both together.
"""

from __future__ import annotations

__all__ = ["format_duration"]

_UNITS = ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"))


def format_duration(seconds: float, *, units: int = 2) -> str:
    """Return `seconds` as its `units` largest units, from the first that is not zero.

    Parts are counted down from days to seconds; trailing zero parts are left out, so an even
    hour reads ``2 h``. Negative spans read as ``0 s`` (callers that mean "expired" say so).

    Args:
        seconds: The span; fractions are dropped.
        units: How many units at most (2 for a glance, 4 for an exact span).

    Raises:
        ValueError: `units` is below 1.
    """
    if units < 1:
        raise ValueError(f"units must be at least 1, not {units}")
    left = max(0, int(seconds))
    counts: list[tuple[int, str]] = []
    for size, label in _UNITS:
        count, left = divmod(left, size)
        if count or counts:
            counts.append((count, label))
    shown = counts[:units]
    while shown and shown[-1][0] == 0:
        shown.pop()
    return " ".join(f"{count} {label}" for count, label in shown) or "0 s"
