"""The panel's API tokens page: list, create (shown once) and revoke, like `tokenbot api-token`.

A created token is rendered into the answer of the POST that made it and nowhere else: not in
a flash (that lives in the cookie), not in a redirect URL. The answer is ``no-store`` like
every panel page (admin.security).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue

from tokenbot.admin.panel import panel
from tokenbot.admin.presenters import iso
from tokenbot.admin.principal import login_required
from tokenbot.core.admins import ALL_ACCOUNTS
from tokenbot.core.admins import API_SCOPES
from tokenbot.core.admins import SCOPE_STATUS
from tokenbot.core.admins import SCOPE_TOKENS
from tokenbot.core.admins import ApiTokenInfo
from tokenbot.core.api_tokens import AccountChoice
from tokenbot.core.errors import AccountNotFound
from tokenbot.core.errors import AdminError

__all__ = ["bp"]

bp = Blueprint("api_tokens", __name__)
MAX_EXPIRY_DAYS = 3650


def _page(
    *, created: str | None = None, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    the_panel = panel()
    return (
        render_template(
            "api_tokens.html",
            tokens=[_row(info) for info in the_panel.admins.list_api_tokens()],
            scopes=API_SCOPES,
            scope_tokens=SCOPE_TOKENS,
            broker_enabled=the_panel.runtime.settings.broker.enabled,
            created=created,
            created_name=request.form.get("name", "").strip() if created else None,
            error=error,
        ),
        status,
    )


@bp.get("/api-tokens")
@login_required()
def index() -> ResponseReturnValue:
    """List the API tokens with what each may do."""
    return _page()


@bp.post("/api-tokens")
@login_required()
def create() -> ResponseReturnValue:
    """Create an API token from the form and show it once."""
    the_panel = panel()
    form = request.form
    try:
        scopes = [scope for scope in form.getlist("scope") if scope] or [SCOPE_STATUS]
        accounts = _accounts(form.get("accounts", ""))
        if not isinstance(accounts, str):
            for account_id in accounts:
                try:
                    the_panel.store.get(account_id)
                except AccountNotFound:
                    raise AdminError(f"there is no account {account_id}") from None
        days_text = form.get("expires_days", "").strip()
        expires_at = None
        if days_text:
            if not days_text.isdigit() or not 1 <= int(days_text) <= MAX_EXPIRY_DAYS:
                raise AdminError(f"the expiry is a number of days from 1 to {MAX_EXPIRY_DAYS}")
            expires_at = the_panel.clock.now() + timedelta(days=int(days_text))
        token = the_panel.admins.create_api_token(
            form.get("name", ""),
            scopes=scopes,
            accounts=accounts,
            webex_scopes=form.get("webex_scopes", "").split(),
            expires_at=expires_at,
        )
    except AdminError as exc:
        return _page(error=str(exc), status=400)  # the message with its hint
    return _page(created=token)


@bp.post("/api-tokens/revoke")
@login_required()
def revoke() -> ResponseReturnValue:
    """Revoke the API token named in the form."""
    name = request.form.get("name", "")
    if panel().admins.revoke_api_token(name):
        flash(f"API token {name!r} revoked.", "ok")
    else:
        flash(f"There is no API token named {name!r}.", "error")
    return redirect(url_for("api_tokens.index"), code=303)


def _row(info: ApiTokenInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "scopes": info.scopes,
        "accounts": info.accounts,
        "webex_scopes": info.webex_scopes,
        "expires_at": iso(info.expires_at) if info.expires_at else None,
        "last_used_at": iso(info.last_used_at) if info.last_used_at else None,
        "created_at": iso(info.created_at),
    }


def _accounts(text: str) -> AccountChoice:
    words = text.replace(",", " ").split()
    if [word.lower() for word in words] == [ALL_ACCOUNTS]:
        return ALL_ACCOUNTS
    if not all(word.isdigit() for word in words):
        raise AdminError("accounts are ids separated by spaces, or the word all")
    return [int(word) for word in words]
