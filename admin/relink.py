"""Re-login links: open one, sign in with Webex as the account's own person, keep the account.

No panel session is needed: the link itself (single-use, short-lived, bound to the account and
its Webex person id; core.relink) is the permission. The Webex callback is the panel's usual
one; `relink_callback` takes the answer when its state was started from a link, before the
Connect flow's admin check (one call in admin/connect.py).

Opening the link (GET) changes nothing, so a mail scanner that follows it spends nothing; the
button POSTs. Tokens of a person other than the account's are discarded unread.
"""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

from tokenbot.admin.panel import panel
from tokenbot.admin.principal import current_admin
from tokenbot.admin.principal import login_required
from tokenbot.core.errors import LoginStateInvalid
from tokenbot.core.errors import OAuthError
from tokenbot.core.hashing import sha256_hex
from tokenbot.core.oauth_logins import state_hash
from tokenbot.core.relink import RelinkInvalid
from tokenbot.core.relink import RelinkLinks
from tokenbot.core.relink import relink_path

__all__ = ["bp", "relink_callback", "relink_url"]

log = logging.getLogger(__name__)
bp = Blueprint("relink", __name__)
_NONCE = "rl"
LOGIN_MAX_AGE_SECONDS = 600

_INVALID = {
    "unknown": (404, "This re-login link is not valid", "Check that the whole link was copied."),
    "used": (410, "This re-login link was already used", "Each link works once."),
    "expired": (410, "This re-login link has expired", "Links are valid for a short time."),
    "revoked": (410, "This re-login link was replaced", "A newer link was made for the account."),
}


def links() -> RelinkLinks:
    """Return the link store over the panel's database."""
    the_panel = panel()
    return RelinkLinks(the_panel.runtime.database, clock=the_panel.clock)


def relink_url(token: str) -> str:
    """Return the full URL of a link (panel.public_url, else the panel's address)."""
    return panel().config.public_url.rstrip("/") + relink_path(token)


def _page(status: int, title: str, explanation: str, **extra: object) -> BaseResponse:
    response = make_response(
        render_template(
            "relink.html", status=status, title=title, explanation=explanation, **extra
        ),
        status,
    )
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL holds the link's secret
    response.headers["Cache-Control"] = "no-store"
    return response


def _invalid(reason: str) -> BaseResponse:
    status, title, why = _INVALID.get(reason, _INVALID["unknown"])
    return _page(status, title, f"{why} Ask an admin of tokenbot for a new link.")


@bp.get("/relink/<token>")
def open_link(token: str) -> ResponseReturnValue:
    """Show whom the link is for and a button to sign in with Webex (nothing is spent)."""
    try:
        view = links().check(token)
    except RelinkInvalid as exc:
        return _invalid(exc.reason)
    who = view.display_name or view.email
    return _page(
        200,
        f"Log in with Webex again as {who}",
        f"This link reconnects the tokenbot account of {view.email}. Sign in to Webex as "
        f"{view.email}; another person's sign-in is refused.",
        token=token,
    )


@bp.post("/relink/<token>")
def start(token: str) -> ResponseReturnValue:
    """Begin the normal Webex sign-in, bound to this browser and remembered on the link."""
    the_panel = panel()
    store = links()
    try:
        store.check(token)
    except RelinkInvalid as exc:
        return _invalid(exc.reason)
    nonce = secrets.token_urlsafe(24)
    session[_NONCE] = nonce
    verifier = the_panel.oauth.new_verifier()
    state = the_panel.store.begin_login(session_binding=sha256_hex(nonce), verifier=verifier)
    try:
        store.start(token, state_hash(state))
    except RelinkInvalid as exc:
        return _invalid(exc.reason)
    return redirect(the_panel.oauth.authorization_url(state=state, code_verifier=verifier), 303)


def relink_callback() -> BaseResponse | None:
    """Finish a sign-in started from a link; None when the state is not a link's."""
    state = request.args.get("state", "")
    view = links().for_state(state_hash(state)) if state else None
    if view is None:
        return None
    the_panel = panel()
    store = links()
    nonce = session.get(_NONCE)
    binding = sha256_hex(nonce) if isinstance(nonce, str) and nonce else ""
    try:
        verifier = the_panel.store.consume_login(
            state, session_binding=binding, max_age_seconds=LOGIN_MAX_AGE_SECONDS
        )
    except LoginStateInvalid as exc:
        log.warning("re-login callback refused: state %s", exc.reason)
        return _page(
            400,
            "This sign-in cannot be finished",
            "It was started in another browser, took too long, or was already used. Open "
            "the link again.",
        )
    code = request.args.get("code", "")
    if request.args.get("error") or not code:
        return _page(
            400,
            "Webex did not sign you in",
            "The sign-in was cancelled or refused. Nothing changed; the link still works.",
        )
    status = store.status(view.id)
    if status != "usable":
        return _invalid(status)
    sent_at = the_panel.clock.now()
    try:
        tokens = the_panel.oauth.exchange_code(code, code_verifier=verifier)
        identity = the_panel.oauth.identify(tokens.access_token)
    except OAuthError as exc:
        log.warning("re-login code exchange failed (%s)", exc.code)
        return _page(
            502,
            "Webex did not complete the sign-in",
            "Nothing was stored and the link still works. Try again in a moment.",
        )
    if identity.person_id != view.person_id:
        # Whoever is in the browser is not the account's person: drop their tokens unread.
        log.warning(
            "re-login for account %s refused: signed in as another Webex person", view.account_id
        )
        return _page(
            403,
            "You signed in as someone else",
            f"You signed in to Webex as {identity.email}, but this link is for {view.email}. "
            f"Nothing was stored, and the link still works: sign out of Webex, then open it "
            f"again and sign in as {view.email}.",
        )
    if not store.spend(view.id):
        return _invalid(store.status(view.id))
    stored = the_panel.store.save_connected(
        identity, the_panel.config.scopes, tokens, sent_at=sent_at
    )
    session.pop(_NONCE, None)
    log.info("account %s reconnected through a re-login link", stored.id)
    the_panel.tokens.forget(stored.id)
    return _page(
        200,
        f"Thank you, {identity.display_name or identity.email}",
        "Your Webex account is connected to tokenbot again. You can close this page.",
    )


@bp.post("/accounts/<int:account_id>/relink")
@login_required()
def mint(account_id: int) -> ResponseReturnValue:
    """Make a new re-login link for the account (older unused ones stop working)."""
    the_panel = panel()
    view = the_panel.store.get(account_id)  # 404 for an unknown id
    admin = current_admin()
    minutes = the_panel.runtime.settings.notify.relink_minutes
    token = links().mint(
        account_id, minutes=minutes, created_by=admin.username if admin is not None else ""
    )
    return _page(
        200,
        f"Re-login link for {view.display_name or view.email}",
        f"Send this link to {view.email}. It works once, for {minutes} minutes, and only for "
        "that Webex person.",
        link=relink_url(token),
        back=url_for("dashboard.account", account_id=account_id),
    )
