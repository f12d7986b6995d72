"""Who is asking: a bearer access token from our own OP, or the login session cookie.

A bearer token, when present, decides alone: an invalid one is refused even if a valid cookie
rides along (RFC 6750 §3.1), so a stolen cookie cannot launder a forged token or the reverse.
Only `Bearer` is ours; another scheme (an app's own Basic auth) is left for the upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from zerogate._types import UserID
from zerogate.errors import NotFound, ZerogateError
from zerogate.gateway.check._caches import Principal, RevokedSessions, SessionCache, TTLCache
from zerogate.gateway.check._handoff import HostSessions
from zerogate.identity import (
    ActiveSession,
    Directory,
    SessionInvalid,
    Sessions,
    User,
    parse_session_cookie,
    session_id,
)
from zerogate.identity.oidc import ACR
from zerogate.tokens import TokenError, TokenType, VerificationKeys, VerifiedToken, verify

IDP = "zerogate"  # `context.authn.idp` for identities of the built-in provider
_STRONG = frozenset({ACR.MFA.value, ACR.PHISHING_RESISTANT.value})


class TokenStatus(Protocol):
    """Is this verified access token still active (its grant not revoked)? Raising fails closed.

    The composition root wires one over the OpenID provider's grants; without it a token stays
    usable until it expires unless its session's revocation event reached `Checker.drop_sessions`.
    """

    async def __call__(self, token: VerifiedToken, /, *, now: datetime) -> bool: ...


class CredentialsRejected(ZerogateError):
    """Credentials were presented but are not acceptable; the caller sees only "sign in again".

    `reason` (a token error code, `session_invalid`, ...) is for the audit log and `bearer` says
    which challenge to answer with.
    """

    code = "credentials_invalid"
    status = 401

    def __init__(self, reason: str, *, bearer: bool, session_id: str | None = None) -> None:
        super().__init__("credentials rejected: sign in again")
        self.reason = reason
        self.bearer = bearer
        self.session_id = session_id


PEER_AMR = "x509"  # the schema's amr for a client certificate (docs/policy.md)


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated principal and how it authenticated (the PDP's `context.authn`)."""

    principal: Principal
    via: Literal["session", "bearer", "peer"]  # peer: a workload's verified certificate
    session_id: str | None
    amr: tuple[str, ...]
    mfa: bool
    mfa_age_s: int | None
    auth_age_s: int
    acr: str
    client_id: str | None = None


