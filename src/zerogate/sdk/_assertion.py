"""Verifying the gateway's identity assertion in an application."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from zerogate.tokens import TokenType, VerificationKeys, verify

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
    verified = verify(
        token,
        keys=keys,
        expected_type=TokenType.ASSERTION,
        expected_issuer=issuer,
        expected_audience=audience,
        now=now or datetime.now(UTC),
    )
    c = verified.claims
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
