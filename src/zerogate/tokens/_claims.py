"""Claim checks after the signature verified: issuer, audience, times, and the type's claim set."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from zerogate.tokens._errors import (
    TokenAudienceMismatch,
    TokenExpired,
    TokenIssuerMismatch,
    TokenKeyUnknown,
    TokenMalformed,
    TokenNotYetValid,
    TokenTypeMismatch,
)
from zerogate.tokens._keys import VerificationKey
from zerogate.tokens._types import (
    BACKCHANNEL_LOGOUT_EVENT,
    EXCLUSIVE_CLAIMS,
    NUMERIC_DATE_CLAIMS,
    Profile,
    TokenType,
)

# 9999-12-31T23:59:59Z: a NumericDate past this is nonsense (JWT-A12 "huge value").
MAX_NUMERIC_DATE = 253_402_300_799
_MAX_AUDIENCES = 32
_STRING_LIMITS = {"sub": 255, "jti": 256, "client_id": 256, "sid": 256, "scope": 4096}


def check_shapes(claims: Mapping[str, Any], profile: Profile) -> None:
    """Required claims present with the right JSON types; no claim exclusive to another type.

    Used by `issue` too, so we never issue a token we would refuse.
    """
    for name, owner in EXCLUSIVE_CLAIMS.items():
        # Claim-set exclusivity (JWT-A15; RFC 8725 §3.11): e.g. `nonce` only in ID tokens.
        if owner is not profile.type and name in claims:
            raise TokenTypeMismatch(f"claim {name!r} belongs to {owner.name} tokens")
    for name in ("exp", "iat"):  # JWT-A12: `exp` is never optional
        if name not in claims:
            raise TokenMalformed(f"claim {name!r} is required")
    for name in NUMERIC_DATE_CLAIMS:
        if name in claims:
            numeric_date(claims, name)
    missing = sorted(profile.required.difference(claims))
    if missing:
        raise TokenMalformed(f"claims {missing} are required for {profile.type.name} tokens")
    for name, limit in _STRING_LIMITS.items():
        value = claims.get(name)
        if value is not None and not (isinstance(value, str) and 0 < len(value) <= limit):
            raise TokenMalformed(f"claim {name!r} must be a string of 1 to {limit} characters")
    if profile.type is TokenType.LOGOUT:
        _check_logout(claims)


def check_claims(
    claims: Mapping[str, Any],
    *,
    profile: Profile,
    key: VerificationKey,
    expected_issuer: str,
    expected_audience: str,
    trusted_audiences: Collection[str],
    now_s: int,
    leeway_s: int,
    max_lifetime_s: int,
) -> None:
    """Every claim check of a verified token; raises the TokenError of the first failure."""
    if claims.get("iss") != expected_issuer:
        # JWT-A14: exact match, no normalisation (DISC-01).
        raise TokenIssuerMismatch("iss is not the expected issuer")
    _check_audience(claims.get("aud"), expected_audience, trusted_audiences)
    check_shapes(claims, profile)
    exp, iat = numeric_date(claims, "exp"), numeric_date(claims, "iat")
    if exp <= iat or exp - iat > max_lifetime_s:
        # Longer than any token we issue: it would outlive its key's place in the JWKS.
        raise TokenMalformed("token lifetime is not within (0, max_token_lifetime]")
    if now_s >= exp + leeway_s:
        raise TokenExpired("token has expired")
    if iat > now_s + leeway_s:
        raise TokenNotYetValid("iat is in the future")
    nbf = claims.get("nbf")
    if nbf is not None and numeric_date(claims, "nbf") > now_s + leeway_s:
        raise TokenNotYetValid("nbf is in the future")
    if (key.activate_s is not None and iat < key.activate_s) or (
        key.retire_s is not None and iat >= key.retire_s
    ):
        # Our signers stamp `iat` from the clock that picked the key: a token from outside the
        # key's signing window was not made by us (a leaked retired key, OIDC-09).
        raise TokenKeyUnknown("the key was not signing at the token's iat")


def numeric_date(claims: Mapping[str, Any], name: str) -> int:
    """An RFC 7519 NumericDate as we accept it: a JSON integer in [0, year 9999] (JWT-A12)."""
    value = claims[name]
    # bool is an int in Python; floats and strings are refused rather than coerced.
    if type(value) is not int or not 0 <= value <= MAX_NUMERIC_DATE:
        raise TokenMalformed(f"claim {name!r} must be an integer NumericDate")
    return value


def _check_audience(aud: Any, expected: str, trusted: Collection[str]) -> None:
    # JWT-A13 / OIDC-20: `aud` contains us and no audience we do not trust.
    audiences = [aud] if isinstance(aud, str) else aud
    if (
        not isinstance(audiences, list)
        or not 0 < len(audiences) <= _MAX_AUDIENCES
        or not all(isinstance(a, str) for a in audiences)
    ):
        raise TokenAudienceMismatch("aud is missing or not a string or list of strings")
    if expected not in audiences:
        raise TokenAudienceMismatch("aud does not contain the expected audience")
    if any(a != expected and a not in trusted for a in audiences):
        raise TokenAudienceMismatch("aud contains an untrusted audience")


def _check_logout(claims: Mapping[str, Any]) -> None:
    # OIDC-11 / OIDC-23: the back-channel logout event member, and `sub` and/or `sid`.
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise TokenMalformed("events must hold the back-channel logout event object")
    if "sub" not in claims and "sid" not in claims:
        raise TokenMalformed("a logout token needs sub or sid")
