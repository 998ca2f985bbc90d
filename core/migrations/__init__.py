"""Alembic migrations of the token store's schema, run by `core.db.upgrade`."""

from __future__ import annotations

__all__: list[str] = []
