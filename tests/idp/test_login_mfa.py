"""`/login/mfa`: TOTP or a recovery code after the password, replay refusal, and step-up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.idp._support import LoginWorld, csrf_of, make_world, run
from zerogate.identity import SESSION_COOKIE_NAME, SessionInvalid, TOTPInvalid
from zerogate.idp import PENDING_COOKIE_NAME
from zerogate.store import Store


@pytest.fixture
def world(store: Store) -> Iterator[LoginWorld]:
    yield from make_world(store)


def _password_step(world: LoginWorld, *, next_path: str | None = None) -> str:
    """Enrol ada's TOTP, pass the password, and return the TOTP secret."""
    secret = world.enrol_totp(world.add_user())
    response = world.sign_in(next_path=next_path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login/mfa"
    return secret


def test_login_with_totp_requires_the_second_factor(world: LoginWorld) -> None:
    _password_step(world)
    assert world.session_token() is None  # no session yet, only a pending login
    pending = world.client.cookies.get(PENDING_COOKIE_NAME)
    assert pending is not None
    assert pending.startswith("v1.")
    page = world.client.get("/login/mfa")
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in page.text
    assert world.client.get("/").status_code == 303  # the account page is still closed


def test_login_totp_success_creates_an_mfa_session(world: LoginWorld) -> None:
    secret = _password_step(world, next_path="/after")
    response = world.submit_code(world.code(secret))
    assert response.status_code == 303
    assert response.headers["location"] == "/after"
    cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith(f"{PENDING_COOKIE_NAME}=;") and "Max-Age=0" in c for c in cookies)
    token = world.session_token()
    assert token is not None
    active = run(world.sessions.resolve(token, now=world.clock.now()))
    assert active.amr == ("pwd", "otp")
    assert active.mfa_at == world.clock.now()


def test_login_replayed_totp_code_is_rejected(world: LoginWorld) -> None:
    secret = _password_step(world)
    code = world.code(secret)
    assert world.submit_code(code).status_code == 303
    world.client.cookies.delete(SESSION_COOKIE_NAME)
    world.clock.advance(5)  # same 30 s step: the same code is still "current"
    assert world.sign_in().headers["location"] == "/login/mfa"
    replay = world.submit_code(code)
    assert replay.status_code == 401
    assert TOTPInvalid.MESSAGE in replay.text
    assert world.session_token() is None


def test_login_wrong_and_malformed_codes_re_render_the_form(world: LoginWorld) -> None:
    secret = _password_step(world)
    refused = world.submit_code(world.wrong_code(secret))
    assert refused.status_code == 401
    assert 'aria-invalid="true"' in refused.text
    malformed = world.submit_code("12ab")
    assert malformed.status_code == 400
    assert "6 digits" in malformed.text
    assert world.session_token() is None


def test_login_recovery_code_completes_sign_in_once(world: LoginWorld) -> None:
    _password_step(world)
    [code, *_] = run(world.recovery.generate("ada", now=world.clock.now()))
    page = world.client.get("/login/mfa?method=recovery")
    assert "Recovery code" in page.text
    assert "Use your authenticator app instead" in page.text
    response = world.submit_code(code.upper(), method="recovery", page="/login/mfa?method=recovery")
    assert response.status_code == 303
    token = world.session_token()
    assert token is not None
    assert run(world.sessions.resolve(token, now=world.clock.now())).amr == ("pwd", "mfa")
    world.client.cookies.delete(SESSION_COOKIE_NAME)
    world.sign_in()
    again = world.submit_code(code, method="recovery", page="/login/mfa?method=recovery")
    assert again.status_code == 401


def test_login_mfa_page_links_switch_between_methods(world: LoginWorld) -> None:
    _password_step(world)
    totp_page = world.client.get("/login/mfa")
    assert 'href="/login/mfa?method=recovery"' in totp_page.text
    assert 'href="/login/mfa?method=totp"' in world.client.get("/login/mfa?method=recovery").text


def test_login_mfa_without_a_pending_login_or_session_goes_to_login(world: LoginWorld) -> None:
    response = world.client.get("/login/mfa?next=/x")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fx"


def test_login_pending_cookie_expires_after_five_minutes(world: LoginWorld) -> None:
    secret = _password_step(world)
    world.clock.advance(301)
    response = world.client.get("/login/mfa")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert world.session_token() is None
    assert world.code(secret)  # the code would be fine; the pending login is not


def test_login_forged_pending_cookie_is_ignored(world: LoginWorld) -> None:
    _password_step(world)
    value = world.client.cookies.get(PENDING_COOKIE_NAME)
    assert value is not None
    body, _, mac = value.rpartition(".")
    world.client.cookies.delete(PENDING_COOKIE_NAME)
    world.client.cookies.set(PENDING_COOKIE_NAME, f"{body}.{mac[::-1]}")
    assert world.client.get("/login/mfa").status_code == 303


def test_login_step_up_rotates_the_session_token(world: LoginWorld) -> None:
    secret = world.enrol_totp(world.add_user())
    world.sign_in()
    world.submit_code(world.code(secret))
    old = world.session_token()
    assert old is not None
    world.clock.advance(120)  # a new TOTP step
    page = world.client.get("/login/mfa?next=/admin")
    assert page.status_code == 200
    assert "Confirm it's you" in page.text
    assert 'name="next" value="/admin"' in page.text
    stepped = world.client.post(
        "/login/mfa",
        data={
            "csrf": csrf_of(page),
            "method": "totp",
            "code": world.code(secret),
            "next": "/admin",
        },
    )
    assert stepped.status_code == 303
    assert stepped.headers["location"] == "/admin"
    new = world.session_token()
    assert new is not None
    assert new != old
    with pytest.raises(SessionInvalid):
        run(world.sessions.resolve(old, now=world.clock.now()))
    active = run(world.sessions.resolve(new, now=world.clock.now()))
    assert active.mfa_at == world.clock.now()


def test_login_step_up_without_a_factor_offers_enrolment(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    page = world.client.get("/login/mfa?next=/admin")
    assert page.status_code == 200
    assert 'href="/mfa/totp/enrol"' in page.text


def test_login_step_up_with_a_wrong_code_keeps_the_old_session(world: LoginWorld) -> None:
    secret = world.enrol_totp(world.add_user())
    world.sign_in()
    world.submit_code(world.code(secret))
    old = world.session_token()
    world.clock.advance(120)
    refused = world.submit_code(world.wrong_code(secret), page="/login/mfa?next=/admin")
    assert refused.status_code == 401
    assert world.session_token() == old


def test_login_pending_of_a_since_disabled_user_goes_back_to_login(world: LoginWorld) -> None:
    secret = _password_step(world)
    run(world.directory.disable_user("ada", now=world.clock.now()))
    response = world.submit_code(world.code(secret))
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert world.session_token() is None
    assert world.client.cookies.get(PENDING_COOKIE_NAME) is None


def test_login_signing_in_as_someone_else_drops_the_pending_login(world: LoginWorld) -> None:
    _password_step(world)
    world.add_user("grace")
    response = world.sign_in("grace")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert world.client.cookies.get(PENDING_COOKIE_NAME) is None
    assert world.client.get("/login/mfa").status_code == 200  # grace's step-up, not ada's login
    assert "Set up two-step verification" in world.client.get("/login/mfa").text
