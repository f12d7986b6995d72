"""The authorization code flow as a relying party, free of I/O: the request we send, and the checks
on each answer (callback, token response, ID token, UserInfo).

authlib builds the requests (authorization URL, PKCE challenge, token request, client
authentication); `zerogate.tokens.verify` checks the ID token. What is left here is the order of
the checks and the ones no library makes for us: state in constant time, RFC 9207 `iss`, nonce,
`azp`, `at_hash` and the UserInfo subject.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core.util import create_half_hash

from zerogate.identity.federation._http import UpstreamAnswer
from zerogate.identity.federation._metadata import ProviderMetadata
from zerogate.identity.federation._model import (
    FederationFailed,
    FederationFailure,
    FederationState,
)
from zerogate.tokens import JWKSKeys, TokenType, VerifiedToken, verify

STATE_TTL = timedelta(minutes=5)
# 43 characters of [A-Za-z0-9]: about 256 bits, like a session token (ASVS 5.0 7.2.3).
_RANDOM_CHARS = 43
# RFC 7636 §4.1: 43 to 128 characters; 64 alphanumerics are about 381 bits.
_VERIFIER_CHARS = 64
MAX_PARAMETER_CHARS = 4096
# Claims the ID token alone decides; UserInfo may add others but never replace these (OIDC-21).
_ID_TOKEN_ONLY = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "auth_time", "amr", "acr", "azp"}
    | {"at_hash", "c_hash", "sid", "jti"}
)


def new_state(
    upstream: str, *, redirect_uri: str, now: datetime, ttl: timedelta = STATE_TTL
) -> FederationState:
    """Fresh random state, nonce and PKCE verifier for one login attempt."""
    return FederationState(
        upstream=upstream,
        state=generate_token(_RANDOM_CHARS),
        nonce=generate_token(_RANDOM_CHARS),
        code_verifier=generate_token(_VERIFIER_CHARS),
        redirect_uri=redirect_uri,
        created_at=now,
        expires_at=now + ttl,
    )


def authorization_url(
    metadata: ProviderMetadata,
    state: FederationState,
    *,
    client_id: str,
    scopes: Sequence[str],
    login_hint: str | None = None,
) -> str:
    """The upstream's authorization endpoint with our request (code flow, PKCE S256, nonce)."""
    return str(
        prepare_grant_uri(
            metadata.authorization_endpoint,
            client_id,
            "code",
            redirect_uri=state.redirect_uri,
            scope=list(scopes),
            state=state.state,
            nonce=state.nonce,
            code_challenge=create_s256_code_challenge(state.code_verifier),
            code_challenge_method="S256",
            login_hint=login_hint or None,
        )
    )


def check_callback(
    state: FederationState,
    params: Mapping[str, str],
    *,
    metadata: ProviderMetadata,
    now: datetime,
) -> str:
    """The authorization code from a callback that belongs to `state`; else FederationFailed."""
    upstream = state.upstream

    def fail(reason: FederationFailure, detail: str = "") -> FederationFailed:
        return FederationFailed(reason, upstream=upstream, detail=detail)

    if any(len(v) > MAX_PARAMETER_CHARS for v in params.values()):
        raise fail(FederationFailure.RESPONSE_MALFORMED, "a parameter is too long")
    if not state.created_at <= now < state.expires_at:
        raise fail(FederationFailure.STATE_EXPIRED)
    returned = params.get("state")
    if not returned:
        raise fail(FederationFailure.STATE_MISSING, "no state parameter")
    if not hmac.compare_digest(returned.encode(), state.state.encode()):
        # Not this browser's login: login CSRF or a mixed-up tab (OA-A3, RFC 6749 §10.12).
        raise fail(FederationFailure.STATE_MISMATCH)
    iss = params.get("iss")
    if iss is not None and iss != metadata.issuer:
        # RFC 9207 §2.4: the response came from another issuer than we asked (mix-up, OA-A6).
        raise fail(FederationFailure.ISS_MISMATCH, f"iss {iss[:200]!r}")
    if iss is None and metadata.iss_parameter_supported:
        raise fail(FederationFailure.ISS_MISSING, "the upstream promises iss but sent none")
    error = params.get("error")
    if error is not None:
        raise fail(FederationFailure.UPSTREAM_ERROR, f"error={error[:100]!r}")
    code = params.get("code")
    if not code:
        raise fail(FederationFailure.CODE_MISSING)
    return code


def token_request(
    metadata: ProviderMetadata,
    state: FederationState,
    code: str,
    *,
    client_id: str,
    client_secret: str,
) -> tuple[str, dict[str, str], str]:
    """(url, headers, body) of the code exchange, authenticated with client_secret_basic."""
    body = prepare_token_request(
        "authorization_code",
        code=code,
        redirect_uri=state.redirect_uri,
        code_verifier=state.code_verifier,
    )
    auth = ClientAuth(client_id, client_secret, "client_secret_basic")
    url, headers, body = auth.prepare("POST", metadata.token_endpoint, {}, body)
    return str(url), dict(headers), str(body)


