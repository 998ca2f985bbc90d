"""The framework-free heart: config, database, encryption, OAuth client, token store, refresher.

Nothing here imports Flask, the Webex SDK, or another of our packages.
"""

from __future__ import annotations

__all__: list[str] = []
