"""`/logout`: GET asks, POST with a CSRF token revokes the session and deletes the cookie."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.idp._support import LoginWorld, csrf_of, error_code_of, make_world, run
from zerogate.identity import SESSION_COOKIE_NAME, SessionInvalid, clear_session_cookie
from zerogate.store import Store


@pytest.fixture
def world(store: Store) -> Iterator[LoginWorld]:
    yield from make_world(store)


def test_logout_get_only_asks_for_confirmation(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    token = world.session_token()
    page = world.client.get("/logout")
    assert page.status_code == 200
    assert "Sign out?" in page.text
    assert token is not None
    run(world.sessions.resolve(token, now=world.clock.now()))  # still live


def test_logout_post_revokes_the_session_and_clears_the_cookie(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    token = world.session_token()
    assert token is not None
    response = world.client.post("/logout", data={"csrf": csrf_of(world.client.get("/logout"))})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?notice=signed_out"
    assert clear_session_cookie() in response.headers.get_list("set-cookie")
    with pytest.raises(SessionInvalid):
        run(world.sessions.resolve(token, now=world.clock.now()))
    # The old cookie, replayed, is signed out (ASVS 7.4.1).
    world.client.cookies.set(SESSION_COOKIE_NAME, token)
    assert world.client.get("/").headers["location"] == "/login"
    signed_out = world.client.get("/login?notice=signed_out")
    assert "You have signed out." in signed_out.text


def test_logout_from_the_account_page_form(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    home = world.client.get("/")
    response = world.client.post("/logout", data={"csrf": csrf_of(home)})
    assert response.status_code == 303
    assert world.client.get("/").status_code == 303


def test_logout_post_without_a_token_is_refused(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    token = world.session_token()
    assert token is not None
    response = world.client.post("/logout", data={})
    assert response.status_code == 403
    assert error_code_of(response) == "csrf_failed"
    run(world.sessions.resolve(token, now=world.clock.now()))  # not signed out


def test_logout_without_a_session_just_clears_the_cookie(world: LoginWorld) -> None:
    response = world.client.post("/logout", data={})
    assert response.status_code == 303
    assert clear_session_cookie() in response.headers.get_list("set-cookie")
    assert world.client.get("/logout").headers["location"] == "/login"


def test_logout_of_an_already_revoked_session_still_signs_out(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    token = world.session_token()
    assert token is not None
    csrf = csrf_of(world.client.get("/logout"))
    run(world.sessions.revoke_all("ada", reason="admin", now=world.clock.now()))
    response = world.client.post("/logout", data={"csrf": csrf})
    assert response.status_code == 303
