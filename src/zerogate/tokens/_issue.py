"""`issue`: sign a short-lived JWT of one `TokenType` with the ring's active key (joserfc)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from joserfc import jws

from zerogate.errors import InvalidInput
from zerogate.tokens._claims import check_shapes
from zerogate.tokens._errors import TokenError
from zerogate.tokens._keys import SigningKeys
from zerogate.tokens._types import PROFILES, RESERVED_CLAIMS, TokenType

_JTI_BYTES = 16  # 128 random bits: unguessable and collision-free for replay caches


def issue(
    claims: Mapping[str, Any],
    *,
    keys: SigningKeys,
    issuer: str,
    typ: TokenType,
    audience: str | Sequence[str],
    now: datetime,
    lifetime: timedelta | None = None,
) -> str:
    """Sign `claims` as a compact JWS with header `{alg, kid, typ}`; returns the token.

    Sets `iss`, `aud`, `iat`, `nbf` (= `iat`), `exp` (= `iat` + `lifetime`) and a random `jti`;
    passing any of them in `claims` is an error. `lifetime` defaults to the type's default (5 min
    for access and ID tokens) and may not exceed the ring's `max_token_lifetime`. The claim set
    is checked against the type's profile, so nothing is issued that `verify` would refuse.
    Raises InvalidInput (`token_claims_invalid`) or SigningKeyUnavailable.
    """
    profile = PROFILES[TokenType(typ)]
    reserved = sorted(RESERVED_CLAIMS.intersection(claims))
    if reserved:
        raise _invalid(f"claims {reserved} are set by issue() itself")
    if not isinstance(issuer, str) or not issuer:
        raise _invalid("issuer must be a non-empty string")
    aud = _audience(audience)
    seconds = int((profile.default_lifetime if lifetime is None else lifetime).total_seconds())
    if not 0 < seconds <= keys.max_token_lifetime.total_seconds():
        raise _invalid("lifetime must be between 1 s and the key ring's max_token_lifetime")
    if now.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware time (Clock.now())")
    iat = int(now.timestamp())
    payload = {
        **claims,
        "iss": issuer,
        "aud": aud,
        "iat": iat,
        "nbf": iat,
        "exp": iat + seconds,
        "jti": secrets.token_urlsafe(_JTI_BYTES),
    }
    try:
        check_shapes(payload, profile)
        body = orjson.dumps(payload)
    except TokenError as error:
        raise _invalid(error.message) from None
    except TypeError as error:  # orjson: a value that is not JSON
        raise _invalid(f"claims are not JSON: {error}") from None
    key = keys.signing_key(now)
    header = {"alg": key.alg.value, "kid": key.kid, "typ": profile.type.value}
    return jws.serialize_compact(header, body, key.jwk, registry=key.registry)


def _audience(audience: str | Sequence[str]) -> str | list[str]:
    if isinstance(audience, str):
        if audience:
            return audience
    elif audience and all(isinstance(a, str) and a for a in audience):
        return audience[0] if len(audience) == 1 else list(audience)
    raise _invalid("audience must be a non-empty string or list of non-empty strings")


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, code="token_claims_invalid")
