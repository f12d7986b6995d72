"""The token endpoint tells the audit log of every request: who got tokens, for which client and
by which grant, or why it was refused — and never the tokens (issue 5 item 1, "token issuance")."""

from __future__ import annotations

import json

from tests.identity.oidc._op import OP
from zerogate.idp import SecurityEvent, SecurityEventKind


def test_issued_and_refused_token_requests_are_told_without_the_tokens(op: OP) -> None:
    heard: list[SecurityEvent] = []

    async def record(event: SecurityEvent) -> None:
        heard.append(event)

    op.routes.security_events = record
    client, secret = op.client()
    alice = op.user()
    first = op.tokens(client, secret, op.login(alice))
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    assert op.token(client, secret, **refresh).status_code == 200
    assert op.token(client, secret, **refresh).json()["error"] == "invalid_grant"  # spent
    assert op.token(client, "wrong", **refresh).status_code == 401
    public, _ = op.client(public=True)
    assert op.token(public, None, grant_type="password").status_code == 400
    assert [(e.kind, e.ok, e.methods, e.reason) for e in heard] == [
        (SecurityEventKind.TOKEN, True, ("authorization_code",), ""),
        (SecurityEventKind.TOKEN, True, ("refresh_token",), ""),
        (SecurityEventKind.TOKEN, False, ("refresh_token",), "invalid_grant"),
        (SecurityEventKind.TOKEN, False, ("refresh_token",), "invalid_client"),
        (SecurityEventKind.TOKEN, False, ("password",), "unsupported_grant_type"),
    ]
    issued = heard[0]
    assert (issued.user_id, issued.username) == (alice.id, "alice")
    assert issued.client_id == client.client_id  # from the token's claims
    assert heard[3].client_id == client.client_id  # from HTTP Basic, though refused
    assert heard[4].client_id == public.client_id  # from the form
    told = repr(heard)
    for token in (first["access_token"], first["refresh_token"], first["id_token"]):
        assert token not in told
        assert token.split(".")[-1] not in told
    assert secret is not None
    assert secret not in told
    assert json.dumps(first)  # the client got its tokens


def test_tokens_that_cannot_be_audited_are_not_handed_out(op: OP) -> None:
    async def broken(event: SecurityEvent) -> None:
        raise RuntimeError("the audit log is down")

    op.routes.security_events = broken
    client, secret = op.client()
    code, flow = op.code_for(client, op.login(op.user()))
    try:
        reply = op.redeem(client, secret, code, flow)
    except RuntimeError:
        return  # the test client re-raises the server's exception: no answer left
    assert reply.status_code == 500
    assert "access_token" not in reply.text
