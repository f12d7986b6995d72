"""Refresh tokens: rotation on every use, reuse detection revoking the family, and revocation
reaching every token of a sign-in (OAUTH-*, RFC 6749 §10.4, OAuth 2.1 §4.3.1)."""

from __future__ import annotations

from tests.identity._support import run
from tests.identity.oidc._op import OP


def _refresh(op: OP, client, secret, token: str):  # type: ignore[no-untyped-def]
    return op.token(client, secret, grant_type="refresh_token", refresh_token=token)


def test_refresh_rotates_the_token_and_issues_a_new_id_token(op: OP) -> None:
    client, secret = op.client()
    first = op.tokens(client, secret, op.login(op.user()))
    op.clock.advance(60)
    reply = _refresh(op, client, secret, first["refresh_token"])
    assert reply.status_code == 200, reply.text
    second = reply.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert "id_token" in second
    assert reply.headers["cache-control"] == "no-store"


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(op: OP) -> None:
    client, secret = op.client()
    first = op.tokens(client, secret, op.login(op.user()))
    second = _refresh(op, client, secret, first["refresh_token"]).json()
    replay = _refresh(op, client, secret, first["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # The attacker's replay also ends the legitimate holder's newer token and access token.
    assert _refresh(op, client, secret, second["refresh_token"]).json()["error"] == "invalid_grant"
    userinfo = op.http.get(
        "/userinfo", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert userinfo.status_code == 401


def test_a_refresh_token_is_bound_to_its_client(op: OP) -> None:
    client, secret = op.client()
    other, other_secret = op.client(client_id="other-rp")
    tokens = op.tokens(client, secret, op.login(op.user()))
    stolen = _refresh(op, other, other_secret, tokens["refresh_token"])
    assert stolen.json()["error"] == "invalid_grant"
    # The stolen attempt did not consume or revoke the rightful client's token.
    assert _refresh(op, client, secret, tokens["refresh_token"]).status_code == 200


def test_refresh_cannot_widen_the_scope(op: OP) -> None:
    client, secret = op.client()
    session = op.login(op.user())
    code, flow = op.code_for(client, session, scope="openid email")
    tokens = op.redeem(client, secret, code, flow).json()
    reply = op.token(
        client,
        secret,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        scope="openid email groups",
    )
    assert reply.json()["error"] == "invalid_scope"


def test_refresh_token_expires_when_idle(op: OP) -> None:
    client, secret = op.client()
    tokens = op.tokens(client, secret, op.login(op.user()))
    op.clock.advance(op.settings.refresh_token_lifetime_s + 1)
    assert _refresh(op, client, secret, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_ending_the_login_session_ends_its_grants(op: OP) -> None:
    client, secret = op.client()
    session = op.login(op.user())
    tokens = op.tokens(client, secret, session)
    run(op.sessions.revoke(session.token, reason="logout", now=op.clock.now()))
    assert _refresh(op, client, secret, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_disabled_user_gets_no_new_tokens(op: OP) -> None:
    client, secret = op.client()
    alice = op.user()
    tokens = op.tokens(client, secret, op.login(alice))
    run(op.directory.disable_user("alice", now=op.clock.now()))
    assert _refresh(op, client, secret, tokens["refresh_token"]).status_code == 400


def test_revoking_a_refresh_token_revokes_the_access_token_too(op: OP) -> None:
    """RFC 7009 §2.1: revoking a refresh token may revoke its access tokens; ours does."""
    client, secret = op.client()
    tokens = op.tokens(client, secret, op.login(op.user()))
    reply = op.http.post(
        "/revoke",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(client.client_id, secret or ""),
    )
    assert reply.status_code == 200
    assert _refresh(op, client, secret, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    active = op.http.post(
        "/introspect", data={"token": tokens["access_token"]}, auth=(client.client_id, secret or "")
    )
    assert active.json() == {"active": False}


def test_revoking_an_access_token_ends_the_grant(op: OP) -> None:
    client, _secret = op.client(public=True)
    tokens = op.tokens(client, None, op.login(op.user()))
    reply = op.http.post(
        "/revoke", data={"token": tokens["access_token"], "client_id": client.client_id}
    )
    assert reply.status_code == 200
    assert _refresh(op, client, None, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoking_an_unknown_token_is_not_an_error(op: OP) -> None:
    """RFC 7009 §2.2: invalid tokens get a 200, so revocation cannot be used to probe."""
    client, secret = op.client()
    reply = op.http.post(
        "/revoke", data={"token": "not-a-token"}, auth=(client.client_id, secret or "")
    )
    assert reply.status_code == 200


def test_introspection_describes_active_tokens_to_their_client_only(op: OP) -> None:
    client, secret = op.client()
    other, other_secret = op.client(client_id="other-rp")
    alice = op.user()
    tokens = op.tokens(client, secret, op.login(alice))
    mine = op.http.post(
        "/introspect", data={"token": tokens["access_token"]}, auth=(client.client_id, secret or "")
    )
    body = mine.json()
    assert body["active"] is True
    assert body["sub"] == alice.id
    assert body["client_id"] == client.client_id
    assert body["username"] == "alice"
    refresh = op.http.post(
        "/introspect",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(client.client_id, secret or ""),
    )
    assert refresh.json()["active"] is True
    theirs = op.http.post(
        "/introspect",
        data={"token": tokens["access_token"]},
        auth=(other.client_id, other_secret or ""),
    )
    assert theirs.json() == {"active": False}


def test_public_clients_cannot_introspect(op: OP) -> None:
    client, _ = op.client(public=True)
    tokens = op.tokens(client, None, op.login(op.user()))
    reply = op.http.post(
        "/introspect", data={"token": tokens["access_token"], "client_id": client.client_id}
    )
    assert reply.status_code in (400, 401)
    assert reply.json()["error"] == "invalid_client"


def test_grant_status_follows_revocation(op: OP) -> None:
    """REV-03/REV-04: a resource server asking GrantStatus sees a revocation at once."""
    from zerogate.identity.oidc import GrantStatus
    from zerogate.tokens import TokenType, verify

    client, secret = op.client()
    tokens = op.tokens(client, secret, op.login(op.user()))
    verified = verify(
        tokens["access_token"],
        keys=op.keys,
        expected_type=TokenType.ACCESS,
        expected_issuer=op.settings.issuer,
        expected_audience=op.settings.issuer,
        now=op.clock.now(),
    )
    status = GrantStatus(op.store)
    assert run(status(verified, now=op.clock.now())) is True
    op.http.post(
        "/revoke", data={"token": tokens["refresh_token"]}, auth=(client.client_id, secret or "")
    )
    assert run(status(verified, now=op.clock.now())) is False
