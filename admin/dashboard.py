"""The dashboard, an account's page, and the actions on an account.

Every action is a POST with a CSRF token that answers with a 303 back to a local page and a
flash message saying what happened (no state change on GET, ASVS 3.5.3).
"""

from __future__ import annotations

import logging
import math
import time

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from tokenbot.admin.charts import activity_chart
from tokenbot.admin.charts import refresh_schedule_chart
from tokenbot.admin.charts import token_timeline
from tokenbot.admin.panel import panel
from tokenbot.admin.presenters import HEALTH_LABELS
from tokenbot.admin.presenters import account_dict
from tokenbot.admin.presenters import bot_card
from tokenbot.admin.presenters import event_dict
from tokenbot.admin.presenters import iso
from tokenbot.admin.principal import login_required
from tokenbot.admin.security import safe_next
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.disconnect import disconnect_account
from tokenbot.core.errors import CryptoError
from tokenbot.core.errors import NeedsReauth
from tokenbot.core.errors import OAuthError
from tokenbot.core.errors import StoreError
from tokenbot.core.logs import redact
from tokenbot.core.models import EventKind

__all__ = ["bp", "page_args"]

log = logging.getLogger(__name__)
# The largest id a 64-bit signed integer column (SQLite, PostgreSQL BIGINT) holds.
MAX_EVENT_ID = 2**63 - 1
bp = Blueprint("dashboard", __name__)

MAX_SEARCH = 200
EVENTS_PER_PAGE = 50
# The timeline draws 30 days; at a refresh a day plus failures this covers them with room.
TIMELINE_EVENTS = 1000


def page_args() -> tuple[str | None, int]:
    """Read ``q`` and ``page`` from the query string, tolerating nonsense."""
    q = (request.args.get("q") or "").strip()[:MAX_SEARCH] or None
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 1
    return q, max(1, min(page, 1_000_000))


def _back(account_id: int) -> Response:
    default = url_for("dashboard.account", account_id=account_id)
    target = safe_next(request.form.get("next"), default)
    return redirect(target, code=303)


@bp.get("/")
@login_required()
def index() -> ResponseReturnValue:
    """Show every account (a page at a time) with its status, and the bot card."""
    the_panel = panel()
    store = the_panel.store
    q, page = page_args()
    size = the_panel.config.page_size
    total = store.count_accounts(search=q)
    pages = max(1, math.ceil(total / size))
    page = min(page, pages)
    now = the_panel.clock.now()
    accounts = [
        account_dict(view, now)
        for view in store.list_accounts(search=q, offset=(page - 1) * size, limit=size)
    ]
    return render_template(
        "dashboard.html",
        accounts=accounts,
        total=total,
        page=page,
        pages=pages,
        q=q,
        now=iso(now),
        summary=the_panel.store.account_summary(now),
        health_labels=HEALTH_LABELS,
        bot=bot_card(the_panel.bot_facts(), store.bot_identity(), now),
        scheduler=the_panel.scheduler_running(),
        redirect_uri=the_panel.config.redirect_uri,
        activity=activity_chart(BotStateStore(the_panel.runtime.database, the_panel.clock), now),
        schedule=refresh_schedule_chart(the_panel.runtime.database, now),
    )


@bp.get("/accounts/<int:account_id>")
@login_required()
def account(account_id: int) -> ResponseReturnValue:
    """Show one account with its event history (newest first, paged with ``before``)."""
    the_panel = panel()
    view = the_panel.store.get(account_id)
    before = request.args.get("before", type=int)
    if "before" in request.args and (before is None or not 1 <= before <= MAX_EVENT_ID):
        # An id no database integer can hold (or not a number) would fail in the driver.
        message = f"before= must be an event id: a whole number from 1 to {MAX_EVENT_ID}."
        page = render_template("error.html", status=400, code="bad_request", message=message)
        return page, 400
    events = the_panel.store.events(account_id, limit=EVENTS_PER_PAGE + 1, before_id=before)
    older = events[EVENTS_PER_PAGE].id + 1 if len(events) > EVENTS_PER_PAGE else None
    now = the_panel.clock.now()
    recent = the_panel.store.events(account_id, limit=TIMELINE_EVENTS)
    return render_template(
        "account.html",
        a=account_dict(view, now),
        timeline=token_timeline(view, recent, now),
        events=[event_dict(e) for e in events[:EVENTS_PER_PAGE]],
        older_before=older,
    )


