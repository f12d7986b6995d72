"""Verifying the gateway's identity assertion in an application."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from zerogate.tokens import (
    TokenMalformed,
    TokenType,
    VerificationKeys,
    decision_audience,
    verify,
)

ASSERTION_HEADER = "x-zerogate-assertion"


@dataclass(frozen=True, slots=True)
class Assertion:
    """Who the gateway let through, as it signed it."""

    subject: str  # the user's stable id
    username: str
    email: str
    groups: tuple[str, ...]
    amr: tuple[str, ...]
    acr: str | None
    session_id: str | None
    claims: Mapping[str, Any] = field(repr=False)


def verify_assertion(
    token: str,
    *,
    keys: VerificationKeys,
    issuer: str,
    audience: str,
    now: datetime | None = None,
) -> Assertion:
    """Check an `x-zerogate-assertion` token: our signature, `iss`, `aud` (your route), its
    two-minute lifetime and its type; raises `zerogate.tokens.TokenError` (with a `code`)."""
    return _identity(token, TokenType.ASSERTION, keys, issuer, audience, now)


def verify_decision_token(
    token: str,
    *,
    keys: VerificationKeys,
    issuer: str,
    audience: str,
    now: datetime | None = None,
) -> Assertion:
    """Check a route's decision-token cookie, which stands in for the assertion on the GETs
    the gateway let through on its own (docs/gateway.md "Local decisions"). `audience` is your
    route, as for `verify_assertion`; the token's own audience is derived from it."""
    return _identity(token, TokenType.DECISION, keys, issuer, decision_audience(audience), now)


def _identity(
    token: str,
    typ: TokenType,
    keys: VerificationKeys,
    issuer: str,
    audience: str,
    now: datetime | None,
) -> Assertion:
    verified = verify(
        token,
        keys=keys,
        expected_type=typ,
        expected_issuer=issuer,
        expected_audience=audience,
        now=now or datetime.now(UTC),
    )
    c = verified.claims
    if not isinstance(c.get("sub"), str):
        raise TokenMalformed("the token names no subject")
    return Assertion(
        subject=str(c["sub"]),
        username=str(c.get("preferred_username", "")),
        email=str(c.get("email", "")),
        groups=tuple(str(g) for g in c.get("groups", ()) if isinstance(g, str)),
        amr=tuple(str(a) for a in c.get("amr", ()) if isinstance(a, str)),
        acr=c.get("acr") if isinstance(c.get("acr"), str) else None,
        session_id=c.get("sid") if isinstance(c.get("sid"), str) else None,
        claims=MappingProxyType(dict(c)),
    )
