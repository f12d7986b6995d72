"""`/login` with a password: sessions, one non-enumerating failure, lockout, prompt=login."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.idp._support import GOOD_PASSWORD, LoginWorld, make_world, run
from zerogate.identity import SESSION_COOKIE_NAME, AuthenticationFailed, SessionInvalid
from zerogate.store import Store


@pytest.fixture
def world(store: Store) -> Iterator[LoginWorld]:
    yield from make_world(store)


def test_login_page_shows_the_form_and_sets_the_csrf_cookie(world: LoginWorld) -> None:
    page = world.login_page()
    assert "<h1>Sign in</h1>" in page.text
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("__Host-zerogate_csrf=")
    assert all(a in cookie for a in ("Path=/", "Secure", "HttpOnly", "SameSite=Strict"))


def test_login_success_without_mfa_creates_a_session(world: LoginWorld) -> None:
    world.add_user()
    response = world.sign_in()
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = next(c for c in response.headers.get_list("set-cookie") if SESSION_COOKIE_NAME in c)
    assert all(a in cookie for a in ("Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age="))
    token = world.session_token()
    assert token is not None
    active = run(world.sessions.resolve(token, now=world.clock.now()))
    assert (active.username, active.amr, active.mfa_at) == ("ada", ("pwd",), None)
    home = world.client.get("/")
    assert home.status_code == 200
    assert "Signed in as <strong>ada</strong>" in home.text


def test_login_accepts_the_email_address_and_goes_to_next(world: LoginWorld) -> None:
    world.add_user()
    response = world.sign_in("ADA@example.test", next_path="/apps?tab=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/apps?tab=1"


def test_login_wrong_password_and_unknown_user_give_the_same_page(world: LoginWorld) -> None:
    world.add_user()
    wrong = world.sign_in("ada", "not the password at all")
    unknown = world.sign_in("nobody", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert AuthenticationFailed.MESSAGE in wrong.text
    # Same page apart from the echoed username: nothing tells the two cases apart.
    assert wrong.text.replace('value="ada"', "") == unknown.text.replace('value="nobody"', "")
    assert world.session_token() is None


def test_login_locked_account_gets_the_same_message(world: LoginWorld) -> None:
    world.add_user()
    for _ in range(5):  # LoginLimits.max_failures
        assert world.sign_in("ada", "wrong password here").status_code == 401
    locked = world.sign_in("ada", GOOD_PASSWORD)
    assert locked.status_code == 401
    assert AuthenticationFailed.MESSAGE in locked.text
    assert world.session_token() is None
    world.clock.advance(15 * 60 + 1)  # the lockout ends by itself
    assert world.sign_in("ada", GOOD_PASSWORD).status_code == 303


def test_login_failure_page_links_the_error_to_the_fields(world: LoginWorld) -> None:
    failed = world.sign_in("nobody", "whatever it is")
    assert 'id="form-error"' in failed.text
    assert failed.text.count('aria-describedby="form-error"') == 2
    assert 'role="alert"' in failed.text
    assert 'value="nobody"' in failed.text
    assert "whatever it is" not in failed.text


def test_login_page_redirects_a_signed_in_user_to_next(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    response = world.client.get("/login?next=/dashboard")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"


def test_login_prompt_login_shows_the_form_and_replaces_the_session(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    old = world.session_token()
    assert old is not None
    page = world.login_page("/login?prompt=login&next=/authorize%3Fx%3D1")
    assert "Confirm your password" in page.text
    assert 'name="prompt" value="login"' in page.text
    assert 'name="next" value="/authorize?x=1"' in page.text
    world.clock.advance(30)
    again = world.sign_in(path="/login?prompt=login", next_path="/authorize?x=1")
    assert again.status_code == 303
    assert again.headers["location"] == "/authorize?x=1"
    new = world.session_token()
    assert new is not None
    assert new != old
    with pytest.raises(SessionInvalid):  # ASVS 7.2.4: the old token ends with re-authentication
        run(world.sessions.resolve(old, now=world.clock.now()))
    active = run(world.sessions.resolve(new, now=world.clock.now()))
    assert active.auth_time == world.clock.now()


def test_login_home_without_a_session_redirects_to_login(world: LoginWorld) -> None:
    response = world.client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
