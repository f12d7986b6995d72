"""RP-initiated logout (OIDC-10, OA-A13) and back-channel logout tokens (OIDC-11)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.identity._support import run
from tests.identity.oidc._op import OP, cookie
from zerogate.identity import SessionInvalid
from zerogate.tokens import BACKCHANNEL_LOGOUT_EVENT, TokenType, verify

LOGGED_OUT = "https://rp.example.test/logged-out"


def test_oidc_10_logout_with_hint_ends_the_session_and_returns_to_the_rp(op: OP) -> None:
    client, secret = op.client(post_logout_redirect_uris=[LOGGED_OUT])
    session = op.login(op.user())
    tokens = op.tokens(client, secret, session)
    reply = op.http.get(
        "/end-session",
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": LOGGED_OUT,
            "state": "s1",
        },
        headers=cookie(session),
    )
    assert reply.status_code == 303
    target = urlsplit(reply.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == LOGGED_OUT
    assert parse_qs(target.query)["state"] == ["s1"]
    assert "Max-Age=0" in reply.headers["set-cookie"]
    try:
        run(op.sessions.resolve(session.token, now=op.clock.now()))
        raise AssertionError("the session survived logout")
    except SessionInvalid:
        pass
    refreshed = op.token(
        client, secret, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.json()["error"] == "invalid_grant"


def test_oidc_10_post_logout_redirect_must_be_registered_exactly(op: OP) -> None:
    client, secret = op.client(post_logout_redirect_uris=[LOGGED_OUT])
    session = op.login(op.user())
    tokens = op.tokens(client, secret, session)
    reply = op.http.get(
        "/end-session",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT + "/x"},
        headers=cookie(session),
    )
    assert reply.status_code == 400
    assert "location" not in reply.headers
    run(op.sessions.resolve(session.token, now=op.clock.now()))  # still signed in


def test_an_expired_id_token_is_still_a_valid_hint(op: OP) -> None:
    client, secret = op.client(post_logout_redirect_uris=[LOGGED_OUT])
    session = op.login(op.user())
    tokens = op.tokens(client, secret, session)
    op.clock.advance(3600)
    reply = op.http.get(
        "/end-session",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT},
        headers=cookie(session),
    )
    assert reply.status_code == 303


def test_a_forged_hint_is_refused(op: OP) -> None:
    client, secret = op.client(post_logout_redirect_uris=[LOGGED_OUT])
    session = op.login(op.user())
    tokens = op.tokens(client, secret, session)
    head, body, sig = tokens["id_token"].split(".")
    forged = f"{head}.{body}.{sig[:-4]}AAAA"
    reply = op.http.get(
        "/end-session",
        params={"id_token_hint": forged, "post_logout_redirect_uri": LOGGED_OUT},
        headers=cookie(session),
    )
    assert reply.status_code == 400


def test_a_hint_for_another_user_does_not_end_this_session(op: OP) -> None:
    client, secret = op.client(post_logout_redirect_uris=[LOGGED_OUT])
    bob_tokens = op.tokens(client, secret, op.login(op.user("bob")))
    alice_session = op.login(op.user("alice"))
    reply = op.http.get(
        "/end-session",
        params={"id_token_hint": bob_tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT},
        headers=cookie(alice_session),
    )
    assert reply.status_code == 303
    run(op.sessions.resolve(alice_session.token, now=op.clock.now()))


def test_oidc_11_backchannel_logout_tokens_are_made_for_clients_that_asked(op: OP) -> None:
    receiver = "https://rp.example.test/backchannel"
    client, secret = op.client(backchannel_logout_uri=receiver)
    quiet, quiet_secret = op.client(client_id="quiet-rp")
    session = op.login(op.user())
    op.tokens(client, secret, session)
    op.tokens(quiet, quiet_secret, session)
    notices = run(op.provider.logout_notices([session.session.id], now=op.clock.now()))
    assert [n.client_id for n in notices] == [client.client_id]
    assert notices[0].uri == receiver
    token = verify(
        notices[0].logout_token,
        keys=op.keys,
        expected_type=TokenType.LOGOUT,
        expected_issuer=op.settings.issuer,
        expected_audience=client.client_id,
        now=op.clock.now(),
    )
    assert token.header["typ"] == "logout+jwt"
    assert token.claims["sid"] == session.session.id
    assert BACKCHANNEL_LOGOUT_EVENT in token.claims["events"]
    assert "nonce" not in token.claims
