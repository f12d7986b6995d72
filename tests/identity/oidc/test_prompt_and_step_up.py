"""prompt, max_age and acr_values (OIDC-03, OA-A12, OA-A15): when the browser must log in again
or step up first, and that the loop back to the authorization endpoint terminates."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.identity.oidc._op import OP, Flow, callback_params, cookie, pkce
from zerogate.identity.oidc import ACR
from zerogate.tokens import TokenType, verify


def _next(location: str) -> str:
    return parse_qs(urlsplit(location).query)["next"][0]


def test_prompt_none_without_a_session_is_login_required_and_shows_no_ui(op: OP) -> None:
    client, _ = op.client()
    reply = op.authorize(client, Flow(*pkce()), None, prompt="none")
    assert reply.status_code == 302
    assert callback_params(reply.headers["location"])["error"] == "login_required"


def test_prompt_none_with_a_session_issues_a_code(op: OP) -> None:
    client, _ = op.client()
    reply = op.authorize(client, Flow(*pkce()), op.login(op.user()), prompt="none")
    assert "code" in callback_params(reply.headers["location"])


def test_prompt_login_forces_a_new_login_then_completes(op: OP) -> None:
    client, _ = op.client()
    alice = op.user()
    old = op.login(alice)
    op.clock.advance(5)
    reply = op.authorize(client, Flow(*pkce()), old, prompt="login")
    assert reply.status_code == 303
    location = reply.headers["location"]
    assert parse_qs(urlsplit(location).query)["prompt"] == ["login"]
    back = _next(location)
    # Coming back with the old session still asks for a login: no way around it.
    again = op.http.get(back, headers=cookie(old))
    assert again.status_code == 303
    assert again.headers["location"].startswith("/login?")
    # A fresh login (a new session, later) completes the request without looping.
    op.clock.advance(5)
    fresh = op.login(alice)
    done = op.http.get(back, headers=cookie(fresh))
    assert done.status_code == 302
    assert "code" in callback_params(done.headers["location"])


def test_max_age_exceeded_requires_reauthentication(op: OP) -> None:
    client, _secret = op.client()
    alice = op.user()
    session = op.login(alice)
    op.clock.advance(120)
    within = op.authorize(client, Flow(*pkce()), session, max_age="300")
    assert within.status_code == 302
    beyond = op.authorize(client, Flow(*pkce()), session, max_age="60")
    assert beyond.status_code == 303
    fresh = op.login(alice)
    done = op.http.get(_next(beyond.headers["location"]), headers=cookie(fresh))
    assert "code" in callback_params(done.headers["location"])


def test_acr_values_step_up_to_mfa(op: OP) -> None:
    client, _secret = op.client()
    alice = op.user()
    password_only = op.login(alice)
    reply = op.authorize(client, Flow(*pkce()), password_only, acr_values=ACR.MFA.value)
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/login/mfa?next=")
    back = _next(reply.headers["location"])
    # Still only a password after the detour: refused instead of looping (OA-A15).
    unmet = op.http.get(back, headers=cookie(password_only))
    assert (
        callback_params(unmet.headers["location"])["error"] == "unmet_authentication_requirements"
    )
    stepped = op.login(alice, amr=("pwd", "otp", "mfa"), mfa=True)
    done = op.http.get(back, headers=cookie(stepped))
    code = callback_params(done.headers["location"])["code"]
    assert code


def test_acr_in_the_id_token_reflects_mfa(op: OP) -> None:
    client, secret = op.client()
    session = op.login(op.user(), amr=("pwd", "otp", "mfa"), mfa=True)
    code, flow = op.code_for(client, session, acr_values=ACR.MFA.value)
    tokens = op.redeem(client, secret, code, flow).json()
    claims = verify(
        tokens["id_token"],
        keys=op.keys,
        expected_type=TokenType.ID,
        expected_issuer=op.settings.issuer,
        expected_audience=client.client_id,
        now=op.clock.now(),
    ).claims
    assert claims["acr"] == ACR.MFA
    assert claims["amr"] == ["pwd", "otp", "mfa"]


def test_prompt_none_cannot_step_up(op: OP) -> None:
    client, _ = op.client()
    reply = op.authorize(
        client, Flow(*pkce()), op.login(op.user()), acr_values=ACR.MFA.value, prompt="none"
    )
    assert callback_params(reply.headers["location"])["error"] == "interaction_required"


def test_consent_required_clients_never_get_a_silent_code(op: OP) -> None:
    """OA-A12: prompt=none without prior consent is consent_required; with no consent page, an error."""
    client, _ = op.client(consent_required=True)
    session = op.login(op.user())
    silent = op.authorize(client, Flow(*pkce()), session, prompt="none")
    assert callback_params(silent.headers["location"])["error"] == "consent_required"
    interactive = op.authorize(client, Flow(*pkce()), session)
    assert interactive.status_code == 400
