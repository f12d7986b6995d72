"""Every form post needs a CSRF token bound to this browser and form, and our own Origin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.idp._support import (
    GOOD_PASSWORD,
    PUBLIC_URL,
    LoginWorld,
    csrf_of,
    error_code_of,
    make_world,
)
from zerogate.idp import CSRF_COOKIE_NAME
from zerogate.store import Store


@pytest.fixture
def world(store: Store) -> Iterator[LoginWorld]:
    yield from make_world(store)


def _form(world: LoginWorld, **extra: str) -> dict[str, str]:
    return {
        "csrf": csrf_of(world.login_page()),
        "username": "ada",
        "password": GOOD_PASSWORD,
        **extra,
    }


def _refused(response_status: int, world: LoginWorld, text: str) -> None:
    assert response_status == 403
    assert world.session_token() is None
    assert "csrf_failed" in text


def test_login_post_without_a_token_is_refused(world: LoginWorld) -> None:
    world.add_user()
    form = _form(world)
    del form["csrf"]
    response = world.client.post("/login", data=form)
    _refused(response.status_code, world, response.text)
    assert error_code_of(response) == "csrf_failed"


def test_login_post_with_a_wrong_token_is_refused(world: LoginWorld) -> None:
    world.add_user()
    response = world.client.post("/login", data=_form(world, csrf="A" * 43))
    _refused(response.status_code, world, response.text)


def test_login_post_without_the_csrf_cookie_is_refused(world: LoginWorld) -> None:
    world.add_user()
    form = _form(world)
    world.client.cookies.delete(CSRF_COOKIE_NAME)
    response = world.client.post("/login", data=form)
    _refused(response.status_code, world, response.text)


def test_login_token_of_another_browser_is_refused(world: LoginWorld) -> None:
    """An attacker's own valid token does not work with the victim's cookie (login CSRF)."""
    world.add_user()
    attacker_token = csrf_of(world.login_page())
    world.client.cookies.delete(CSRF_COOKIE_NAME)
    world.login_page()  # the victim's browser gets its own anchor
    form = {"csrf": attacker_token, "username": "ada", "password": GOOD_PASSWORD}
    response = world.client.post("/login", data=form)
    _refused(response.status_code, world, response.text)


def test_login_token_of_another_form_is_refused(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    logout_token = csrf_of(world.client.get("/logout"))
    response = world.client.post("/login/mfa", data={"csrf": logout_token, "code": "123456"})
    assert response.status_code == 403
    assert error_code_of(response) == "csrf_failed"


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://login.zerogate.test", PUBLIC_URL + ":8443"]
)
def test_login_post_from_a_foreign_origin_is_refused(world: LoginWorld, origin: str) -> None:
    world.add_user()
    response = world.client.post("/login", data=_form(world), headers={"origin": origin})
    _refused(response.status_code, world, response.text)


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
@pytest.mark.parametrize("origin", [None, "null", PUBLIC_URL])
def test_login_post_marked_cross_site_by_the_browser_is_refused(
    world: LoginWorld, site: str, origin: str | None
) -> None:
    world.add_user()
    headers = {"sec-fetch-site": site} | ({"origin": origin} if origin else {})
    response = world.client.post("/login", data=_form(world), headers=headers)
    _refused(response.status_code, world, response.text)


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": PUBLIC_URL, "sec-fetch-site": "same-origin"},
        {"origin": PUBLIC_URL},
        # What Chromium sends from a page with `Referrer-Policy: no-referrer`.
        {"origin": "null", "sec-fetch-site": "same-origin"},
        {},  # no browser metadata at all: the token alone decides
    ],
)
def test_login_post_from_our_origin_is_accepted(world: LoginWorld, headers: dict[str, str]) -> None:
    world.add_user()
    response = world.client.post("/login", data=_form(world), headers=headers)
    assert response.status_code == 303
    assert world.session_token() is not None


def test_login_csrf_refusal_page_has_security_headers(world: LoginWorld) -> None:
    response = world.client.post("/login", data={"username": "ada"})
    assert response.status_code == 403
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
