"""The peers against each other, no Zerogate: proves the harness before the OIDC tests lean on it."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.peers._node import PEERS_DIR, PeerError, UpstreamOP, run_rp, upstream_op
from tests.peers.fixtures import StartUpstreamOP

REDIRECT_URI = "http://127.0.0.1:9/callback"  # never fetched: login_upstream stops before it
LOGOUT_URI = "http://127.0.0.1:9/signed-out"
CONFIDENTIAL = {
    "client_id": "wiki",
    "client_secret": "wiki-secret-0123456789abcdef",
    "redirect_uris": [REDIRECT_URI],
    "post_logout_redirect_uris": [LOGOUT_URI],
}
PUBLIC = {"client_id": "cli", "redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"}
ALICE = {
    "email": "alice@example.test",
    "email_verified": True,
    "name": "Alice Example",
    "groups": ["engineering", "admins"],
}


@pytest.fixture(scope="module")
def op(node_peers: None) -> Iterator[UpstreamOP]:
    with upstream_op(clients=[CONFIDENTIAL, PUBLIC], accounts={"alice": ALICE}) as running:
        yield running


def rp_input(op: UpstreamOP, client: dict[str, Any] = CONFIDENTIAL) -> dict[str, Any]:
    base = {
        "issuer": op.issuer,
        "client_id": client["client_id"],
        "redirect_uri": REDIRECT_URI,
        "insecure_http": True,
    }
    if "client_secret" in client:
        base["client_secret"] = client["client_secret"]
    return base


def sign_in(op: UpstreamOP, rp: dict[str, Any], **params: Any) -> tuple[dict[str, Any], str]:
    """authorize-url, then alice logs in at the OP; returns the request and the callback URL."""
    request = run_rp("authorize-url", {**rp, **params})
    return request, op.login(request["url"], "alice")


def callback(
    rp: dict[str, Any], request: dict[str, Any], callback_url: str, **overrides: Any
) -> dict[str, Any]:
    checks = {k: request[k] for k in ("state", "nonce", "code_verifier")}
    return run_rp("callback", {**rp, **checks, "callback_url": callback_url, **overrides})


def test_rp_code_flow_end_to_end(op: UpstreamOP) -> None:
    rp = rp_input(op)
    meta = run_rp("discover", rp)
    assert meta["issuer"] == op.issuer
    assert meta["metadata"]["code_challenge_methods_supported"] == ["S256"]

    # offline_access is only honoured with prompt=consent (OIDC Core §11).
    request, callback_url = sign_in(
        op, rp, scope="openid email profile groups offline_access", prompt="consent"
    )
    sent = urllib.parse.parse_qs(urllib.parse.urlsplit(request["url"]).query)
    assert sent["code_challenge_method"] == ["S256"]
    assert callback_url.startswith(REDIRECT_URI + "?")
    tokens = callback(rp, request, callback_url)
    claims = tokens["claims"]
    assert claims["sub"] == "alice"
    assert claims["nonce"] == request["nonce"]
    assert claims["groups"] == ALICE["groups"]
    assert tokens["refresh_token"]
    assert tokens["token_type"].lower() == "bearer"

    info = run_rp(
        "userinfo", {**rp, "access_token": tokens["access_token"], "expected_sub": "alice"}
    )
    assert info["email"] == ALICE["email"]
    assert info["groups"] == ALICE["groups"]

    renewed = run_rp("refresh", {**rp, "refresh_token": tokens["refresh_token"]})
    assert renewed["access_token"] != tokens["access_token"]
    assert renewed["claims"]["sub"] == "alice"

    seen = run_rp("introspect", {**rp, "token": renewed["access_token"]})
    assert seen["active"] is True
    assert seen["sub"] == "alice"

    assert run_rp("revoke", {**rp, "token": renewed["access_token"]}) == {"revoked": True}
    assert run_rp("introspect", {**rp, "token": renewed["access_token"]})["active"] is False

    logout = run_rp(
        "end-session-url",
        {
            **rp,
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": LOGOUT_URI,
            "state": "bye",
        },
    )
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(logout["url"]).query)
    assert logout["url"].startswith(f"{op.issuer}/session/end?")
    assert query["post_logout_redirect_uri"] == [LOGOUT_URI]
    assert query["state"] == ["bye"]


def test_rp_public_client_uses_pkce_without_secret(op: UpstreamOP) -> None:
    rp = rp_input(op, PUBLIC)
    request, callback_url = sign_in(op, rp, scope="openid groups")
    assert callback(rp, request, callback_url)["claims"]["groups"] == ALICE["groups"]

    # A replayed code comes back as the token endpoint's OAuth error (RFC 6749 §4.1.2).
    with pytest.raises(PeerError) as caught:
        callback(rp, request, callback_url)
    assert caught.value.code == "OAUTH_RESPONSE_BODY_ERROR"
    assert caught.value.details["oauth_error"] == "invalid_grant"
    assert caught.value.details["status"] == 400


def test_rp_callback_rejects_tampered_state(op: UpstreamOP) -> None:
    rp = rp_input(op)
    request, callback_url = sign_in(op, rp)
    with pytest.raises(PeerError) as caught:
        callback(rp, request, callback_url, state="forged-" + request["state"])
    # openid-client files a state mismatch under its generic "invalid response" code.
    assert caught.value.code == "OAUTH_INVALID_RESPONSE"
    assert caught.value.details["detail"] == 'unexpected "state" response parameter value'


def test_rp_callback_rejects_wrong_nonce(op: UpstreamOP) -> None:
    rp = rp_input(op)
    request, callback_url = sign_in(op, rp)
    with pytest.raises(PeerError) as caught:
        callback(rp, request, callback_url, nonce="not-the-nonce")
    assert caught.value.code == "OAUTH_JWT_CLAIM_COMPARISON_FAILED"
    assert caught.value.details["claim"] == "nonce"


def test_upstream_login_cancelled_reaches_rp_as_access_denied(op: UpstreamOP) -> None:
    rp = rp_input(op)
    request = run_rp("authorize-url", rp)
    callback_url = op.login(request["url"], "alice", approve=False)
    with pytest.raises(PeerError) as caught:
        callback(rp, request, callback_url)
    assert caught.value.code == "OAUTH_AUTHORIZATION_RESPONSE_ERROR"
    assert caught.value.details["oauth_error"] == "access_denied"


def test_upstream_login_refuses_unknown_account(op: UpstreamOP) -> None:
    request = run_rp("authorize-url", rp_input(op))
    with pytest.raises(PeerError) as caught:
        op.login(request["url"], "mallory")
    assert caught.value.code == "unknown_account"


def test_upstream_login_reuses_the_op_session(op: UpstreamOP) -> None:
    rp = rp_input(op)
    with httpx.Client(trust_env=False) as browser:
        first = run_rp("authorize-url", rp)
        op.login(first["url"], "alice", client=browser)
        second = run_rp("authorize-url", {**rp, "prompt": "none"})
        # prompt=none succeeds only if the OP session cookie from the first login is reused.
        callback_url = op.login(second["url"], "nobody", client=browser)
    assert "code=" in callback_url
    assert "error=" not in callback_url


def test_rp_reports_bad_input_as_usage_error(op: UpstreamOP) -> None:
    with pytest.raises(PeerError) as caught:
        run_rp("callback", {"client_id": "wiki"})
    assert caught.value.code == "RP_USAGE"


def test_start_upstream_op_fixture_serves_discovery(start_upstream_op: StartUpstreamOP) -> None:
    other = start_upstream_op(clients=[PUBLIC], accounts={"bob": {"groups": []}})
    meta = httpx.get(f"{other.issuer}/.well-known/openid-configuration", trust_env=False).json()
    assert meta["issuer"] == other.issuer
    assert meta["response_types_supported"] == ["code"]


def test_node_modules_match_the_committed_lockfile(node_peers: None) -> None:
    lock = json.loads((PEERS_DIR / "package-lock.json").read_text())["packages"]
    for name, major in (("openid-client", "6."), ("oidc-provider", "9.")):
        installed = json.loads((PEERS_DIR / "node_modules" / name / "package.json").read_text())
        assert installed["version"] == lock[f"node_modules/{name}"]["version"]
        assert installed["version"].startswith(major)


def test_upstream_op_rejects_unknown_config_keys(node_peers: None) -> None:
    with (
        pytest.raises(PeerError) as caught,
        upstream_op(clients=[PUBLIC], accounts={}, options={"pkce": False}),
    ):
        pass
    assert caught.value.code == "UPSTREAM_OP_CONFIG"
