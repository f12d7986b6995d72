"""`OIDCProvider`: the OpenID Connect provider's one async face, free of any web framework.

Each method takes an `OIDCRequest` and returns an `OIDCResponse` (or, for the authorization
endpoint, what the browser must do first). Every call runs in one store transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode, urlsplit

import orjson
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import OAuth2Error
from sqlalchemy import Connection

from zerogate.identity import _db as identity_db
from zerogate.identity._sessions import ActiveSession, SessionsRevoked
from zerogate.identity.oidc import _claims, _context, _db
from zerogate.identity.oidc._discovery import metadata
from zerogate.identity.oidc._endpoints import Introspection, Revocation
from zerogate.identity.oidc._logout import EndSession, LogoutNotice, check_end_session, notices
from zerogate.identity.oidc._model import (
    ACR,
    ConsentRequired,
    LoginNeed,
    LoginRequired,
    OIDCError,
    OIDCRequest,
    OIDCResponse,
    ProviderSettings,
    acr_of,
)
from zerogate.identity.oidc._server import Request, build_server
from zerogate.store import Store
from zerogate.tokens import SigningKeys, TokenError, TokenType, verify

T = TypeVar("T")
AUTH_AFTER = "zg_auth_after"  # set by us when sending the browser to re-authenticate
STEPPED_UP = "zg_step_up"  # set by us when sending the browser to step up (loop guard)


def revoke_grants_for_sessions(conn: Connection, change: SessionsRevoked, /) -> None:
    """A `SessionRecorder`: ending login sessions ends every grant they gave, in that transaction."""
    reason = f"session_{change.reason}"[:100]
    _db.revoke_grants(conn, session_ids=change.session_ids, reason=reason, now=change.at)


class ProviderKeys(SigningKeys, Protocol):
    """A key ring that can also publish its JWKS (`KeyRing`, `StoreKeyRing`)."""

    def jwks(self, now: datetime) -> dict[str, Any]: ...


Authorization = OIDCResponse | LoginRequired | ConsentRequired


class OIDCProvider:
    """Discovery, JWKS, authorization, token, userinfo, revocation, introspection and logout."""

    def __init__(self, store: Store, keys: ProviderKeys, settings: ProviderSettings) -> None:
        self._store = store
        self._keys = keys
        self.settings = settings
        self._server = build_server()
        self._server.register_endpoint(Revocation)
        self._server.register_endpoint(Introspection)

    # Published documents

    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider Metadata document (OIDC Discovery §3)."""
        return metadata(self.settings.issuer)

    def jwks(self, now: datetime) -> dict[str, Any]:
        """Public keys, including a key announced before it signs (OIDC-09)."""
        return self._keys.jwks(now)

    # Endpoints

    async def authorize(
        self, req: OIDCRequest, session: ActiveSession | None, *, now: datetime
    ) -> Authorization:
        """The authorization endpoint: a redirect to the client (code or error), or what the
        browser must do first (log in, step up, consent). Raises OIDCError when the request
        cannot safely be sent back to the client (unknown client, unregistered redirect URI).
        """
        return await self._call(now, lambda conn: self._authorize(conn, req, session, now))

    async def consent(
        self, req: OIDCRequest, session: ActiveSession, *, approved: bool, now: datetime
    ) -> Authorization:
        """Record the user's answer on the consent page, then continue the authorization."""

        def run(conn: Connection) -> Authorization:
            if approved:
                data = dict(req.query)
                client_id = data.get("client_id", "")
                if _db.find_client(conn, client_id) is not None:
                    scopes = set(data.get("scope", "").split())
                    known = _db.consented_scopes(conn, session.user_id, client_id)
                    _db.save_consent(conn, session.user_id, client_id, scopes | known, now=now)
            else:
                req_denied = OIDCRequest(
                    req.method, req.url, req.headers, (*req.query, ("zg_denied", "1"))
                )
                return self._authorize(conn, req_denied, session, now)
            return self._authorize(conn, req, session, now)

        return await self._call(now, run)

    async def token(self, req: OIDCRequest, *, now: datetime) -> OIDCResponse:
        """The token endpoint: authorization_code (with PKCE) and refresh_token grants."""
        return await self._call(
            now, lambda conn: self._guard(lambda: self._server.create_token_response(Request(req)))
        )

    async def revoke(self, req: OIDCRequest, *, now: datetime) -> OIDCResponse:
        """RFC 7009 revocation; revoking any token of a sign-in revokes them all."""
        return await self._call(
            now,
            lambda conn: self._guard(
                lambda: self._server.create_endpoint_response("revocation", Request(req))
            ),
        )

    async def introspect(self, req: OIDCRequest, *, now: datetime) -> OIDCResponse:
        """RFC 7662 introspection, for the confidential client the token was issued to."""
        return await self._call(
            now,
            lambda conn: self._guard(
                lambda: self._server.create_endpoint_response("introspection", Request(req))
            ),
        )

    async def userinfo(self, req: OIDCRequest, *, now: datetime) -> OIDCResponse:
        """The UserInfo endpoint (OIDC Core §5.3): bearer access token in the header."""
        return await self._call(now, lambda conn: self._userinfo(conn, req, now))

    async def end_session(self, req: OIDCRequest, *, now: datetime) -> EndSession:
        """Validate an RP-initiated logout request; raises OIDCError if it is not acceptable."""
        return await self._call(
            now, lambda conn: check_end_session(conn, req, self._keys, self.settings, now)
        )

    # Revocation hooks

    async def logout_notices(self, session_ids: list[str], *, now: datetime) -> list[LogoutNotice]:
        """Back-channel logout tokens to deliver for these ended sessions (OIDC-11)."""
        return await self._call(
            now, lambda conn: notices(conn, session_ids, self._keys, self.settings, now)
        )

    # Plumbing

    async def _call(self, now: datetime, body: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self._store.begin() as conn:
                token = _context.enter(_context.CallContext(conn, now, self.settings, self._keys))
                try:
                    return body(conn)
                finally:
                    _context.leave(token)

        return await asyncio.to_thread(run)

    def _guard(self, call: Callable[[], OIDCResponse]) -> OIDCResponse:
        try:
            return call()
        except OAuth2Error as error:  # e.g. a repeated parameter, raised before authlib's handling
            return self._server.handle_error_response(None, error)  # type: ignore[no-any-return]

    def _authorize(
        self, conn: Connection, req: OIDCRequest, session: ActiveSession | None, now: datetime
    ) -> Authorization:
        server = self._server
        try:
            request = Request(req)
        except OAuth2Error as error:
            raise OIDCError(
                error.description or "invalid request", code="oidc_request_invalid"
            ) from None
        subject = _subject(conn, session, now)
        request.user = subject
        data = request.payload.data
        try:
            grant = server.get_authorization_grant(request)
            redirect_uri = grant.validate_consent_request()
        except OAuth2Error as error:
            error.state = data.get("state")
            if not error.redirect_uri:
                raise OIDCError(
                    error.description or error.error, code=f"oidc_{error.error}"
                ) from None
            return self._redirect_error(error)
        client = request.client.client
        scopes = request.scope.split()
        prompt = data.get("prompt", "").split()

        def fail(error: str, description: str) -> OIDCResponse:
            err = OAuth2Error(description, redirect_uri=redirect_uri, state=data.get("state"))
            err.error = error
            return self._redirect_error(err)

        if "openid" not in scopes:
            return fail("invalid_scope", "the openid scope is required")
        if data.get("zg_denied"):
            return fail("access_denied", "the user declined")
        need, acr = _login_need(session, data, prompt, now)
        if need is not None:
            if "none" in prompt:
                return fail(
                    "login_required" if need is not LoginNeed.STEP_UP else "interaction_required",
                    "the user must sign in",
                )
            if need is LoginNeed.STEP_UP and data.get(STEPPED_UP):
                return fail(
                    "unmet_authentication_requirements", "the requested acr was not reached"
                )
            return LoginRequired(need, _return_to(req, need, now), acr)
        assert session is not None
        assert subject is not None
        consented = _db.consented_scopes(conn, session.user_id, client.client_id)
        if client.consent_required and ("consent" in prompt or not set(scopes) <= consented):
            if "none" in prompt:
                return fail("consent_required", "the user has not approved this client")
            return ConsentRequired(client, tuple(scopes), _return_to(req, None, now))
        response: OIDCResponse = server.create_authorization_response(
            request, grant_user=subject, grant=grant
        )
        return _with_issuer(response, self.settings.issuer)

    def _redirect_error(self, error: OAuth2Error) -> OIDCResponse:
        return _with_issuer(self._server.handle_error_response(None, error), self.settings.issuer)

    def _userinfo(self, conn: Connection, req: OIDCRequest, now: datetime) -> OIDCResponse:
        header = next((v for k, v in req.headers.items() if k.lower() == "authorization"), "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return _bearer_error(None, "no bearer token")
        try:
            token = verify(
                value.strip(),
                keys=self._keys,
                expected_type=TokenType.ACCESS,
                expected_issuer=self.settings.issuer,
                expected_audience=self.settings.issuer,
                now=now,
            )
        except TokenError as error:
            return _bearer_error("invalid_token", error.code)
        grant_id = token.claims.get("gid")
        grant = _db.find_grant(conn, grant_id) if isinstance(grant_id, str) else None
        if grant is None or grant.revoked_at is not None or grant.expires_at <= now:
            return _bearer_error("invalid_token", "the grant was revoked")
        user = identity_db.find_user(conn, user_id=grant.user_id)
        if user is None or user.disabled:
            return _bearer_error("invalid_token", "the user is disabled")
        scopes = set(str(token.claims.get("scope", "")).split())
        if "openid" not in scopes:
            return _bearer_error("insufficient_scope", "the openid scope is required", status=403)
        body = orjson.dumps(_claims.user_claims(conn, user, scopes))
        headers = (("Content-Type", "application/json"), ("Cache-Control", "no-store"))
        return OIDCResponse(200, headers, body)


def _subject(
    conn: Connection, session: ActiveSession | None, now: datetime
) -> _claims.Subject | None:
    if session is None:
        return None
    user = identity_db.find_user(conn, user_id=session.user_id)
    if user is None or user.disabled or user.locked(now=now):
        return None
    acr = acr_of(session.amr, mfa=session.mfa_at is not None)
    return _claims.Subject(user, session.id, session.auth_time, session.amr, acr, grant_id="")


def _login_need(
    session: ActiveSession | None, data: dict[str, str], prompt: list[str], now: datetime
) -> tuple[LoginNeed | None, ACR | None]:
    if session is None:
        return LoginNeed.LOGIN, None
    auth_at = int(session.auth_time.timestamp())
    floor = _int(data.get(AUTH_AFTER))
    if floor is not None:
        if auth_at < floor:
            return LoginNeed.REAUTHENTICATE, None
    else:
        max_age = _int(data.get("max_age"))
        if "login" in prompt or (max_age is not None and auth_at + max_age < int(now.timestamp())):
            return LoginNeed.REAUTHENTICATE, None
    asked = [ACR(v) for v in data.get("acr_values", "").split() if v in ACR._value2member_map_]
    if asked:
        wanted = min(asked, key=lambda a: a.rank)
        have = acr_of(session.amr, mfa=session.mfa_at is not None)
        if have.rank < wanted.rank:
            return LoginNeed.STEP_UP, wanted
    return None, None


def _int(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 12:
        return None
    return int(value)


def _return_to(req: OIDCRequest, need: LoginNeed | None, now: datetime) -> str:
    """The authorization request again, as a relative GET URL, marked so it cannot loop."""
    pairs = list(req.query if req.method == "GET" else req.form)
    if need is LoginNeed.REAUTHENTICATE:
        max_age = _int(dict(pairs).get("max_age"))
        floor = (
            int(now.timestamp())
            if max_age is None or "login" in dict(pairs).get("prompt", "").split()
            else int(now.timestamp()) - max_age
        )
        pairs = [(k, v) for k, v in pairs if k not in ("max_age", AUTH_AFTER)]
        pairs = [
            (k, " ".join(p for p in v.split() if p != "login")) if k == "prompt" else (k, v)
            for k, v in pairs
        ]
        pairs = [(k, v) for k, v in pairs if not (k == "prompt" and not v)]
        pairs.append((AUTH_AFTER, str(floor)))
    if need is LoginNeed.STEP_UP:
        pairs.append((STEPPED_UP, "1"))
    return f"{urlsplit(req.url).path}?{urlencode(pairs)}"


def _with_issuer(response: OIDCResponse, issuer: str) -> OIDCResponse:
    """Add `iss` to an authorization response (RFC 9207: the client's mix-up defence)."""
    location = response.header("location")
    if location is None:
        return response
    headers = tuple(
        (k, add_params_to_uri(v, [("iss", issuer)]) if k.lower() == "location" else v)
        for k, v in response.headers
    )
    return OIDCResponse(response.status, headers, response.body)


def _bearer_error(error: str | None, description: str, *, status: int = 401) -> OIDCResponse:
    challenge = 'Bearer realm="zerogate"'
    if error:
        challenge += f', error="{error}", error_description="{description}"'
    body = orjson.dumps({"error": error or "invalid_request", "error_description": description})
    headers = (
        ("WWW-Authenticate", challenge),
        ("Content-Type", "application/json"),
        ("Cache-Control", "no-store"),
    )
    return OIDCResponse(status, headers, body)
