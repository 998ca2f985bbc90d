"""The framework-free heart: config, database, encryption, OAuth client, token store, refresher.

Nothing here imports Flask, the Webex SDK, or another of our packages.
"""

from __future__ import annotations

from core.db import Database
from core.db import upgrade
from core.models import AccountStatus
from core.models import EventKind
from core.oauth import WebexOAuthClient
from core.policy import RefreshPolicy
from core.records import AccessGrant
from core.records import AccountView
from core.records import Claim
from core.records import EventView
from core.refresher import RefreshOutcome
from core.refresher import refresh_account
from core.refresher import refresh_counters
from core.scheduler import RefreshScheduler
from core.service import TokenService
from core.service import TokenUnavailable
from core.store import TokenStore
from core.sweep import SweepReport
from core.sweep import sweep

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
    "WebexOAuthClient",
    "RefreshOutcome",
    "SweepReport",
    "refresh_account",
    "refresh_counters",
    "sweep",
    "RefreshScheduler",
    "TokenService",
    "TokenUnavailable",
]