class Authenticator:
    """Turns a request's credentials into an `Identity`, or None when there are none."""

    def __init__(
        self,
        sessions: Sessions,
        directory: Directory,
        keys: VerificationKeys,
        *,
        issuer: str,
        principals: TTLCache[str, Principal],
        session_cache: SessionCache | None,
        revoked: RevokedSessions,
        token_status: TokenStatus | None,
        host_sessions: HostSessions | None = None,
    ) -> None:
        self._host_sessions = host_sessions
        self._sessions = sessions
        self._directory = directory
        self._keys = keys
        self._issuer = issuer
        self._principals = principals
        self._session_cache = session_cache
        self._revoked = revoked
        self._token_status = token_status

    async def authenticate(
        self,
        cookie: str | None,
        authorization: str | None,
        *,
        now: datetime,
        host: str | None = None,
    ) -> Identity | None:
        """Raises CredentialsRejected for refused credentials; store errors propagate.

        Credentials, strongest first: a bearer token; the IdP's session cookie (same host as the
        sign-in pages); the gateway's per-host cookie naming an IdP session (`_handoff`).
        """
        token = bearer_token(authorization)
        if token is not None:
            return await self._bearer(token, now)
        session_token = parse_session_cookie(cookie)
        if session_token is not None:
            return await self._session(session_id(session_token), now)
        if self._host_sessions is not None and host is not None:
            sid = self._host_sessions.session_id(cookie, host=host, now=now)
            if sid is not None:
                return await self._session(sid, now)
        return None

    async def _session(self, sid: str, now: datetime) -> Identity:
        cache = self._session_cache
        session = cache.get(sid) if cache is not None else None
        if session is None:
            try:
                session = await self._sessions.resolve_id(sid, now=now)
            except SessionInvalid as exc:
                raise CredentialsRejected(
                    f"session_{exc.reason}", bearer=False, session_id=sid
                ) from None
            if cache is not None:
                cache.put(session)
        principal = self._principals.get(session.username)
        if principal is None or principal.user_id != session.user_id:  # a reused username
            user = await self._user(session.user_id, bearer=False)
            principal = await self._load(user)
        return _session_identity(principal, session, now)

    async def _bearer(self, token: str, now: datetime) -> Identity:
        try:
            verified = verify(
                token,
                keys=self._keys,
                expected_type=TokenType.ACCESS,  # an ID token is no access token (JWT-A15)
                expected_issuer=self._issuer,
                expected_audience=self._issuer,
                now=now,
            )
        except TokenError as exc:
            raise CredentialsRejected(exc.code, bearer=True) from None
        claims = verified.claims
        sid = claims.get("sid")
        sid = sid if isinstance(sid, str) else None
        if sid is not None and sid in self._revoked:
            raise CredentialsRejected("token_session_revoked", bearer=True, session_id=sid)
        auth_time = claims.get("auth_time")
        if type(auth_time) is not int or verified.subject is None:
            raise CredentialsRejected("token_claims_invalid", bearer=True, session_id=sid)
        # The user's state is read fresh for every bearer request: a disabled user's tokens stop
        # at once, even where no revocation event arrives (ASVS 5.0 7.4.2).
        user = await self._user(UserID(verified.subject), bearer=True)
        if user.disabled or user.locked(now=now):
            raise CredentialsRejected("token_user_disabled", bearer=True, session_id=sid)
        if self._token_status is not None and not await self._token_status(verified, now=now):
            raise CredentialsRejected("token_inactive", bearer=True, session_id=sid)
        principal = self._principals.get(user.username)
        if principal is None or principal.user_id != user.id:
            principal = await self._load(user)
        amr = claims.get("amr")
        methods = tuple(m for m in amr if isinstance(m, str)) if isinstance(amr, list) else ()
        acr = claims.get("acr")
        acr = acr if isinstance(acr, str) else ACR.PASSWORD.value
        auth_age_s = max(0, int(now.timestamp()) - auth_time)
        mfa = acr in _STRONG
        client_id = claims.get("client_id")
        return Identity(
            principal=principal,
            via="bearer",
            session_id=sid,
            amr=methods,
            mfa=mfa,
            # The token says when the user signed in, not when they last proved a second factor;
            # a step-up is never earlier than the sign-in, so this age is never an underestimate.
            mfa_age_s=auth_age_s if mfa else None,
            auth_age_s=auth_age_s,
            acr=acr,
            client_id=client_id if isinstance(client_id, str) else None,
        )

    async def _user(self, user_id: UserID, *, bearer: bool) -> User:
        try:
            return await self._directory.get_user_by_id(user_id)
        except NotFound:
            raise CredentialsRejected("user_unknown", bearer=bearer) from None

    async def _load(self, user: User) -> Principal:
        groups = await self._directory.groups_of(user.username)
        principal = Principal(
            user.id, user.username, user.email, user.display_name, tuple(g.name for g in groups)
        )
        self._principals.put(user.username, principal)
        return principal


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).

    "" for a Bearer header without a token: that is a failed bearer attempt, not "no credentials".
    """
    if authorization is None:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


def _session_identity(principal: Principal, session: ActiveSession, now: datetime) -> Identity:
    mfa = session.mfa_at is not None
    if "hwk" in session.amr or "swk" in session.amr:
        acr = ACR.PHISHING_RESISTANT
    else:
        acr = ACR.MFA if mfa else ACR.PASSWORD
    return Identity(
        principal=principal,
        via="session",
        session_id=session.id,
        amr=session.amr,
        mfa=mfa,
        mfa_age_s=session.mfa_age_s(now),
        auth_age_s=session.auth_age_s(now),
        acr=acr.value,
    )


def peer_identity(spiffe_id: str) -> Identity:
    """A workload known only by the client certificate Envoy verified (`Workload` in Cedar).

    Used when a request carries no user credentials; a person's request over mutual TLS stays
    the person's, with the certificate in `context.network.peer_spiffe_id`.
    """
    principal = Principal(spiffe_id, spiffe_id, "", None, ())
    return Identity(
        principal=principal,
        via="peer",
        session_id=None,
        amr=(PEER_AMR,),
        mfa=False,
        mfa_age_s=None,
        auth_age_s=0,  # proven in this connection's handshake
        acr=ACR.PHISHING_RESISTANT.value,  # a key the peer holds, bound to the channel
    )


__all__ = [
    "IDP",
    "PEER_AMR",
    "Authenticator",
    "CredentialsRejected",
    "Identity",
    "TokenStatus",
    "bearer_token",
    "peer_identity",
]
