"""Claims about a user, released by scope (OIDC Core §5.4), and the tokens that carry them."""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from zerogate.identity import _db as identity_db
from zerogate.identity._model import User
from zerogate.identity.oidc._model import ACR, ProviderSettings
from zerogate.tokens import SigningKeys, TokenType, issue


@dataclass(frozen=True, slots=True)
class Subject:
    """The signed-in user a token is for, and how and when they signed in."""

    user: User
    session_id: str
    auth_time: datetime
    amr: tuple[str, ...]
    acr: ACR
    grant_id: str


def user_claims(conn: Connection, user: User, scopes: set[str]) -> dict[str, Any]:
    """`sub` plus what the granted scopes release; `sub` is the stable user id, never reused."""
    claims: dict[str, Any] = {"sub": user.id}
    if "profile" in scopes:
        claims["preferred_username"] = user.username
        if user.display_name:
            claims["name"] = user.display_name
        claims["updated_at"] = int(user.updated_at.timestamp())
    if "email" in scopes:
        claims["email"] = user.email
        claims["email_verified"] = False  # we do not verify addresses (yet): say so
    if "groups" in scopes:
        claims["groups"] = sorted(g.name for g in identity_db.groups_of(conn, user.id))
    return claims


def half_hash(token: str) -> str:
    """`at_hash` for ES256: the left half of SHA-256, base64url (OIDC Core §3.1.3.6)."""
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def access_token(
    subject: Subject,
    *,
    client_id: str,
    scope: str,
    keys: SigningKeys,
    settings: ProviderSettings,
    now: datetime,
) -> str:
    """An RFC 9068 JWT access token for our own userinfo endpoint and Zerogate's gateways."""
    claims = {
        "sub": subject.user.id,
        "client_id": client_id,
        "scope": scope,
        "auth_time": int(subject.auth_time.timestamp()),
        "acr": subject.acr.value,
        "amr": list(subject.amr),
        "sid": subject.session_id,
        "gid": subject.grant_id,
        "preferred_username": subject.user.username,
    }
    return issue(
        claims,
        keys=keys,
        issuer=settings.issuer,
        typ=TokenType.ACCESS,
        audience=settings.issuer,
        now=now,
        lifetime=timedelta(seconds=settings.access_token_lifetime_s),
    )


def id_token(
    subject: Subject,
    released: dict[str, Any],
    *,
    client_id: str,
    nonce: str | None,
    access: str | None,
    keys: SigningKeys,
    settings: ProviderSettings,
    now: datetime,
) -> str:
    """An ID token (OIDC Core §2) with auth_time, acr, amr and sid (Back-Channel Logout §2.1)."""
    claims = {
        **released,
        "auth_time": int(subject.auth_time.timestamp()),
        "acr": subject.acr.value,
        "amr": list(subject.amr),
        "sid": subject.session_id,
        "azp": client_id,
    }
    if nonce:
        claims["nonce"] = nonce
    if access:
        claims["at_hash"] = half_hash(access)
    return issue(
        claims,
        keys=keys,
        issuer=settings.issuer,
        typ=TokenType.ID,
        audience=client_id,
        now=now,
        lifetime=timedelta(seconds=settings.id_token_lifetime_s),
    )


def refresh_advice(expires_in: int, jitter: float, rng: random.Random) -> int:
    """When to refresh: at 80 % of the lifetime minus up to `jitter` of it, so clients spread out."""
    return max(1, int(expires_in * 0.8 - expires_in * jitter * rng.random()))
