"""The JSON API: accounts and status, for an admin session or a bearer API token.

Read-only on purpose: it changes nothing, so it needs no CSRF token, and a leaked API token
can read token *metadata* (never a token) but cannot disconnect or refresh anything.
"""

from __future__ import annotations

import math

from flask import Blueprint
from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue

from tokenbot.admin.dashboard import page_args
from tokenbot.admin.panel import panel
from tokenbot.admin.presenters import account_dict
from tokenbot.admin.presenters import bot_card
from tokenbot.admin.presenters import event_dict
from tokenbot.admin.presenters import iso
from tokenbot.admin.principal import login_required

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
