"""OAuth 2.0 for integrations: `/v1/authorize` (consent page) and `/v1/access_token`."""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from flask import Blueprint
from flask import Response
from flask import render_template
from flask import request

from tokenbot.emulator.calls import note_call
from tokenbot.emulator.errors import OAuthError
from tokenbot.emulator.errors import json_response
from tokenbot.emulator.model import Consent
from tokenbot.emulator.rest.auth import state
from tokenbot.emulator.tokens import create_code
from tokenbot.emulator.tokens import exchange_code
from tokenbot.emulator.tokens import refresh

bp = Blueprint("oauth", __name__, url_prefix="/v1")


def _error_page(message: str, status: int = 400) -> Response:
    """Show an error without redirecting: the redirect URI cannot be trusted."""
    return Response(render_template("error.html", message=message), status=status)


def _back(redirect_uri: str, params: dict[str, str | None]) -> Response:
    """Redirect to the client with `params` appended to its query."""
    parts = urlsplit(redirect_uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    location = urlunsplit(parts._replace(query=query))
    return Response(status=302, headers={"Location": location})


@bp.get("/authorize")
def authorize() -> Response:
    """Validate an authorization request, then show consent (or auto-approve)."""
    st = state()
    args = request.args
    client_id = args.get("client_id", "")
    redirect_uri = args.get("redirect_uri", "")
    client_state = args.get("state")
    with st.lock:
        integration = st.integrations.get(client_id)
        if integration is None:
            return _error_page("Unknown client_id: no integration is registered with it.")
        if redirect_uri not in integration.redirect_uris:
            return _error_page("The redirect_uri is not registered for this integration.")

        def fail(error: str, description: str) -> Response:
            params = {"error": error, "error_description": description, "state": client_state}
            return _back(redirect_uri, params)

        if args.get("response_type") != "code":
            return fail("unsupported_response_type", "Only response_type=code is supported.")
        scopes = (args.get("scope") or "").split()
        if not scopes:
            return fail("invalid_scope", "The requested scope is invalid.")
        unknown = [s for s in scopes if s not in integration.scopes]
        if unknown:
            return fail("invalid_scope", f"The requested scope is invalid: {' '.join(unknown)}")
        challenge = args.get("code_challenge") or None
        method = args.get("code_challenge_method") or None
        if challenge is None and method is not None:
            return fail("invalid_request", "code_challenge_method without code_challenge.")
        if challenge is not None:
            method = method or "plain"
            if method not in ("S256", "plain") or (
                method == "plain" and not st.settings.allow_plain_pkce
            ):
                return fail("invalid_request", f"Unsupported code_challenge_method: {method}")
        elif st.settings.require_pkce:
            return fail("invalid_request", "PKCE (code_challenge) is required.")
        consent = Consent(
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=client_state,
            challenge=challenge,
            challenge_method=method,
            created=st.clock.now(),
        )
        auto = st.settings.auto_approve
        if auto:
            person = st.person_by_email(auto)
            if person is None:
                return _error_page(f"auto_approve names an unknown person: {auto}", 500)
            code = create_code(st, consent, person)
            return _back(redirect_uri, {"code": code, "state": client_state})
        consent_id = secrets.token_urlsafe(24)
        st.consents[consent_id] = consent
        people = sorted(st.people.values(), key=lambda p: p.email)
        page = render_template(
            "consent.html",
            consent_id=consent_id,
            integration=integration,
            scopes=scopes,
            people=people,
        )
        return Response(page, status=200)


@bp.post("/authorize")
def decide() -> Response:
    """Apply the person's decision from the consent page."""
    st = state()
    form = request.form
    with st.lock:
        consent = st.consents.pop(form.get("consent_id", ""), None)
        if consent is None:
            return _error_page("This consent request is unknown or was already answered.")
        if st.clock.now() - consent.created > timedelta(seconds=st.settings.code_lifetime):
            return _error_page("This consent request has expired; start again.")
        if form.get("decision") != "approve":
            params = {
                "error": "access_denied",
                "error_description": "The user denied the request.",
                "state": consent.state,
            }
            return _back(consent.redirect_uri, params)
        person = st.person_by_email(form.get("email", ""))
        if person is None:
            return _error_page("Pick a sandbox person to sign in as.")
        code = create_code(st, consent, person)
        return _back(consent.redirect_uri, {"code": code, "state": consent.state})


@bp.post("/access_token")
def access_token() -> Response:
    """Exchange a code or a refresh token (client_secret_post; Basic when enabled)."""
    st = state()
    form = {k: v for k, v in request.form.items()}
    if not st.settings.accept_body_auth and "client_secret" in form:
        note_call(grant_type=form.get("grant_type", ""), client_id=form.get("client_id", ""))
        raise OAuthError(
            "invalid_client",
            "Client authentication failed: send the client credentials with HTTP Basic.",
            401,
        )
    basic = request.authorization
    if basic is not None and basic.type == "basic" and st.settings.accept_basic_auth:
        form.setdefault("client_id", basic.username or "")
        form.setdefault("client_secret", basic.password or "")
    grant_type = form.get("grant_type", "")
    note_call(grant_type=grant_type, client_id=form.get("client_id", ""))
    if grant_type == "authorization_code":
        return json_response(exchange_code(st, form))
    if grant_type == "refresh_token":
        return json_response(refresh(st, form))
    raise OAuthError("unsupported_grant_type", f"Unsupported grant_type: {grant_type!r}")
