"""The JSON API: accounts and status, for an admin session or a bearer API token; the broker.

The metadata routes are read-only on purpose: they change nothing, so they need no CSRF token,
and a leaked ``status:read`` token can read token *metadata* (never a token) but cannot
disconnect or refresh anything.

The broker route, ``POST /accounts/{id}/access-token``, is the one place a token leaves: off
unless ``broker.enabled``, only from ``broker.allowed_networks``, only for a bearer API token
with ``tokens:read`` that covers the account (never for a panel session: a cookie would make it
forgeable cross-site), rate-limited per API token, and answered ``Cache-Control: no-store``.
POST, so no cache, prefetcher or access log keeps the answer. `core.broker` decides.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence

from flask import Blueprint
from flask import Response
from flask import abort
from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue

from tokenbot.admin.dashboard import page_args
from tokenbot.admin.panel import panel
from tokenbot.admin.presenters import account_dict
from tokenbot.admin.presenters import bot_card
from tokenbot.admin.presenters import event_dict
from tokenbot.admin.presenters import iso
from tokenbot.admin.principal import api_client
from tokenbot.admin.principal import login_required
from tokenbot.core.broker import TokenBroker
from tokenbot.core.broker import count_handout
from tokenbot.core.errors import BrokerDenied
from tokenbot.core.errors import BrokerUnavailable
from tokenbot.core.errors import NeedsReauth

__all__ = ["bp"]

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_PER_PAGE = 200


@bp.get("/accounts")
@login_required(api=True)
def accounts() -> ResponseReturnValue:
    """List accounts: ``?q=`` searches e-mail and name, ``?page=`` and ``?per_page=`` page."""
    the_panel = panel()
    q, page = page_args()
    per_page = request.args.get("per_page", type=int) or the_panel.config.page_size
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    total = the_panel.store.count_accounts(search=q)
    pages = max(1, math.ceil(total / per_page))
    now = the_panel.clock.now()
    views = the_panel.store.list_accounts(search=q, offset=(page - 1) * per_page, limit=per_page)
    return jsonify(
        {
            "now": iso(now),
            "total": total,
            "page": page,
            "pages": pages,
            "per_page": per_page,
            "accounts": [account_dict(view, now) for view in views],
        }
    )


@bp.get("/accounts/<int:account_id>")
@login_required(api=True)
def account(account_id: int) -> ResponseReturnValue:
    """Describe one account with its latest events."""
    the_panel = panel()
    view = the_panel.store.get(account_id)
    now = the_panel.clock.now()
    body = account_dict(view, now)
    body["events"] = [event_dict(e) for e in the_panel.store.events(account_id, limit=20)]
    return jsonify({"now": iso(now), "account": body})


@bp.get("/status")
@login_required(api=True)
def status() -> ResponseReturnValue:
    """Summarize: accounts per status badge, the bot, the scheduler, the time."""
    the_panel = panel()
    now = the_panel.clock.now()
    return jsonify(
        {
            "now": iso(now),
            "accounts": the_panel.store.account_summary(now),
            "scheduler": {"alive": the_panel.scheduler_running()},
            "bot": bot_card(the_panel.bot_facts(), the_panel.store.bot_identity(), now),
        }
    )


@bp.post("/accounts/<int:account_id>/access-token")
def access_token(account_id: int) -> ResponseReturnValue:
    """Hand a live Webex access token of the account to a ``tokens:read`` API token."""
    the_panel = panel()
    broker = the_panel.runtime.settings.broker
    if not broker.enabled:
        abort(404)
    address = request.remote_addr or ""
    if not _address_allowed(address, broker.allowed_networks):
        count_handout("forbidden")
        return _error(
            403,
            "address_refused",
            "this address may not ask for access tokens",
            hint="ask from an address in broker.allowed_networks",
        )
    client = api_client()
    if client is None:
        count_handout("unauthorized")
        return _error(401, "login_required", "send a valid, unexpired API token as a Bearer")
    wait = the_panel.admins.take_api_request(client.name, per_minute=broker.requests_per_minute)
    if wait:
        count_handout("rate_limited")
        answer = _error(
            429,
            "too_many_requests",
            f"this API token asked too often; try again in {wait} s",
            hint="raise broker.requests_per_minute, or reuse a token until its expires_at",
        )
        answer.headers["Retry-After"] = str(wait)
        return answer
    token_broker = TokenBroker(the_panel.store, the_panel.tokens, clock=the_panel.clock)
    try:
        handout = token_broker.hand_out(client, account_id, address=address)
    except BrokerDenied as exc:
        return _error(403, "forbidden", exc.message, hint=exc.hint)
    except NeedsReauth:
        return _error(
            409,
            "needs_reauth",
            "this account must be connected again before it has a token",
            hint="an admin logs in with Webex again for this account in the panel: "
            f"{the_panel.config.public_url}/accounts/{account_id}",
        )
    except BrokerUnavailable as exc:
        answer = _error(
            503,
            "token_unavailable",
            "no usable access token right now: Webex is not answering our refresh",
            hint=f"try again in {exc.retry_after_seconds} s",
        )
        answer.headers["Retry-After"] = str(exc.retry_after_seconds)
        return answer
    answer = jsonify(
        {
            "access_token": handout.access_token,
            "expires_at": iso(handout.expires_at),
            "scopes": list(handout.scopes),
            "account": {"id": handout.account_id, "email": handout.email},
        }
    )
    _no_store(answer)
    return answer


def _address_allowed(address: str, networks: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(network) for network in networks)


def _error(status: int, code: str, message: str, *, hint: str | None = None) -> Response:
    detail = {"code": code, "message": message}
    if hint:
        detail["hint"] = hint
    answer = jsonify({"error": detail})
    answer.status_code = status
    _no_store(answer)
    return answer


def _no_store(answer: Response) -> None:
    answer.headers["Cache-Control"] = "no-store"
    answer.headers["Pragma"] = "no-cache"
