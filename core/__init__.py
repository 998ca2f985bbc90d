"""The framework-free heart: config, database, encryption, OAuth client, token store, refresher.

Nothing here imports Flask, the Webex SDK, or another of our packages.
"""

from __future__ import annotations

from tokenbot.core.db import Database
from tokenbot.core.db import upgrade
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import EventKind
from tokenbot.core.oauth import WebexOAuthClient
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.records import AccessGrant
from tokenbot.core.records import AccountView
from tokenbot.core.records import Claim
from tokenbot.core.records import EventView
from tokenbot.core.refresher import RefreshOutcome
from tokenbot.core.refresher import refresh_account
from tokenbot.core.refresher import refresh_counters
from tokenbot.core.scheduler import RefreshScheduler
from tokenbot.core.store import TokenStore
from tokenbot.core.sweep import SweepReport
from tokenbot.core.sweep import sweep
from tokenbot.core.token_service import TokenService
from tokenbot.core.token_service import TokenUnavailable

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
