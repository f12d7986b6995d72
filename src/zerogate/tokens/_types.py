"""The token types Zerogate issues, their `typ` headers, required claims and exclusive claims.

Types are told apart twice (RFC 8725 §3.11, JWT-A15): by the exact `typ` header, and by claim-set
exclusivity, so a token that carries a claim only another type may carry is refused even when its
`typ` header matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Algorithm(StrEnum):
    """JWS algorithms a key may sign with; each key allows exactly its own (RFC 8725 §3.1)."""

    # Default: py-spiffe rejects EdDSA JWT-SVIDs, and P-256 is used everywhere (DESIGN.md).
    ES256 = "ES256"
    # Opt-in for OpenID Connect relying parties that only accept RS256 (DISC-02).
    RS256 = "RS256"


class TokenType(StrEnum):
    """What a token is for; the value is the `typ` header it is issued with."""

    ACCESS = "at+jwt"  # RFC 9068 JWT access token (JAT-01)
    ID = "JWT"  # OpenID Connect ID token: plain JWT, told apart by its claims (see _PROFILES)
    LOGOUT = "logout+jwt"  # OpenID Connect Back-Channel Logout token (OIDC-11)
    ASSERTION = "zerogate-assertion+jwt"  # the gateway's signed identity header to upstreams
    DECISION = "zerogate-decision+jwt"  # a gateway decision handed to another enforcement point


BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass(frozen=True, slots=True)
class Profile:
    """What one token type must and must not contain."""

    type: TokenType
    typ_values: frozenset[str]  # accepted `typ` headers, compared exactly
    required: frozenset[str]  # besides iss/aud/exp/iat, which every type requires
    default_lifetime: timedelta


# Claims only one type may carry (claim-set exclusivity, JWT-A15): `client_id`/`scope` mark an
# access token (RFC 9068 §2.2), `nonce`/`at_hash`/`c_hash`/`azp` an ID token (OIDC Core §2),
# `events` a logout token (OIDC-11: a logout token must not contain `nonce`).
EXCLUSIVE_CLAIMS: dict[str, TokenType] = {
    "client_id": TokenType.ACCESS,
    "scope": TokenType.ACCESS,
    "nonce": TokenType.ID,
    "at_hash": TokenType.ID,
    "c_hash": TokenType.ID,
    "azp": TokenType.ID,
    "events": TokenType.LOGOUT,
}

# Set by `issue` from its arguments; a caller passing them in `claims` is refused.
RESERVED_CLAIMS = frozenset({"iss", "aud", "exp", "iat", "nbf", "jti"})
NUMERIC_DATE_CLAIMS = ("exp", "iat", "nbf", "auth_time")


def _profile(
    token_type: TokenType, required: set[str], lifetime_s: int, *typ_values: str
) -> Profile:
    return Profile(
        type=token_type,
        typ_values=frozenset({token_type.value, *typ_values}),
        required=frozenset(required),
        default_lifetime=timedelta(seconds=lifetime_s),
    )


PROFILES: dict[TokenType, Profile] = {
    # JAT-01: iss, exp, aud, sub, client_id, iat, jti; JAT-02 accepts the media type spelling.
    TokenType.ACCESS: _profile(
        TokenType.ACCESS, {"sub", "client_id", "jti"}, 300, "application/at+jwt"
    ),
    # OIDC-05: iss, sub, aud, exp, iat.
    TokenType.ID: _profile(TokenType.ID, {"sub"}, 300),
    # OIDC-11: iss, aud, iat, jti, exp, events (+ sub and/or sid, checked in _claims).
    TokenType.LOGOUT: _profile(TokenType.LOGOUT, {"jti", "events"}, 120, "application/logout+jwt"),
    TokenType.ASSERTION: _profile(TokenType.ASSERTION, {"sub", "jti"}, 120),
    TokenType.DECISION: _profile(TokenType.DECISION, {"jti"}, 60),
}
