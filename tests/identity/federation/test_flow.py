"""The relying-party checks of the code flow, without I/O: the request we send and each answer.

References (standards.md): OA-A3 (state), OA-A5 (PKCE), OA-A6 (RFC 9207 iss), OIDC-20 (ID token:
nonce, azp, at_hash), OIDC-21 (UserInfo sub).
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core.util import create_half_hash
from httpx import URL

from zerogate.identity.federation import FederationFailed, FederationState
from zerogate.identity.federation._flow import (
    MAX_PARAMETER_CHARS,
    auth_time_of,
    authorization_url,
    check_callback,
    check_id_token,
    check_userinfo,
    merge_claims,
    new_state,
    read_token_response,
    token_request,
)
from zerogate.identity.federation._http import UpstreamAnswer
from zerogate.identity.federation._metadata import ProviderMetadata
from zerogate.tokens import Algorithm, TokenType, VerifiedToken

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
ISSUER = "https://idp.example.com"
REDIRECT = "https://login.zerogate.test/login/upstream/corp/callback"
METADATA = ProviderMetadata(
    issuer=ISSUER,
    authorization_endpoint=f"{ISSUER}/authorize?tenant=t1",
    token_endpoint=f"{ISSUER}/token",
    jwks_uri=f"{ISSUER}/jwks",
    userinfo_endpoint=f"{ISSUER}/userinfo",
    iss_parameter_supported=True,
    algorithms=(Algorithm.RS256,),
)


@pytest.fixture
def state() -> FederationState:
    return new_state("corp", redirect_uri=REDIRECT, now=NOW)


def _params(flow: FederationState, **changes: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {"code": "c0de", "state": flow.state, "iss": ISSUER}
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def _code(reason: str, call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(FederationFailed) as caught:
        call(*args, **kwargs)
    assert str(caught.value.reason) == reason
    assert reason not in caught.value.message  # the reason is for the log only
    assert caught.value.as_dict().keys() == {"code", "message"}
    return caught.value.code


def test_new_state_is_random_and_short_lived(state: FederationState) -> None:
    other = new_state("corp", redirect_uri=REDIRECT, now=NOW)
    assert len({state.state, state.nonce, other.state, other.nonce}) == 4
    assert len(state.state) == 43
    assert state.state.isalnum()
    assert 43 <= len(state.code_verifier) <= 128  # RFC 7636 §4.1
    assert state.expires_at - state.created_at == timedelta(minutes=5)
    assert state.state not in repr(state)
    assert state.code_verifier not in repr(state)


def test_authorization_url_asks_for_the_code_flow_with_pkce_and_nonce(
    state: FederationState,
) -> None:
    url = URL(
        authorization_url(
            METADATA, state, client_id="zg", scopes=("openid", "email"), login_hint="a@x.test"
        )
    )
    assert url.params["tenant"] == "t1"  # the endpoint's own query is kept
    assert url.params["response_type"] == "code"
    assert url.params["client_id"] == "zg"
    assert url.params["redirect_uri"] == REDIRECT
    assert url.params["scope"] == "openid email"
    assert url.params["state"] == state.state
    assert url.params["nonce"] == state.nonce
    assert url.params["code_challenge"] == create_s256_code_challenge(state.code_verifier)
    assert url.params["code_challenge_method"] == "S256"
    assert url.params["login_hint"] == "a@x.test"
    assert state.code_verifier not in str(url)


def test_check_callback_returns_the_code(state: FederationState) -> None:
    assert check_callback(state, _params(state), metadata=METADATA, now=NOW) == "c0de"


@pytest.mark.parametrize(
    ("changes", "now", "reason", "code"),
    [
        ({}, NOW + timedelta(minutes=5), "state_expired", "federation_state_mismatch"),
        ({}, NOW - timedelta(seconds=1), "state_expired", "federation_state_mismatch"),
        ({"state": None}, NOW, "state_missing", "federation_state_mismatch"),
        ({"state": "x" * 43}, NOW, "state_mismatch", "federation_state_mismatch"),
        ({"iss": ISSUER + "/"}, NOW, "iss_mismatch", "federation_issuer_mismatch"),
        ({"iss": None}, NOW, "iss_missing", "federation_issuer_mismatch"),
        ({"error": "access_denied", "code": None}, NOW, "upstream_error", "federation_denied"),
        ({"code": None}, NOW, "code_missing", "federation_response_invalid"),
        ({"code": ""}, NOW, "code_missing", "federation_response_invalid"),
        (
            {"code": "x" * (MAX_PARAMETER_CHARS + 1)},
            NOW,
            "response_malformed",
            "federation_response_invalid",
        ),
    ],
)
def test_check_callback_refusals(
    state: FederationState, changes: dict[str, str | None], now: datetime, reason: str, code: str
) -> None:
    params = _params(state, **changes)
    assert _code(reason, check_callback, state, params, metadata=METADATA, now=now) == code


def test_check_callback_without_iss_when_the_upstream_never_sends_it(
    state: FederationState,
) -> None:
    quiet = dataclasses.replace(METADATA, iss_parameter_supported=False)
    assert check_callback(state, _params(state, iss=None), metadata=quiet, now=NOW) == "c0de"


def test_check_callback_checks_state_before_trusting_an_error(state: FederationState) -> None:
    """An injected `error=` with a wrong state is login CSRF, not the user cancelling."""
    params = _params(state, state="forged", error="access_denied")
    assert _code("state_mismatch", check_callback, state, params, metadata=METADATA, now=NOW)


def test_token_request_uses_client_secret_basic_and_the_verifier(state: FederationState) -> None:
    url, headers, body = token_request(
        METADATA, state, "c0de", client_id="zg", client_secret="s3cret"
    )
    assert url == f"{ISSUER}/token"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"zg:s3cret").decode()
    form = URL("?" + body).params
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "c0de"
    assert form["redirect_uri"] == REDIRECT
    assert form["code_verifier"] == state.code_verifier
    assert "client_secret" not in form


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (503, None, "unreachable"),
        (400, {"error": "invalid_grant"}, "code_rejected"),
        (401, {"error": "invalid_client"}, "code_rejected"),
        (200, None, "token_response_invalid"),
        (200, {"access_token": "a", "token_type": "Bearer"}, "token_response_invalid"),
        (200, {"id_token": "i", "token_type": "Bearer"}, "token_response_invalid"),
        (
            200,
            {"id_token": "i", "access_token": "a", "token_type": "DPoP"},
            "token_response_invalid",
        ),
        (200, {"id_token": "i", "access_token": "a"}, "token_response_invalid"),
    ],
)
def test_read_token_response_refusals(
    status: int, body: dict[str, Any] | None, reason: str
) -> None:
    response = UpstreamAnswer(status, body, "application/json")
    _code(reason, read_token_response, response, upstream="corp")


def test_read_token_response_accepts_bearer_in_any_case() -> None:
    body = {"id_token": "i", "access_token": "a", "token_type": "bearer", "expires_in": 3600}
    answer = read_token_response(UpstreamAnswer(200, body, "application/json"), upstream="corp")
    assert answer == ("i", "a")


def _verified(state: FederationState, **changes: Any) -> VerifiedToken:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "zg",
        "sub": "alice",
        "nonce": state.nonce,
        "iat": 1_767_607_200,
        "exp": 1_767_610_800,
    }
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return VerifiedToken(TokenType.ID, "kid1", {"alg": "RS256", "kid": "kid1"}, claims)


def test_check_id_token_accepts_the_nonce_azp_and_at_hash(state: FederationState) -> None:
    at_hash = create_half_hash("access-1", "RS256").decode()
    verified = _verified(state, azp="zg", at_hash=at_hash)
    claims = check_id_token(verified, state=state, client_id="zg", access_token="access-1")
    assert claims["sub"] == "alice"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"nonce": None}, "nonce_mismatch"),
        ({"nonce": "another-login"}, "nonce_mismatch"),
        ({"nonce": 42}, "nonce_mismatch"),
        ({"azp": "another-client"}, "azp_mismatch"),
        ({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}, "at_hash_mismatch"),
        ({"at_hash": 7}, "at_hash_mismatch"),
    ],
)
def test_check_id_token_refusals(
    state: FederationState, changes: dict[str, Any], reason: str
) -> None:
    verified = _verified(state, **changes)
    code = _code(reason, check_id_token, verified, state=state, client_id="zg", access_token="a")
    assert code == "federation_token_invalid"


def test_check_userinfo_needs_the_id_tokens_subject() -> None:
    good = UpstreamAnswer(200, {"sub": "alice", "groups": ["x"]}, "application/json")
    assert check_userinfo(good, subject="alice", upstream="corp")["groups"] == ["x"]
    other = UpstreamAnswer(200, {"sub": "mallory"}, "application/json")
    _code("userinfo_subject_mismatch", check_userinfo, other, subject="alice", upstream="corp")
    signed = UpstreamAnswer(200, None, "application/jwt")
    _code("userinfo_invalid", check_userinfo, signed, subject="alice", upstream="corp")
    _code("unreachable", check_userinfo, UpstreamAnswer(502, None, ""), subject="a", upstream="c")


def test_merge_claims_never_lets_userinfo_replace_the_id_tokens_own() -> None:
    merged = merge_claims(
        {"sub": "alice", "iss": ISSUER, "nonce": "n", "groups": ["old"], "auth_time": 1},
        {"sub": "alice", "iss": "https://evil", "nonce": "m", "groups": ["new"], "auth_time": 9},
    )
    assert merged == {
        "sub": "alice",
        "iss": ISSUER,
        "nonce": "n",
        "groups": ["new"],
        "auth_time": 1,
    }


def test_auth_time_is_auth_time_else_iat() -> None:
    assert auth_time_of({"iat": 1_767_607_200, "auth_time": 1_767_600_000}) == datetime(
        2026, 1, 5, 8, 0, tzinfo=UTC
    )
    assert auth_time_of({"iat": 1_767_607_200}) == NOW