@bp.post("/accounts/<int:account_id>/refresh")
@login_required()
def refresh(account_id: int) -> ResponseReturnValue:
    """Refresh the account's tokens now, through the one refresh routine."""
    the_panel = panel()
    the_panel.store.get(account_id)  # 404 for an unknown id
    outcome = the_panel.tokens.force_refresh(account_id)
    if outcome.ok:
        flash("Tokens refreshed." if outcome.result == "refreshed" else "Tokens are fresh.", "ok")
    elif outcome.result == "busy":
        flash("Another refresh of this account is running; look again in a moment.", "warn")
    else:
        # The message is ours, built without secrets; redact anyway: it lands in the cookie.
        flash(f"Refresh failed: {redact(outcome.message or outcome.result)}", "error")
    return _back(account_id)


@bp.post("/accounts/<int:account_id>/test")
@login_required()
def test(account_id: int) -> ResponseReturnValue:
    """Call Webex's /people/me with the stored access token and record the result."""
    the_panel = panel()
    the_panel.store.get(account_id)
    started = time.monotonic()
    try:
        token = the_panel.tokens.access_token(account_id)
        identity = the_panel.oauth.identify(token)
    except NeedsReauth:
        flash("This account has no usable token: Reconnect it.", "error")
        return _back(account_id)
    except CryptoError as exc:
        # The stored ciphertext does not open under TOKENBOT_ENCRYPTION_KEYS (a key removed too
        # early, or a damaged row): say so instead of failing the page.
        took = int((time.monotonic() - started) * 1000)
        detail = f"test failed: {exc.code}"
        the_panel.store.record_event(account_id, EventKind.TESTED, detail=detail, duration_ms=took)
        flash(
            "The stored token cannot be decrypted with the configured keys: put the key it was "
            "encrypted with back into TOKENBOT_ENCRYPTION_KEYS, or connect the account again.",
            "error",
        )
        return _back(account_id)
    except (OAuthError, StoreError) as exc:
        took = int((time.monotonic() - started) * 1000)
        detail = f"test failed: {exc.code}"
        the_panel.store.record_event(account_id, EventKind.TESTED, detail=detail, duration_ms=took)
        flash(f"The token test failed ({exc.code}).", "error")
        return _back(account_id)
    took = int((time.monotonic() - started) * 1000)
    the_panel.store.record_event(
        account_id, EventKind.TESTED, detail=f"ok: {identity.email}", duration_ms=took
    )
    flash(f"The token works: Webex says this is {identity.display_name or identity.email}.", "ok")
    return _back(account_id)


@bp.post("/accounts/<int:account_id>/bot")
@login_required()
def make_bot(account_id: int) -> ResponseReturnValue:
    """Make this account the identity the bot acts as."""
    try:
        view = panel().store.set_bot_identity(account_id)
    except StoreError as exc:
        if exc.code == "account_not_found":
            raise
        flash(f"Cannot make this account the bot identity: {exc.message}.", "error")
        return _back(account_id)
    flash(f"The bot now acts as {view.display_name or view.email}.", "ok")
    return _back(account_id)


@bp.get("/accounts/<int:account_id>/disconnect")
@login_required()
def confirm_disconnect(account_id: int) -> ResponseReturnValue:
    """Ask before disconnecting."""
    the_panel = panel()
    view = the_panel.store.get(account_id)
    if view.status.value == "disconnected":
        abort(404)
    return render_template("disconnect.html", a=account_dict(view, the_panel.clock.now()))


@bp.post("/accounts/<int:account_id>/disconnect")
@login_required()
def disconnect(account_id: int) -> ResponseReturnValue:
    """Wipe the account's tokens and stop refreshing it."""
    the_panel = panel()
    # Revokes at Webex when the grant allows it, wipes, forgets the cached token, checkpoints.
    done = disconnect_account(
        account_id,
        store=the_panel.store,
        tokens=the_panel.tokens,
        oauth=the_panel.oauth,
        database=the_panel.runtime.database,
    )
    view = done.view
    level = "ok" if done.revoked_at_webex else "warn"
    flash(
        f"Disconnected {view.display_name or view.email}; its tokens are wiped. {done.summary()}",
        level,
    )
    return redirect(url_for("dashboard.account", account_id=account_id), code=303)
