"""The framework-free heart: config, database, encryption, OAuth client, token store, refresher.

Nothing here imports Flask, the Webex SDK, or another of our packages.
"""

from __future__ import annotations

from core.db import Database
from core.db import upgrade
from core.models import AccountStatus
from core.models import EventKind
from core.policy import RefreshPolicy
from core.records import AccessGrant
from core.records import AccountView
from core.records import Claim
from core.records import EventView
from core.store import TokenStore

__all__: list[str] = [
    "AccessGrant",
    "AccountStatus",
    "AccountView",
    "Claim",
    "Database",
    "EventKind",
    "EventView",
    "RefreshPolicy",
    "TokenStore",
    "upgrade",
]
