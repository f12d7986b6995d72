"""RP-initiated logout (OIDC RP-Initiated Logout 1.0) and back-channel logout tokens (OIDC-11)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from authlib.common.urls import add_params_to_uri
from sqlalchemy import Connection, select

from zerogate.identity.oidc import _db
from zerogate.identity.oidc._model import Client, OIDCError, OIDCRequest, ProviderSettings
from zerogate.store import oauth_clients, oauth_grants
from zerogate.tokens import (
    BACKCHANNEL_LOGOUT_EVENT,
    SigningKeys,
    TokenError,
    TokenType,
    issue,
    verify,
)


@dataclass(frozen=True, slots=True)
class EndSession:
    """A validated logout request: end the user's session, then go to `redirect_to` (if any)."""

    client: Client | None
    subject: str | None  # `sub` from id_token_hint: only end a session of this user
    redirect_to: str | None


@dataclass(frozen=True, slots=True)
class LogoutNotice:
    """One back-channel logout to POST (form field `logout_token`) to a client."""

    client_id: str
    uri: str
    logout_token: str = field(repr=False)


def _unverified_claims(token: str) -> dict[str, Any]:
    try:
        payload = token.split(".")[1]
        data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def check_end_session(
    conn: Connection, req: OIDCRequest, keys: SigningKeys, settings: ProviderSettings, now: datetime
) -> EndSession:
    params = dict(req.query if req.method == "GET" else req.form)
    hint = params.get("id_token_hint")
    client_id = params.get("client_id")
    subject = None
    if hint:
        peek = _unverified_claims(hint)
        aud = peek.get("aud")
        audience = aud if isinstance(aud, str) else client_id or ""
        exp = peek.get("exp")
        # An expired ID token is still a good hint (RP-Initiated Logout §2): verify it as of
        # just before it expired; its signature covers `exp`, so this cannot be gamed.
        at = now
        if isinstance(exp, int) and exp <= now.timestamp():
            at = datetime.fromtimestamp(exp - 1, tz=now.tzinfo)
        try:
            verified = verify(
                hint,
                keys=keys,
                expected_type=TokenType.ID,
                expected_issuer=settings.issuer,
                expected_audience=audience,
                now=at,
            )
        except TokenError as error:
            raise OIDCError("id_token_hint is not valid", code="logout_hint_invalid") from error
        if client_id is not None and client_id != audience:
            raise OIDCError("client_id does not match id_token_hint", code="logout_client_mismatch")
        client_id = audience
        subject = verified.subject
    client = None
    if client_id:
        found = _db.find_client(conn, client_id)
        if found is None:
            raise OIDCError("unknown client", code="oidc_invalid_client")
        client = found[0]
    redirect = params.get("post_logout_redirect_uri")
    if redirect is not None:
        if client is None or redirect not in client.post_logout_redirect_uris:
            raise OIDCError(
                "post_logout_redirect_uri is not registered for this client",
                code="logout_redirect_invalid",
            )
        state = params.get("state")
        if state:
            redirect = add_params_to_uri(redirect, [("state", state)])
    return EndSession(client=client, subject=subject, redirect_to=redirect)


def notices(
    conn: Connection,
    session_ids: list[str],
    keys: SigningKeys,
    settings: ProviderSettings,
    now: datetime,
) -> list[LogoutNotice]:
    if not session_ids:
        return []
    query = (
        select(
            oauth_grants.c.client_id,
            oauth_grants.c.user_id,
            oauth_grants.c.session_id,
            oauth_clients.c.backchannel_logout_uri,
        )
        .join(oauth_clients, oauth_clients.c.client_id == oauth_grants.c.client_id)
        .where(
            oauth_grants.c.session_id.in_(session_ids),
            oauth_clients.c.backchannel_logout_uri.is_not(None),
        )
        .distinct()
    )
    out = []
    for row in conn.execute(query):
        claims = {
            "sub": row.user_id,
            "sid": row.session_id,
            "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        }
        token = issue(
            claims,
            keys=keys,
            issuer=settings.issuer,
            typ=TokenType.LOGOUT,
            audience=row.client_id,
            now=now,
            lifetime=timedelta(minutes=2),
        )
        out.append(LogoutNotice(row.client_id, row.backchannel_logout_uri, token))
    return out
