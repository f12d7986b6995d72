"""The authorization code flow with PKCE, end to end over HTTP (OIDC-*, PKCE-*, JAT-*)."""

from __future__ import annotations

from tests.identity.oidc._op import ISSUER, OP, Flow, pkce
from zerogate.identity.oidc import ACR
from zerogate.tokens import TokenType, verify


def test_code_flow_issues_verifiable_id_and_access_tokens(op: OP) -> None:
    alice = op.user("alice")
    client, secret = op.client()
    session = op.login(alice)
    tokens = op.tokens(client, secret, session)
    assert tokens["token_type"] == "Bearer"
    assert 0 < tokens["refresh_in"] < tokens["expires_in"] <= 600
    now = op.clock.now()
    id_token = verify(
        tokens["id_token"],
        keys=op.keys,
        expected_type=TokenType.ID,
        expected_issuer=ISSUER,
        expected_audience=client.client_id,
        now=now,
    )
    assert id_token.claims["sub"] == alice.id
    assert id_token.claims["azp"] == client.client_id
    assert id_token.claims["acr"] == ACR.PASSWORD
    assert id_token.claims["amr"] == ["pwd"]
    assert id_token.claims["auth_time"] == int(now.timestamp())
    assert id_token.claims["sid"] == session.session.id
    assert id_token.claims["email"] == "alice@example.test"
    assert "at_hash" in id_token.claims
    access = verify(
        tokens["access_token"],
        keys=op.keys,
        expected_type=TokenType.ACCESS,
        expected_issuer=ISSUER,
        expected_audience=ISSUER,
        now=now,
    )
    assert access.claims["client_id"] == client.client_id
    assert access.claims["scope"] == "openid profile email groups"
    assert access.header["typ"] == "at+jwt"


def test_nonce_is_echoed_in_the_id_token(op: OP) -> None:
    client, secret = op.client()
    session = op.login(op.user())
    code, flow = op.code_for(client, session)
    reply = op.redeem(client, secret, code, flow)
    claims = verify(
        reply.json()["id_token"],
        keys=op.keys,
        expected_type=TokenType.ID,
        expected_issuer=ISSUER,
        expected_audience=client.client_id,
        now=op.clock.now(),
    ).claims
    assert claims["nonce"] == flow.nonce


def test_public_client_uses_pkce_without_a_secret(op: OP) -> None:
    client, secret = op.client(public=True)
    assert secret is None
    session = op.login(op.user())
    tokens = op.tokens(client, None, session)
    assert "refresh_token" in tokens


def test_userinfo_returns_claims_by_scope(op: OP) -> None:
    alice = op.user()
    client, secret = op.client()
    tokens = op.tokens(client, secret, op.login(alice))
    reply = op.http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert reply.status_code == 200
    assert reply.json()["sub"] == alice.id
    assert reply.json()["preferred_username"] == "alice"
    assert reply.json()["groups"] == []


def test_userinfo_refuses_an_id_token_as_access_token(op: OP) -> None:
    """JWT-A15 over HTTP: token-type confusion."""
    client, secret = op.client()
    tokens = op.tokens(client, secret, op.login(op.user()))
    reply = op.http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['id_token']}"})
    assert reply.status_code == 401
    assert 'error="invalid_token"' in reply.headers["www-authenticate"]


def test_no_session_sends_the_browser_to_login_and_back(op: OP) -> None:
    client, _ = op.client()
    reply = op.authorize(client, Flow(*pkce()), None)
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/login?next=%2Fauthorize%3F")


def test_the_whole_flow_on_both_stores(store) -> None:  # type: ignore[no-untyped-def]
    """Code, refresh rotation, reuse detection and revocation on SQLite and PostgreSQL."""
    op = OP(store)
    try:
        client, secret = op.client()
        first = op.tokens(client, secret, op.login(op.user()))
        second = op.token(
            client, secret, grant_type="refresh_token", refresh_token=first["refresh_token"]
        ).json()
        assert "refresh_token" in second
        replay = op.token(
            client, secret, grant_type="refresh_token", refresh_token=first["refresh_token"]
        )
        assert replay.json()["error"] == "invalid_grant"
        gone = op.http.post(
            "/introspect",
            data={"token": second["access_token"]},
            auth=(client.client_id, secret or ""),
        )
        assert gone.json() == {"active": False}
    finally:
        op.http.close()
