"""`issue`: the claims it sets, what it refuses to sign, and lifetimes."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from tests.tokens.forge import AUDIENCE, ISSUER, NOW, NOW_S, make_victim
from zerogate.errors import InvalidInput
from zerogate.tokens import (
    KeyRing,
    RotationSchedule,
    SigningKeyUnavailable,
    TokenType,
    issue,
)


def _payload(token: str) -> dict[str, Any]:
    segment = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def _issue(ring: KeyRing, claims: dict[str, Any], **options: Any) -> str:
    options.setdefault("typ", TokenType.ACCESS)
    options.setdefault("audience", AUDIENCE)
    return issue(claims, keys=ring, issuer=ISSUER, now=NOW, **options)


ACCESS = {"sub": "alice", "client_id": "web-app"}


def test_issue_sets_registered_claims_and_rfc9068_header() -> None:
    victim = make_victim()
    token = _issue(victim.ring, ACCESS)
    header_segment = token.split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(header_segment + "=" * (-len(header_segment) % 4)))
    assert header == {"alg": "ES256", "kid": victim.kid, "typ": "at+jwt"}
    claims = _payload(token)
    # JAT-01: iss, exp, aud, sub, client_id, iat, jti.
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["iat"] == claims["nbf"] == NOW_S
    assert claims["exp"] == NOW_S + 300  # default access token lifetime: 5 minutes
    assert claims["sub"] == "alice"
    assert claims["client_id"] == "web-app"
    assert isinstance(claims["jti"], str)


def test_issue_jti_is_unique_per_token() -> None:
    ring = make_victim().ring
    jtis = {_payload(_issue(ring, ACCESS))["jti"] for _ in range(50)}
    assert len(jtis) == 50


def test_issue_audience_list_and_single() -> None:
    ring = make_victim().ring
    assert _payload(_issue(ring, ACCESS, audience=["a"]))["aud"] == "a"
    assert _payload(_issue(ring, ACCESS, audience=["a", "b"]))["aud"] == ["a", "b"]


@pytest.mark.parametrize("name", ["iss", "aud", "exp", "iat", "nbf", "jti"])
def test_issue_refuses_reserved_claims(name: str) -> None:
    ring = make_victim().ring
    with pytest.raises(InvalidInput) as caught:
        _issue(ring, {**ACCESS, name: 1})
    assert caught.value.code == "token_claims_invalid"


@pytest.mark.parametrize(
    ("token_type", "claims"),
    [
        pytest.param(TokenType.ACCESS, {"sub": "alice"}, id="access-without-client_id"),
        pytest.param(TokenType.ACCESS, {"client_id": "app"}, id="access-without-sub"),
        pytest.param(TokenType.ID, {"sub": "alice", "client_id": "app"}, id="id-with-client_id"),
        pytest.param(TokenType.ID, {"sub": "alice", "scope": "x"}, id="id-with-scope"),
        pytest.param(
            TokenType.ASSERTION, {"sub": "alice", "nonce": "n"}, id="assertion-with-nonce"
        ),
        pytest.param(TokenType.LOGOUT, {"sub": "alice"}, id="logout-without-events"),
        pytest.param(TokenType.ID, {"sub": "x" * 256}, id="sub-over-255"),
        pytest.param(TokenType.ID, {"sub": 42}, id="sub-not-a-string"),
        pytest.param(
            TokenType.ID, {"sub": "alice", "auth_time": "yesterday"}, id="auth_time-string"
        ),
        pytest.param(TokenType.ID, {"sub": "alice", 1: "x"}, id="non-string-key"),
    ],
)
def test_issue_refuses_claims_verify_would_refuse(
    token_type: TokenType, claims: dict[Any, Any]
) -> None:
    ring = make_victim().ring
    with pytest.raises(InvalidInput) as caught:
        _issue(ring, claims, typ=token_type)
    assert caught.value.code == "token_claims_invalid"


@pytest.mark.parametrize("lifetime", [timedelta(0), timedelta(hours=1, seconds=1)])
def test_issue_refuses_lifetime_outside_ring_bound(lifetime: timedelta) -> None:
    ring = make_victim().ring
    with pytest.raises(InvalidInput, match="lifetime"):
        _issue(ring, ACCESS, lifetime=lifetime)


def test_issue_lifetime_up_to_ring_maximum() -> None:
    ring = KeyRing(schedule=RotationSchedule(max_token_lifetime=timedelta(minutes=10)))
    ring.ensure_active(NOW)
    claims = _payload(_issue(ring, ACCESS, lifetime=timedelta(minutes=10)))
    assert claims["exp"] - claims["iat"] == 600


@pytest.mark.parametrize("audience", ["", [], [""], ["a", 3]])
def test_issue_refuses_empty_audience(audience: Any) -> None:
    ring = make_victim().ring
    with pytest.raises(InvalidInput, match="audience"):
        _issue(ring, ACCESS, audience=audience)


def test_issue_without_active_key_is_unavailable() -> None:
    with pytest.raises(SigningKeyUnavailable) as caught:
        _issue(KeyRing(), ACCESS)
    assert caught.value.code == "token_signing_key_unavailable"
    assert caught.value.status == 503


def test_issue_refuses_naive_now() -> None:
    ring = make_victim().ring
    with pytest.raises(ValueError, match="naive"):
        issue(
            ACCESS,
            keys=ring,
            issuer=ISSUER,
            typ=TokenType.ACCESS,
            audience=AUDIENCE,
            now=NOW.replace(tzinfo=None),
        )
