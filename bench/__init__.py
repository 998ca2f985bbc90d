"""Benchmarks: each module runs with `python -m bench.<name>` and prints its figures."""

from __future__ import annotations

__all__: list[str] = []
