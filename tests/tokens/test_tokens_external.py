"""`verify(..., external=True)`: upstream providers' ID tokens (federation), and nothing wider.

OpenID Connect Core gives ID tokens no `typ`, and some providers add `x5t` thumbprints; both are
accepted only with `external=True` and only for `TokenType.ID`. Everything else a forged token
could try (a key in the header, another type's `typ`, a foreign key) is refused as for our own
tokens. JWKS documents may carry RFC 7517's array members `x5c` and `key_ops`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.tokens.forge import AUDIENCE, ISSUER, NOW, NOW_S, compact, make_victim
from zerogate.errors import InvalidInput
from zerogate.tokens import JWKSKeys, KeyRing, TokenError, TokenType, verify

ID_CLAIMS = {
    "iss": ISSUER,
    "aud": AUDIENCE,
    "sub": "alice",
    "nonce": "n-0S6_WzA2Mj",
    "iat": NOW_S,
    "exp": NOW_S + 300,
}


@dataclass(frozen=True)
class Signed:
    """A hand-made token and the key ring that can verify it."""

    token: str
    ring: KeyRing


def _id_token(header_changes: dict[str, Any], claims: dict[str, Any] | None = None) -> Signed:
    victim = make_victim()
    header: dict[str, Any] = {"alg": "ES256", "kid": victim.kid}
    header.update(header_changes)
    return Signed(compact(header, claims or ID_CLAIMS, victim.sign()), victim.ring)


def _verify(signed: Signed, *, external: bool, expected_type: TokenType = TokenType.ID) -> str:
    return verify(
        signed.token,
        keys=signed.ring,
        expected_type=expected_type,
        expected_issuer=ISSUER,
        expected_audience=AUDIENCE,
        now=NOW,
        external=external,
    ).claims["sub"]


@pytest.mark.parametrize(
    "header",
    [{}, {"typ": "JWT"}, {"typ": "JWT", "x5t": "abc"}, {"x5t#S256": "abc"}],
    ids=["no-typ", "typ-JWT", "x5t", "x5t#S256"],
)
def test_external_id_token_headers_of_real_providers_are_accepted(header: dict[str, Any]) -> None:
    assert _verify(_id_token(header), external=True) == "alice"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ({}, "token_type_mismatch"),  # our own ID tokens always say typ JWT
        ({"typ": "JWT", "x5t": "abc"}, "token_header_forbidden"),
    ],
    ids=["no-typ", "x5t"],
)
def test_own_tokens_keep_the_strict_header_rules(header: dict[str, Any], code: str) -> None:
    with pytest.raises(TokenError) as caught:
        _verify(_id_token(header), external=False)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ({"typ": "at+jwt"}, "token_type_mismatch"),
        ({"typ": "logout+jwt"}, "token_type_mismatch"),
        ({"jwk": {"kty": "EC"}}, "token_header_forbidden"),  # JWT-A5
        ({"jku": "https://evil.example/jwks"}, "token_header_forbidden"),  # JWT-A6
        ({"x5c": ["MIIB"]}, "token_header_forbidden"),  # JWT-A7
        ({"x5u": "https://evil.example/cert"}, "token_header_forbidden"),
        ({"crit": ["exp"]}, "token_header_forbidden"),  # JWT-A16
        ({"alg": "none"}, "token_header_forbidden"),  # JWT-A1
    ],
    ids=["typ-access", "typ-logout", "jwk", "jku", "x5c", "x5u", "crit", "alg-none"],
)
def test_external_id_tokens_still_refuse_forgeries(header: dict[str, Any], code: str) -> None:
    with pytest.raises(TokenError) as caught:
        _verify(_id_token(header), external=True)
    assert caught.value.code == code


def test_external_id_tokens_keep_claim_set_exclusivity() -> None:
    """An access token without `typ` is not an ID token because its claims say so (JWT-A15)."""
    signed = _id_token({}, {**ID_CLAIMS, "client_id": "web-app", "scope": "read"})
    with pytest.raises(TokenError) as caught:
        _verify(signed, external=True)
    assert caught.value.code == "token_type_mismatch"


def test_external_is_only_for_id_tokens() -> None:
    signed = _id_token({"typ": "at+jwt"})
    with pytest.raises(ValueError, match="only for ID tokens"):
        _verify(signed, external=True, expected_type=TokenType.ACCESS)


def _jwks_entry() -> dict[str, Any]:
    victim = make_victim()
    public = {k: str(v) for k, v in victim.jwk.as_dict(private=False).items()}
    return {**public, "kid": victim.kid, "alg": "ES256", "use": "sig"}


def test_jwks_array_members_x5c_and_key_ops_are_read() -> None:
    """RFC 7517 §4.3/§4.7 members are arrays (Keycloak and Entra ID publish `x5c`); the
    certificate chain is ignored, never used to find a key."""
    entry = {**_jwks_entry(), "x5c": ["MIIBbogus"], "key_ops": ["verify"], "x5t": "abc"}
    keys = JWKSKeys.from_jwks({"keys": [entry]})
    assert keys.kids() == [entry["kid"]]


def test_jwks_key_without_verify_in_key_ops_is_skipped() -> None:
    entry = {**_jwks_entry(), "key_ops": ["encrypt"]}
    assert JWKSKeys.from_jwks({"keys": [entry]}).kids() == []


@pytest.mark.parametrize(
    "member",
    [{"x5c": "MIIB"}, {"key_ops": "verify"}, {"x5c": [1]}, {"n2": ["x"]}],
    ids=["x5c-string", "key_ops-string", "x5c-non-string", "other-array"],
)
def test_jwks_malformed_members_are_refused(member: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as caught:
        JWKSKeys.from_jwks({"keys": [{**_jwks_entry(), **member}]})
    assert caught.value.code == "jwks_invalid"