def read_token_response(response: UpstreamAnswer, *, upstream: str) -> tuple[str, str]:
    """(id_token, access_token) from the token endpoint's answer; else FederationFailed."""
    body = response.body
    if response.status >= 500:
        raise FederationFailed(
            FederationFailure.UNREACHABLE,
            upstream=upstream,
            detail=f"token endpoint answered {response.status}",
        )
    if response.status != 200:
        error = body.get("error") if body is not None else None
        raise FederationFailed(
            FederationFailure.CODE_REJECTED,
            upstream=upstream,
            detail=f"token endpoint answered {response.status} error={str(error)[:100]!r}",
        )
    id_token = body.get("id_token") if body is not None else None
    access_token = body.get("access_token") if body is not None else None
    token_type = body.get("token_type") if body is not None else None
    if not isinstance(id_token, str) or not isinstance(access_token, str) or not access_token:
        raise FederationFailed(
            FederationFailure.TOKEN_RESPONSE_INVALID,
            upstream=upstream,
            detail="token response without id_token or access_token",
        )
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        # RFC 6749 §7.1: case-insensitive. A DPoP or MAC token is not something we can use.
        raise FederationFailed(
            FederationFailure.TOKEN_RESPONSE_INVALID,
            upstream=upstream,
            detail="token_type is not Bearer",
        )
    return id_token, access_token


def verify_id_token(
    id_token: str,
    *,
    keys: JWKSKeys,
    metadata: ProviderMetadata,
    client_id: str,
    now: datetime,
) -> VerifiedToken:
    """Signature, `iss`, `aud`, times and claim shapes, by `zerogate.tokens.verify` (OIDC-20).

    Raises `TokenError`; the caller refreshes the keys once on `TokenKeyUnknown` (rotation).
    """
    return verify(
        id_token,
        keys=keys,
        expected_type=TokenType.ID,
        expected_issuer=metadata.issuer,
        expected_audience=client_id,
        now=now,
        external=True,
    )


def check_id_token(
    verified: VerifiedToken,
    *,
    state: FederationState,
    client_id: str,
    access_token: str,
) -> Mapping[str, Any]:
    """The checks `verify` cannot make: nonce, `azp`, `at_hash` (OIDC Core §3.1.3.7, §3.1.3.8)."""
    claims = verified.claims

    def fail(reason: FederationFailure, detail: str = "") -> FederationFailed:
        return FederationFailed(reason, upstream=state.upstream, detail=detail)

    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), state.nonce.encode()):
        # An ID token minted for another login (replay or injection, OIDC-20).
        raise fail(FederationFailure.NONCE_MISMATCH)
    azp = claims.get("azp")
    if azp is not None and azp != client_id:
        raise fail(FederationFailure.AZP_MISMATCH, f"azp {str(azp)[:100]!r}")
    at_hash = claims.get("at_hash")
    if at_hash is not None:
        expected = create_half_hash(access_token, str(verified.header["alg"]))
        if (
            not isinstance(at_hash, str)
            or expected is None
            or not hmac.compare_digest(at_hash.encode(), expected)
        ):
            raise fail(FederationFailure.AT_HASH_MISMATCH)
    return claims


def check_userinfo(response: UpstreamAnswer, *, subject: str, upstream: str) -> Mapping[str, Any]:
    """UserInfo claims, only if they are about the ID token's subject (OIDC-21)."""
    if response.status >= 500:
        raise FederationFailed(
            FederationFailure.UNREACHABLE, upstream=upstream, detail=f"userinfo {response.status}"
        )
    if (
        response.status != 200
        or response.body is None
        or response.content_type != "application/json"
    ):
        # Signed or encrypted UserInfo (application/jwt) is not supported.
        raise FederationFailed(
            FederationFailure.USERINFO_INVALID,
            upstream=upstream,
            detail=f"userinfo answered {response.status} {response.content_type!r}",
        )
    if response.body.get("sub") != subject:
        raise FederationFailed(FederationFailure.USERINFO_SUBJECT_MISMATCH, upstream=upstream)
    return response.body


def merge_claims(id_claims: Mapping[str, Any], userinfo: Mapping[str, Any]) -> dict[str, Any]:
    """ID token claims, plus UserInfo's fresher profile claims (never the ID token's own)."""
    merged = dict(id_claims)
    merged.update({k: v for k, v in userinfo.items() if k not in _ID_TOKEN_ONLY})
    return merged


def auth_time_of(claims: Mapping[str, Any]) -> datetime:
    """When the user authenticated at the upstream: `auth_time`, else the ID token's `iat`.

    `verify` has checked both are integer NumericDates. Without `auth_time` the sign-in happened
    at or before `iat`, so this may overstate freshness: upstreams that omit it (Google, unless
    asked with `max_age`) look as fresh as their ID token.
    """
    value = claims.get("auth_time", claims["iat"])
    return datetime.fromtimestamp(int(value), UTC)


__all__ = [
    "MAX_PARAMETER_CHARS",
    "STATE_TTL",
    "auth_time_of",
    "authorization_url",
    "check_callback",
    "check_id_token",
    "check_userinfo",
    "merge_claims",
    "new_state",
    "read_token_response",
    "token_request",
    "verify_id_token",
]
