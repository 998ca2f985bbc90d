"""The notifications page: each target with a "Send test event" button, and the delivery log.

Kept to one page and one action (the panel's templates are being reworked elsewhere); what the
outbox does is in core.notify.
"""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask.typing import ResponseReturnValue

from tokenbot.admin.panel import panel
from tokenbot.admin.presenters import iso
from tokenbot.admin.principal import login_required
from tokenbot.core.notify import Outbox

__all__ = ["bp"]

bp = Blueprint("notify", __name__)
LOG_LINES = 50


def _outbox() -> Outbox:
    outbox = panel().runtime.outbox
    if outbox is None:
        abort(404)
    return outbox


@bp.get("/notify")
@login_required()
def index() -> ResponseReturnValue:
    """Show the targets and the newest deliveries."""
    outbox = _outbox()
    lines = [
        {
            "when": iso(line.created_at),
            "type": line.type,
            "subject": line.subject,
            "target": line.target,
            "status": line.status,
            "attempts": line.attempts,
            "detail": line.last_error or (f"HTTP {line.last_status}" if line.last_status else ""),
            "message_id": line.message_id,
        }
        for line in outbox.deliveries(limit=LOG_LINES)
    ]
    return render_template("notify.html", targets=outbox.targets, lines=lines)


@bp.post("/notify/<target_key>/test")
@login_required()
def send_test(target_key: str) -> ResponseReturnValue:
    """Queue a notify.test event for one target; the notify job sends it within its interval."""
    outbox = _outbox()
    target = outbox.target(target_key)
    if target is None:
        abort(404)
    message_id = outbox.send_test(target.key)
    runtime = panel().runtime
    if runtime.dispatcher is not None:
        runtime.deliver_notifications()  # now, so the log below already shows how it went
    flash(f"Test event {message_id} queued for {target.label}.", "ok")
    return redirect(url_for("notify.index"), code=303)
