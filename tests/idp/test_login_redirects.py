"""`next` is followed only to paths on this origin: the open-redirect guard (standards OA-A2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.idp._support import LoginWorld, make_world
from zerogate.idp import login_path, mfa_path, safe_next
from zerogate.store import Store

OPEN_REDIRECTS = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "//evil.example/%2F..",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/ /evil.example",
    "javascript:alert(1)",
    "JAVASCRIPT:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "relative/path",
    "https:/evil.example",
    "/\u2215evil.example",  # a Unicode slash look-alike
    "/" + "a" * 2048,
    "",
]
SAME_ORIGIN = ["/", "/apps", "/authorize?client_id=x&state=y", "/a/b#frag", "/%2F%2Fevil.example"]


@pytest.mark.parametrize("value", OPEN_REDIRECTS)
def test_safe_next_refuses_anything_but_a_local_path(value: str) -> None:
    assert safe_next(value) == "/"


@pytest.mark.parametrize("value", SAME_ORIGIN)
def test_safe_next_keeps_local_paths(value: str) -> None:
    assert safe_next(value) == value


def test_safe_next_of_nothing_is_home() -> None:
    assert safe_next(None) == "/"


def test_login_path_and_mfa_path_carry_only_safe_targets() -> None:
    assert login_path("/apps?x=1") == "/login?next=%2Fapps%3Fx%3D1"
    assert login_path("/apps", prompt_login=True) == "/login?next=%2Fapps&prompt=login"
    assert login_path("//evil.example") == "/login"
    assert mfa_path("https://evil.example") == "/login/mfa"
    assert mfa_path("/admin") == "/login/mfa?next=%2Fadmin"


@pytest.fixture
def world(store: Store) -> Iterator[LoginWorld]:
    yield from make_world(store)


@pytest.mark.parametrize("value", ["//evil.example", "https://evil.example/x", "/\\evil.example"])
def test_login_ignores_a_foreign_next_after_signing_in(world: LoginWorld, value: str) -> None:
    world.add_user()
    response = world.sign_in(next_path=value)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_login_form_never_echoes_a_foreign_next(world: LoginWorld) -> None:
    page = world.login_page("/login?next=https%3A%2F%2Fevil.example")
    assert 'name="next" value="/"' in page.text
    assert "evil.example" not in page.text


def test_login_signed_in_redirect_ignores_a_foreign_next(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    response = world.client.get("/login?next=//evil.example")
    assert response.headers["location"] == "/"


def test_login_mfa_pending_keeps_only_a_safe_next(world: LoginWorld) -> None:
    secret = world.enrol_totp(world.add_user())
    world.sign_in(next_path="https://evil.example")
    response = world.submit_code(world.code(secret))
    assert response.headers["location"] == "/"


def test_login_step_up_ignores_a_foreign_next(world: LoginWorld) -> None:
    secret = world.enrol_totp(world.add_user())
    world.sign_in()
    world.submit_code(world.code(secret))
    world.clock.advance(60)
    response = world.submit_code(world.code(secret), page="/login/mfa?next=//evil.example")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
