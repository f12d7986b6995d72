"""The OAuth/OIDC attack catalogue (standards §3.3 OA-A*) as raw HTTP against our provider.

Expected for every case: refused, and nothing is sent to an attacker's URI.
"""

from __future__ import annotations

import pytest

from tests.identity.oidc._op import OP, RP, Flow, callback_params, cookie, pkce

EVIL_REDIRECTS = [
    "https://evil.example.test/callback",  # another host
    "https://evil.rp.example.test/callback",  # a subdomain
    "https://rp.example.test.evil.test/callback",
    "https://rp.example.test/callback/../evil",  # path tricks
    "https://rp.example.test/callback/extra",
    "https://rp.example.test/callback%2f..%2fevil",
    "https://rp.example.test/callback?x=1",  # an added query
    "https://rp.example.test/callback#frag",  # a fragment
    "https://rp.example.test/CALLBACK",  # case in the path
    "https://rp.example.test/callback/",  # trailing slash
    "https://rp.example.test@evil.test/callback",  # userinfo
    "http://rp.example.test/callback",  # scheme downgrade
    "https://rp.example.test\\@evil.test/callback",  # backslash
    "https://rp.examp\u0142e.test/callback",  # homoglyph
    "https://rp.example.test/callback?code=x&state=y&iss=z",  # pollution
    "javascript:alert(1)",
    "data:text/html,hi",
]


@pytest.mark.parametrize("redirect_uri", EVIL_REDIRECTS)
def test_oa_a1_redirect_uri_must_match_exactly_and_errors_never_redirect(
    op: OP, redirect_uri: str
) -> None:
    """OA-A1 / OA-A2 / OIDC-02: an error page, never a redirect."""
    client, _ = op.client()
    session = op.login(op.user())
    reply = op.authorize(client, Flow(*pkce()), session, redirect_uri=redirect_uri)
    assert reply.status_code == 400
    assert "location" not in reply.headers


def test_oa_a1_two_redirect_uris_are_refused(op: OP) -> None:
    client, _ = op.client()
    session = op.login(op.user())
    flow = Flow(*pkce())
    query = [
        ("response_type", "code"),
        ("client_id", client.client_id),
        ("redirect_uri", RP),
        ("redirect_uri", "https://evil.test/cb"),
        ("scope", "openid"),
        ("code_challenge", flow.challenge),
        ("code_challenge_method", "S256"),
    ]
    reply = op.http.get("/authorize", params=query, headers=cookie(session))
    assert reply.status_code == 400
    assert "location" not in reply.headers


def test_oa_a2_unknown_or_disabled_client_gets_an_error_page(op: OP) -> None:
    from tests.identity._support import run

    client, _ = op.client()
    session = op.login(op.user())
    ghost = op.http.get(
        "/authorize",
        params={
            "response_type": "code",
            "client_id": "nobody",
            "redirect_uri": RP,
            "scope": "openid",
        },
        headers=cookie(session),
    )
    assert ghost.status_code == 400
    assert "location" not in ghost.headers
    run(op.clients.disable(client.client_id, now=op.clock.now()))
    disabled = op.authorize(client, Flow(*pkce()), session)
    assert disabled.status_code == 400
    assert "location" not in disabled.headers


def test_oidc_01_openid_scope_is_required(op: OP) -> None:
    client, _ = op.client()
    reply = op.authorize(client, Flow(*pkce()), op.login(op.user()), scope="email")
    assert callback_params(reply.headers["location"])["error"] == "invalid_scope"


def test_state_is_echoed_exactly(op: OP) -> None:
    """OA-A3 (server side): the client can only check state if we return it verbatim."""
    client, _ = op.client()
    flow = Flow(*pkce(), state="a b&c=d/é")
    reply = op.authorize(client, flow, op.login(op.user()))
    assert callback_params(reply.headers["location"])["state"] == "a b&c=d/é"


def test_oa_a5_code_issued_to_another_client_is_refused(op: OP) -> None:
    client, _ = op.client()
    other, other_secret = op.client(client_id="other-rp")
    code, flow = op.code_for(client, op.login(op.user()))
    reply = op.redeem(other, other_secret, code, flow)
    assert reply.json()["error"] == "invalid_grant"


def test_oa_a5_code_reuse_fails_and_revokes_the_first_tokens(op: OP) -> None:
    client, secret = op.client()
    code, flow = op.code_for(client, op.login(op.user()))
    first = op.redeem(client, secret, code, flow).json()
    second = op.redeem(client, secret, code, flow)
    assert second.json()["error"] == "invalid_grant"
    refreshed = op.token(
        client, secret, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert refreshed.json()["error"] == "invalid_grant"
    userinfo = op.http.get(
        "/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"}
    )
    assert userinfo.status_code == 401


