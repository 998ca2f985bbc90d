"""Grants, codes and tokens: the token endpoint's logic, free of HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from datetime import timedelta
from typing import Any

from tokenbot.emulator.errors import OAuthError
from tokenbot.emulator.ids import new_uuid
from tokenbot.emulator.ids import opaque_token
from tokenbot.emulator.model import AccessToken
from tokenbot.emulator.model import AuthCode
from tokenbot.emulator.model import Consent
from tokenbot.emulator.model import Grant
from tokenbot.emulator.model import Integration
from tokenbot.emulator.model import Person
from tokenbot.emulator.model import RefreshToken
from tokenbot.emulator.state import EmulatorState

BAD_REFRESH = "The refresh token provided is expired, revoked, malformed, or invalid."
BAD_CODE = "The authorization code provided is expired, used, malformed, or invalid."


def pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    """Return True when the verifier answers the challenge (S256 or plain)."""
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    else:
        computed = verifier
    return hmac.compare_digest(computed, challenge)


def authenticate_client(state: EmulatorState, client_id: str, secret: str) -> Integration:
    """Return the integration when id and secret match, else raise invalid_client."""
    integration = state.integrations.get(client_id)
    if integration is None or not hmac.compare_digest(
        integration.client_secret.encode(), secret.encode()
    ):
        raise OAuthError(
            "invalid_client",
            "Client authentication failed: unknown client_id or wrong client_secret.",
            state.settings.invalid_client_status,
        )
    return integration


def create_code(state: EmulatorState, consent: Consent, person: Person) -> str:
    """Issue a single-use authorization code for an approved consent."""
    with state.lock:
        code = opaque_token(state.org_uuid, cluster="PF84")
        state.codes[code] = AuthCode(
            client_id=consent.client_id,
            redirect_uri=consent.redirect_uri,
            person_uuid=person.uuid,
            scopes=list(consent.scopes),
            challenge=consent.challenge,
            challenge_method=consent.challenge_method,
            expires_at=state.clock.now() + timedelta(seconds=state.settings.code_lifetime),
        )
        return code


def issue_grant(
    state: EmulatorState, client_id: str, person_uuid: str, scopes: list[str]
) -> tuple[Grant, dict[str, Any]]:
    """Create a grant with fresh tokens; return it and the token response."""
    with state.lock:
        now = state.clock.now()
        grant = Grant(
            uuid=new_uuid(),
            client_id=client_id,
            person_uuid=person_uuid,
            scopes=list(scopes),
            created=now,
        )
        state.grants[grant.uuid] = grant
        refresh = opaque_token(state.org_uuid)
        state.refresh_tokens[refresh] = RefreshToken(
            grant_uuid=grant.uuid,
            expires_at=now + timedelta(seconds=state.settings.refresh_token_lifetime),
        )
        return grant, _token_response(state, grant, refresh, now)


def _token_response(
    state: EmulatorState, grant: Grant, refresh: str, now: datetime
) -> dict[str, Any]:
    lifetime = state.settings.access_token_lifetime
    access = opaque_token(state.org_uuid)
    state.access_tokens[access] = AccessToken(
        grant_uuid=grant.uuid, expires_at=now + timedelta(seconds=lifetime)
    )
    remaining = (state.refresh_tokens[refresh].expires_at - now).total_seconds()
    body: dict[str, Any] = {
        "access_token": access,
        "expires_in": lifetime,
        "refresh_token": refresh,
        "refresh_token_expires_in": max(0, int(remaining)),
        "token_type": "Bearer",
    }
    if state.settings.token_response_scope:
        body["scope"] = " ".join(grant.scopes)
    if state.settings.omit_refresh_token:
        del body["refresh_token"], body["refresh_token_expires_in"]
    if state.settings.omit_expires_in:
        del body["expires_in"]
    return body


def exchange_code(state: EmulatorState, form: dict[str, str]) -> dict[str, Any]:
    """Answer `grant_type=authorization_code`."""
    with state.lock:
        integration = authenticate_client(
            state, form.get("client_id", ""), form.get("client_secret", "")
        )
        code = state.codes.get(form.get("code", ""))
        now = state.clock.now()
        if code is None or code.client_id != integration.client_id:
            raise OAuthError("invalid_grant", BAD_CODE)
        if code.used:
            # A replayed code means it leaked: revoke what it issued (RFC 6749 section 4.1.2).
            if code.grant_uuid and code.grant_uuid in state.grants:
                state.grants[code.grant_uuid].revoked = True
            raise OAuthError("invalid_grant", BAD_CODE)
        if now >= code.expires_at:
            raise OAuthError("invalid_grant", BAD_CODE)
        if form.get("redirect_uri", "") != code.redirect_uri:
            raise OAuthError(
                "invalid_grant", "The redirect_uri does not match the one used to authorize."
            )
        verifier = form.get("code_verifier")
        if code.challenge is not None:
            if not verifier or not pkce_matches(
                verifier, code.challenge, code.challenge_method or ""
            ):
                raise OAuthError("invalid_grant", "The code_verifier does not match the challenge.")
        elif verifier:
            raise OAuthError(
                "invalid_grant", "A code_verifier was sent but no code_challenge was authorized."
            )
        code.used = True
        grant, body = issue_grant(state, code.client_id, code.person_uuid, code.scopes)
        code.grant_uuid = grant.uuid
        return body


def refresh(state: EmulatorState, form: dict[str, str]) -> dict[str, Any]:
    """Answer `grant_type=refresh_token` following the token policy settings."""
    with state.lock:
        integration = authenticate_client(
            state, form.get("client_id", ""), form.get("client_secret", "")
        )
        value = form.get("refresh_token", "")
        token = state.refresh_tokens.get(value)
        now = state.clock.now()
        grant = state.grants.get(token.grant_uuid) if token else None
        if (
            token is None
            or grant is None
            or not token.valid
            or grant.revoked
            or grant.client_id != integration.client_id
            or now >= token.expires_at
        ):
            raise OAuthError("invalid_grant", BAD_REFRESH)
        settings = state.settings
        if settings.revoke_old_access_tokens_on_refresh:
            for access in state.access_tokens.values():
                if access.grant_uuid == grant.uuid:
                    access.expires_at = min(access.expires_at, now)
        expires_at = token.expires_at
        if settings.reset_refresh_lifetime:
            expires_at = now + timedelta(seconds=settings.refresh_token_lifetime)
        if settings.rotate_refresh_tokens:
            token.valid = False
            value = opaque_token(state.org_uuid)
            state.refresh_tokens[value] = RefreshToken(grant_uuid=grant.uuid, expires_at=expires_at)
        else:
            token.expires_at = expires_at
        return _token_response(state, grant, value, now)


def resolve_access_token(state: EmulatorState, value: str) -> tuple[Grant, Person] | None:
    """Return the grant and person behind a live access token, or None."""
    with state.lock:
        token = state.access_tokens.get(value)
        if token is None or state.clock.now() >= token.expires_at:
            return None
        grant = state.grants.get(token.grant_uuid)
        if grant is None or grant.revoked:
            return None
        person = state.people.get(grant.person_uuid)
        if person is None:
            return None
        return grant, person


def revoke_grants(state: EmulatorState, email: str | None, client_id: str | None) -> int:
    """Revoke every grant matching the person and/or client; return how many."""
    with state.lock:
        person = state.person_by_email(email) if email else None
        if email and person is None:
            return 0
        count = 0
        for grant in state.grants.values():
            if grant.revoked:
                continue
            if person is not None and grant.person_uuid != person.uuid:
                continue
            if client_id is not None and grant.client_id != client_id:
                continue
            grant.revoked = True
            count += 1
        return count
