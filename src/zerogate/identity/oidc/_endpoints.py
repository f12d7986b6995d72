"""Token revocation (RFC 7009) and introspection (RFC 7662) over refresh tokens and JWT access tokens.

Revoking either kind of token revokes its grant, so every token of that sign-in stops working
(RFC 7009 §2.1 allows revoking the related tokens too). Introspection answers only the client the
token was issued to (RFC 7662 §4: the server decides who may learn about a token).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from zerogate.identity.oidc import _context, _db
from zerogate.identity.oidc._server import ClientAdapter
from zerogate.tokens import TokenError, TokenType, verify


class TokenRef:
    """A token of ours, found by value: which grant it belongs to and what it says."""

    def __init__(self, grant: _db.GrantRow, kind: str, claims: dict[str, Any]) -> None:
        self.grant = grant
        self.kind = kind
        self.claims = claims

    def check_client(self, client: ClientAdapter) -> bool:
        return self.grant.client_id == client.get_client_id()

    def is_expired(self) -> bool:
        return False  # `find_token(active_only=True)` already dropped expired tokens

    def is_revoked(self) -> bool:
        return False  # ... and revoked ones


def find_token(value: str, hint: str | None, *, active_only: bool) -> TokenRef | None:
    """Our refresh or access token with this value, or None (unknown, or inactive if asked)."""
    order = (
        ("access_token", "refresh_token")
        if hint == "access_token"
        else ("refresh_token", "access_token")
    )
    for kind in order:
        ref = (
            _refresh(value, active_only) if kind == "refresh_token" else _access(value, active_only)
        )
        if ref is not None:
            return ref
    return None


def _live(grant: _db.GrantRow) -> bool:
    now = _context.current().now
    return grant.revoked_at is None and grant.expires_at > now


def _refresh(value: str, active_only: bool) -> TokenRef | None:
    ctx = _context.current()
    row = _db.find_refresh(ctx.conn, _db.digest(value))
    if row is None:
        return None
    grant = _db.find_grant(ctx.conn, row.grant_id)
    if grant is None:
        return None
    if active_only and (not _live(grant) or row.used_at is not None or row.expires_at <= ctx.now):
        return None
    claims = {
        "sub": grant.user_id,
        "client_id": grant.client_id,
        "scope": grant.scope,
        "exp": int(row.expires_at.timestamp()),
        "sid": grant.session_id,
    }
    return TokenRef(grant, "refresh_token", claims)


def _access(value: str, active_only: bool) -> TokenRef | None:
    ctx = _context.current()
    try:
        verified = verify(
            value,
            keys=ctx.keys,
            expected_type=TokenType.ACCESS,
            expected_issuer=ctx.settings.issuer,
            expected_audience=ctx.settings.issuer,
            now=ctx.now,
        )
    except TokenError:
        return None  # not ours, or expired: inactive either way (revoking it is a no-op)
    grant_id = verified.claims.get("gid")
    grant = _db.find_grant(ctx.conn, grant_id) if isinstance(grant_id, str) else None
    if grant is None or (active_only and not _live(grant)):
        return None
    return TokenRef(grant, "access_token", dict(verified.claims))


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRef | None:
        return find_token(token_string, token_type_hint, active_only=False)

    def revoke_token(self, token: TokenRef, request: Any) -> None:
        ctx = _context.current()
        _db.revoke_grants(
            ctx.conn, grant_ids=[token.grant.id], reason="revoked_by_client", now=ctx.now
        )


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRef | None:
        return find_token(token_string, token_type_hint, active_only=True)

    def check_permission(self, token: TokenRef, client: ClientAdapter, request: Any) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: TokenRef) -> dict[str, Any]:
        ctx = _context.current()
        body: dict[str, Any] = {
            "active": True,
            "iss": ctx.settings.issuer,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            **{
                k: token.claims[k]
                for k in (
                    "sub",
                    "client_id",
                    "scope",
                    "exp",
                    "iat",
                    "nbf",
                    "jti",
                    "sid",
                    "aud",
                    "auth_time",
                    "acr",
                )
                if k in token.claims
            },
        }
        if "preferred_username" in token.claims:
            body["username"] = token.claims["preferred_username"]
        return body
