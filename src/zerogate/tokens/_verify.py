"""`verify`: the one JWT verifier, strict pre-checks around joserfc's signature check (§3.2).

Order of checks: size, compact structure, strict header JSON, header allowlist, `typ`, our key by
`kid`, the key's one algorithm, then the signature (joserfc), then the payload and its claims.
Only keys from our own key set are ever used; nothing in a header can add one (JWT-A5..A8).

`external=True` is for ID tokens from another OpenID provider (an upstream in federation), whose
headers Zerogate does not control: OpenID Connect Core defines no `typ` for ID tokens, so it may
be absent, and the certificate thumbprints `x5t` / `x5t#S256` that some providers add (Entra ID)
are tolerated and ignored. Nothing else is relaxed: the key still comes from `keys` by `kid` only,
with that key's one algorithm, and every claim check applies.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from zerogate.tokens._claims import check_claims
from zerogate.tokens._errors import (
    TokenHeaderForbidden,
    TokenKeyUnknown,
    TokenMalformed,
    TokenSignatureInvalid,
    TokenTooLarge,
    TokenTypeMismatch,
)
from zerogate.tokens._json import StrictJSONError, b64url_decode, loads_object
from zerogate.tokens._keys import KID_CHARS, KID_MAX, VerificationKey, VerificationKeys
from zerogate.tokens._types import PROFILES, Algorithm, TokenType

MAX_TOKEN_BYTES = 16 * 1024
DEFAULT_LEEWAY = timedelta(seconds=30)
MAX_LEEWAY = timedelta(seconds=60)
_MAX_HEADER_CHARS = 1024
_HEADER_ALLOWED = frozenset({"alg", "kid", "typ"})
# Informational members of external ID tokens: never used to find or build a key (JWT-A7).
_EXTERNAL_HEADER_ALLOWED = _HEADER_ALLOWED | {"x5t", "x5t#S256"}
_ALGORITHMS = frozenset(a.value for a in Algorithm)


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token that passed every check: its type, signing key id, header and claims."""

    type: TokenType
    kid: str
    header: Mapping[str, Any]
    claims: Mapping[str, Any]

    @property
    def subject(self) -> str | None:
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) else None

    @property
    def jti(self) -> str | None:
        jti = self.claims.get("jti")
        return jti if isinstance(jti, str) else None

    @property
    def expires_at(self) -> int:
        """`exp` in epoch seconds (always present and an integer once verified)."""
        exp: int = self.claims["exp"]
        return exp


def verify(
    token: str,
    *,
    keys: VerificationKeys,
    expected_type: TokenType,
    expected_issuer: str,
    expected_audience: str,
    now: datetime,
    leeway: timedelta = DEFAULT_LEEWAY,
    trusted_audiences: Collection[str] = (),
    external: bool = False,
) -> VerifiedToken:
    """Verify a compact JWS JWT; raises a `TokenError` whose `code` names the failed check.

    `leeway` is the clock skew allowed on exp/nbf/iat (at most `MAX_LEEWAY`). `trusted_audiences`
    lists other audiences that may appear in `aud` beside `expected_audience` (JWT-A13).
    `external=True` verifies an upstream provider's ID token (only with `TokenType.ID`, and
    `keys` from that provider's JWKS): `typ` may be absent, `x5t` headers are ignored.
    """
    if now.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware time (Clock.now())")
    if not timedelta(0) <= leeway <= MAX_LEEWAY:
        raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY.seconds} s")
    if external and expected_type is not TokenType.ID:
        raise ValueError("external=True is only for ID tokens from another OpenID provider")
    profile = PROFILES[expected_type]
    header_seg, payload_seg, signature_seg = _split(token)
    header = _decode(header_seg, "header")
    key = _check_header(header, keys, profile.typ_values, external=external)
    now_s = int(now.timestamp())
    if key.expire_s is not None and now_s >= key.expire_s:
        raise TokenKeyUnknown("the key has left our key set")
    signature = _signature(signature_seg, key)
    signing_input = token[: len(header_seg) + 1 + len(payload_seg)].encode("ascii")
    # joserfc verifies with the one key we chose and that key's one algorithm. The JWS header
    # was already checked above, more strictly, so its compact parser would only repeat it.
    if not key.model.verify(signing_input, signature, key.jwk):
        raise TokenSignatureInvalid("signature does not verify")
    claims = _decode(payload_seg, "payload")
    check_claims(
        claims,
        profile=profile,
        key=key,
        expected_issuer=expected_issuer,
        expected_audience=expected_audience,
        trusted_audiences=trusted_audiences,
        now_s=now_s,
        leeway_s=int(leeway.total_seconds()),
        max_lifetime_s=int(keys.max_token_lifetime.total_seconds()),
    )
    return VerifiedToken(
        type=profile.type,
        kid=key.kid,
        header=MappingProxyType(header),
        claims=MappingProxyType(claims),
    )