@pytest.mark.parametrize(
    ("verifier", "error"),
    [("", "invalid_request"), ("wrong-" + "x" * 50, "invalid_grant"), ("short", "invalid_request")],
)
def test_oa_a5_pkce_03_wrong_or_missing_verifier(op: OP, verifier: str, error: str) -> None:
    client, secret = op.client()
    code, _flow = op.code_for(client, op.login(op.user()))
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": RP}
    if verifier:
        form["code_verifier"] = verifier
    assert op.token(client, secret, **form).json()["error"] == error


def test_oa_a5_pkce_is_required_and_plain_is_refused(op: OP) -> None:
    """PKCE downgrade: no challenge, or `plain`, never gets a code."""
    client, _ = op.client()
    session = op.login(op.user())
    flow = Flow(*pkce())
    missing = op.authorize(client, flow, session, code_challenge="", code_challenge_method="")
    assert callback_params(missing.headers["location"])["error"] == "invalid_request"
    plain = op.authorize(
        client, flow, session, code_challenge=flow.verifier, code_challenge_method="plain"
    )
    assert callback_params(plain.headers["location"])["error"] == "invalid_request"


def test_oa_a5_expired_code(op: OP) -> None:
    client, secret = op.client()
    code, flow = op.code_for(client, op.login(op.user()))
    op.clock.advance(op.settings.code_lifetime_s + 1)
    assert op.redeem(client, secret, code, flow).json()["error"] == "invalid_grant"


def test_oa_a5_redirect_uri_must_match_at_the_token_endpoint(op: OP) -> None:
    client, secret = op.client(redirect_uris=[RP, "https://rp.example.test/other"])
    code, flow = op.code_for(client, op.login(op.user()))
    reply = op.token(
        client,
        secret,
        grant_type="authorization_code",
        code=code,
        redirect_uri="https://rp.example.test/other",
        code_verifier=flow.verifier,
    )
    assert reply.json()["error"] == "invalid_grant"


def test_oa_a6_responses_carry_the_issuer(op: OP) -> None:
    """RFC 9207: `iss` on success and error responses, so a client can detect mix-up."""
    client, _ = op.client()
    session = op.login(op.user())
    ok = op.authorize(client, Flow(*pkce()), session)
    error = op.authorize(client, Flow(*pkce()), session, scope="email")
    for reply in (ok, error):
        assert callback_params(reply.headers["location"])["iss"] == op.settings.issuer


def test_oidc_08_access_token_in_the_query_is_ignored(op: OP) -> None:
    client, secret = op.client()
    tokens = op.tokens(client, secret, op.login(op.user()))
    reply = op.http.get("/userinfo", params={"access_token": tokens["access_token"]})
    assert reply.status_code == 401


def test_oidc_04_confidential_client_must_authenticate(op: OP) -> None:
    client, _secret = op.client()
    code, flow = op.code_for(client, op.login(op.user()))
    without = op.token(
        client,
        None,
        grant_type="authorization_code",
        code=code,
        redirect_uri=RP,
        code_verifier=flow.verifier,
    )
    assert without.json()["error"] == "invalid_client"
    wrong = op.token(
        client,
        "not-the-secret",
        grant_type="authorization_code",
        code=code,
        redirect_uri=RP,
        code_verifier=flow.verifier,
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"


@pytest.mark.parametrize("grant_type", ["password", "client_credentials", "implicit", ""])
def test_only_code_and_refresh_grants_exist(op: OP, grant_type: str) -> None:
    client, secret = op.client()
    reply = op.token(client, secret, grant_type=grant_type, username="alice", password="x")
    assert reply.status_code == 400
    assert reply.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token", "none"])
def test_only_the_code_response_type_exists(op: OP, response_type: str) -> None:
    client, _ = op.client()
    reply = op.authorize(client, Flow(*pkce()), op.login(op.user()), response_type=response_type)
    assert reply.status_code == 302
    params = callback_params(reply.headers["location"])
    assert params["error"] in ("unsupported_response_type", "unauthorized_client")
    assert "code" not in params


def test_repeated_token_parameters_are_refused(op: OP) -> None:
    client, secret = op.client()
    code, flow = op.code_for(client, op.login(op.user()))
    body = f"grant_type=authorization_code&code={code}&code={code}&redirect_uri={RP}&code_verifier={flow.verifier}"
    reply = op.http.post(
        "/token",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(client.client_id, secret or ""),
    )
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_request"


def test_oversized_token_request_is_refused(op: OP) -> None:
    client, secret = op.client()
    reply = op.http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": "x" * 70_000},
        auth=(client.client_id, secret or ""),
    )
    assert reply.status_code == 413
    assert reply.json()["error"] == "invalid_request"
