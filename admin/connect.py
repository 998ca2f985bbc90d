"""Connect Webex: start the authorization-code + PKCE flow, and take its callback.

The callback is served at the *path* of the configured redirect URI, so an integration
registered as ``http://127.0.0.1:2000/redirect.html`` works unchanged. It accepts a code only
for a state that this browser started less than ten minutes ago and never used (R-01); any
other state ends in a 400 page before a token request is sent. The state and the verifier live
in the database (only a hash of the state, the verifier encrypted), never in the cookie.
"""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import flash
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

from tokenbot.admin.panel import panel
from tokenbot.admin.principal import browser_binding
from tokenbot.admin.principal import current_admin
from tokenbot.admin.principal import login_required
from tokenbot.admin.relink import relink_callback
from tokenbot.core.errors import LoginStateInvalid
from tokenbot.core.errors import OAuthError
from tokenbot.core.logs import fingerprint

__all__ = ["LOGIN_MAX_AGE_SECONDS", "make_blueprint"]

log = logging.getLogger(__name__)
LOGIN_MAX_AGE_SECONDS = 600

_STATE_PAGES = {
    "missing": (
        "This sign-in link is incomplete",
        "The answer from Webex carried no login state, so it cannot be matched to a login "
        "started here. Start again from the panel.",
    ),
    "unknown": (
        "This sign-in is not one we started",
        "The login state is not one this panel issued. Start again from the panel.",
    ),
    "foreign": (
        "This sign-in was started in another browser",
        "A Webex sign-in must finish in the browser session that started it. Start again here.",
    ),
    "expired": (
        "This sign-in took too long",
        "A Webex sign-in must finish within ten minutes. Start again from the panel.",
    ),
    "replayed": (
        "This sign-in was already used",
        "Each Webex sign-in link works once. If the account is not connected yet, start "
        "again from the panel.",
    ),
}


_MAX_WEBEX_TEXT = 200


def _failed(
    status: int,
    title: str,
    explanation: str,
    *,
    fix: str = "",
    register: str = "",
    webex: str = "",
) -> BaseResponse:
    response = make_response(
        render_template(
            "connect_failed.html",
            status=status,
            title=title,
            explanation=explanation,
            fix=fix,
            register=register,
            webex=webex,
        ),
        status,
    )
    return _no_trace(response)


def _clean(text: str | None) -> str:
    """Cap and clean text Webex put in a URL or a body (hostile: it is shown and logged)."""
    raw = (text or "")[:_MAX_WEBEX_TEXT]
    return "".join(ch if ch.isprintable() else " " for ch in raw).strip()


def _webex_said(status: int | None, error: str, description: str) -> str:
    """Quote what Webex answered: ``HTTP 401 invalid_client: Client authentication failed``."""
    parts = [f"HTTP {status}" if status else "", _clean(error)]
    head = " ".join(p for p in parts if p)
    desc = _clean(description)
    return f"{head}: {desc}" if head and desc else head or desc


def _scope_mistake(description: str, scopes: tuple[str, ...]) -> tuple[str, str]:
    """Name the scopes to tick: those Webex named (ours only, never its text), else all of ours."""
    named = [s for s in scopes if s in description.split()]
    listed = " ".join(named or scopes)
    lead = "Webex refused these scopes" if named else "Webex refused one of the scopes requested"
    return (
        f"{lead}: {listed}.",
        "Tick these scopes on the integration at developer.webex.com, or remove them from "
        "webex.scopes in config.yaml, then connect again.",
    )


def _redirect_mistake() -> str:
    return (
        "The integration's Redirect URI must be exactly the value below (scheme, host, port "
        "and path, no trailing slash), as registered at developer.webex.com; "
        "webex.redirect_uri in config.yaml must say the same."
    )


def _exchange_failed(exc: OAuthError, redirect_uri: str) -> BaseResponse:
    """Answer a failed code exchange (or /people/me), naming the setup mistake when it is one."""
    said = _webex_said(exc.status, exc.error, exc.description)
    error = exc.error
    mentions_redirect = "redirect" in exc.description.lower()
    if error in ("invalid_client", "unauthorized_client"):
        log.warning(
            "webex connect failed: the client secret or id was refused (%s); "
            "check WEBEX_CLIENT_SECRET and WEBEX_CLIENT_ID",
            said,
        )
        return _failed(
            502,
            "Webex did not accept the client secret",
            "Webex refused this panel's client credentials when it exchanged the code for "
            "tokens. Nothing was stored.",
            fix="Check WEBEX_CLIENT_SECRET (and WEBEX_CLIENT_ID): copy them again from your "
            "integration at developer.webex.com > My Webex Apps (regenerate the secret if it "
            "was lost), restart tokenbot, and connect again.",
            webex=said,
        )
    if mentions_redirect and error in ("invalid_grant", "invalid_request", "redirect_uri_mismatch"):
        log.warning(
            "webex connect failed: redirect URI mismatch (%s); register exactly %s",
            said,
            redirect_uri,
        )
        return _failed(
            502,
            "The redirect URI does not match the integration",
            "Webex refused the code because the redirect URI differs from the one it knows.",
            fix=_redirect_mistake(),
            register=redirect_uri,
            webex=said,
        )
    log.warning("webex code exchange failed (%s): %s", exc.code, said or exc.message)
    return _failed(
        502,
        "Webex did not complete the sign-in",
        "The authorization code could not be exchanged for tokens, or Webex did not "
        "say who signed in. Nothing was stored. Try again in a moment; if it keeps "
        "failing, check the integration's client id, secret and redirect URI.",
        webex=said,
    )