def _split(token: str) -> tuple[str, str, str]:
    if not isinstance(token, str):
        raise TokenMalformed("a token must be a string")
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenTooLarge(f"token over {MAX_TOKEN_BYTES} bytes")
    if not token.isascii():
        raise TokenMalformed("token is not ASCII")
    if token.startswith("{"):
        raise TokenMalformed("JWS JSON serialization is not accepted")  # JWT-A18
    parts = token.split(".")
    if len(parts) == 5:
        raise TokenMalformed("JWE is not accepted")  # JWT-A19: we never decrypt
    if len(parts) != 3:
        raise TokenMalformed("not a compact JWS (3 segments)")
    if len(parts[0]) > _MAX_HEADER_CHARS:
        raise TokenTooLarge("header segment too large")
    return parts[0], parts[1], parts[2]


def _decode(segment: str, what: str) -> dict[str, Any]:
    try:
        return loads_object(b64url_decode(segment))
    except StrictJSONError as error:
        # Duplicate names, BOM, invalid UTF-8, non-canonical base64 (JWT-A17).
        raise TokenMalformed(f"{what} is not strict JSON: {error}") from None


def _check_header(
    header: dict[str, Any], keys: VerificationKeys, typ_values: frozenset[str], *, external: bool
) -> VerificationKey:
    extra = header.keys() - (_EXTERNAL_HEADER_ALLOWED if external else _HEADER_ALLOWED)
    if extra:
        # Allowlist: jku/x5u (JWT-A6), jwk (A5), x5c (A7), crit (A16), zip/enc/p2c (A19), ...
        names = sorted(repr(name[:40]) for name in extra)[:5]
        raise TokenHeaderForbidden(f"header fields not allowed: {', '.join(names)}")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in _ALGORITHMS:
        # none/None/NONE (JWT-A1), HS256 (A2, A4), PS256/EdDSA (A11): not on the allowlist.
        raise TokenHeaderForbidden("alg is not an allowed algorithm")
    typ = header.get("typ")
    if external and "typ" not in header:
        pass  # OIDC Core: an ID token need not say its type; its claims still must fit (JWT-A15)
    elif not isinstance(typ, str) or typ not in typ_values:
        raise TokenTypeMismatch("typ is not the expected token type")  # JWT-A15, JAT-02
    kid = header.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= KID_MAX or not KID_CHARS.issuperset(kid):
        # Never a path, query or URL: a kid is only ever a key in our dict (JWT-A8).
        raise TokenKeyUnknown("kid is missing or not a key id")
    key = keys.verification_key(kid)
    if key is None:
        raise TokenKeyUnknown("kid is not one of our keys")
    if alg != key.alg:
        # RFC 8725 §3.1: each key is used with exactly one algorithm (JWT-A2, A11).
        raise TokenHeaderForbidden("alg is not the algorithm of this key")
    return key


def _signature(segment: str, key: VerificationKey) -> bytes:
    try:
        signature = b64url_decode(segment)
    except StrictJSONError:
        raise TokenSignatureInvalid("signature is not canonical base64url") from None
    if len(signature) != key.signature_bytes:
        # Empty (JWT-A3), truncated, or DER-encoded where raw R||S is expected (JWT-A10).
        raise TokenSignatureInvalid("signature has the wrong length")
    return signature
