"""Property tests: issue -> verify returns the claims; changing any byte of a token is detected."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tokens.forge import AUDIENCE, ISSUER, NOW, make_victim
from zerogate.tokens import TokenError, TokenType, issue, verify

VICTIM = make_victim()
RESERVED = {"iss", "aud", "exp", "iat", "nbf", "jti", "auth_time"}
EXCLUSIVE = {"client_id", "scope", "nonce", "at_hash", "c_hash", "azp", "events", "sub", "sid"}
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
custom_claims = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda k: k not in RESERVED | EXCLUSIVE),
    json_values,
    max_size=6,
)
subjects = st.text(min_size=1, max_size=255)


def _issue(claims: dict[str, Any], sub: str) -> str:
    return issue(
        {**claims, "sub": sub, "client_id": "web-app"},
        keys=VICTIM.ring,
        issuer=ISSUER,
        typ=TokenType.ACCESS,
        audience=AUDIENCE,
        now=NOW,
    )


def _verify(token: str) -> dict[str, Any]:
    verified = verify(
        token,
        keys=VICTIM.ring,
        expected_type=TokenType.ACCESS,
        expected_issuer=ISSUER,
        expected_audience=AUDIENCE,
        now=NOW,
    )
    return dict(verified.claims)


@settings(max_examples=150)
@given(claims=custom_claims, sub=subjects)
def test_roundtrip_issue_then_verify_returns_the_claims(claims: dict[str, Any], sub: str) -> None:
    verified = _verify(_issue(claims, sub))
    assert {k: verified[k] for k in claims} == claims
    assert verified["sub"] == sub


@settings(max_examples=200)
@given(claims=custom_claims, data=st.data())
def test_roundtrip_tampering_any_character_is_detected(
    claims: dict[str, Any], data: st.DataObject
) -> None:
    token = _issue(claims, "alice")
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1), label="index")
    original = token[index]
    replacement = data.draw(
        st.sampled_from([c for c in B64URL + "." if c != original]), label="char"
    )
    tampered = token[:index] + replacement + token[index + 1 :]
    try:
        _verify(tampered)
    except TokenError:
        return
    raise AssertionError(f"tampered token accepted (index {index})")


@settings(max_examples=50)
@given(claims=custom_claims, cut=st.integers(min_value=1, max_value=40))
def test_roundtrip_truncated_token_is_detected(claims: dict[str, Any], cut: int) -> None:
    token = _issue(claims, "alice")
    try:
        _verify(token[:-cut])
    except TokenError:
        return
    raise AssertionError("truncated token accepted")