def _no_trace(response: BaseResponse) -> BaseResponse:
    # The callback URL carries the code and state: do not let it leak through Referer or be
    # cached (RFC 9700 §4.2, §4.3).
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def make_blueprint(callback_path: str) -> Blueprint:
    """Build the connect blueprint with the callback at `callback_path`."""
    bp = Blueprint("connect", __name__)

    @bp.post("/connect")
    @login_required()
    def start() -> ResponseReturnValue:
        """Begin a Webex login bound to this browser and send the browser to Webex."""
        the_panel = panel()
        verifier = the_panel.oauth.new_verifier()
        state = the_panel.store.begin_login(session_binding=browser_binding(), verifier=verifier)
        url = the_panel.oauth.authorization_url(state=state, code_verifier=verifier)
        log.info("webex login started", extra={"state": fingerprint(state)})
        return redirect(url, code=303)

    @bp.get(callback_path)
    def callback() -> ResponseReturnValue:
        """Finish a Webex login: check the state, redeem the code, identify, store."""
        relinked = relink_callback()  # a sign-in started from a re-login link (admin.relink)
        if relinked is not None:
            return relinked
        if current_admin() is None:
            # Never redirect with the code in ``next``; the login must be started again.
            return _failed(
                401,
                "Log in to the panel first",
                "Your panel session ended before Webex answered. Log in and connect again.",
            )
        the_panel = panel()
        args = request.args
        state = args.get("state", "")
        if args.get("error"):
            # Spend the state anyway, so the same link cannot be used again.
            if state:
                try:
                    the_panel.store.consume_login(
                        state,
                        session_binding=browser_binding(),
                        max_age_seconds=LOGIN_MAX_AGE_SECONDS,
                    )
                except LoginStateInvalid:
                    pass
            if args.get("error") == "access_denied":
                log.info("webex consent denied")
                return _failed(
                    400,
                    "Webex access was not granted",
                    "The sign-in was cancelled or consent was declined on the Webex page. "
                    "Nothing was connected.",
                )
            error = _clean(args.get("error"))[:64]
            description = _clean(args.get("error_description"))
            said = _webex_said(None, error, description)
            scopes = the_panel.config.scopes
            if error == "invalid_scope":
                explanation, fix = _scope_mistake(description, scopes)
                log.warning("webex connect failed: %s (%s); %s", explanation, said, fix)
                return _failed(
                    400, "The integration lacks a scope", explanation, fix=fix, webex=said
                )
            if "redirect" in description.lower():
                redirect_uri = the_panel.config.redirect_uri
                log.warning(
                    "webex connect failed: redirect URI mismatch (%s); register exactly %s",
                    said,
                    redirect_uri,
                )
                return _failed(
                    400,
                    "The redirect URI does not match the integration",
                    "Webex refused the sign-in because of the redirect URI.",
                    fix=_redirect_mistake(),
                    register=redirect_uri,
                    webex=said,
                )
            log.warning("webex authorize error (%s)", said)
            return _failed(
                400,
                "Webex refused the sign-in",
                "Webex answered with an error instead of an authorization. Check the "
                "integration's redirect URI and scopes, then try again.",
                webex=said,
            )
        if not state:
            return _failed(400, *_STATE_PAGES["missing"])
        try:
            verifier = the_panel.store.consume_login(
                state, session_binding=browser_binding(), max_age_seconds=LOGIN_MAX_AGE_SECONDS
            )
        except LoginStateInvalid as exc:
            log.warning("webex callback refused: state %s", exc.reason)
            return _failed(400, *_STATE_PAGES[exc.reason])
        code = args.get("code", "")
        if not code:
            return _failed(
                400,
                "Webex sent no authorization code",
                "The answer from Webex is incomplete. Start again from the panel.",
            )
        sent_at = the_panel.clock.now()
        try:
            tokens = the_panel.oauth.exchange_code(code, code_verifier=verifier)
            identity = the_panel.oauth.identify(tokens.access_token)
        except OAuthError as exc:
            return _exchange_failed(exc, the_panel.config.redirect_uri)
        if not tokens.refresh_token:
            log.warning("webex connect failed: the token answer carried no refresh_token")
            return _failed(
                502,
                "Webex returned no refresh token",
                "Webex issued an access token but no refresh token, so tokenbot could not "
                "keep this account signed in. Nothing was stored.",
                fix="Check that the integration is a Webex integration (not a bot or a "
                "personal token) and that webex.token_url points at Webex's "
                "/v1/access_token, then connect again.",
            )
        view = the_panel.store.save_connected(
            identity, the_panel.config.scopes, tokens, sent_at=sent_at
        )
        account_id = view.id
        log.info("webex account connected", extra={"account_id": account_id})
        if the_panel.store.bot_identity() is None:
            # The first account is the obvious bot identity; the admin can change it.
            the_panel.store.set_bot_identity(account_id)
        flash(f"Connected {identity.display_name or identity.email} ({identity.email}).", "ok")
        response = redirect(url_for("dashboard.account", account_id=account_id), code=303)
        return _no_trace(response)

    return bp
