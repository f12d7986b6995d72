"""An allow tells Envoy to drop Zerogate's own cookies from what the upstream gets."""

from __future__ import annotations

from tests.gateway.check._support import CheckWorld, request
from zerogate.gateway.check import HOST_COOKIE
from zerogate.identity import SESSION_COOKIE_NAME
from zerogate.tokens import decision_cookie

MINE = decision_cookie("wiki-web")
OTHER = decision_cookie("admin-ui")


def test_the_upstream_gets_the_apps_cookies_and_its_own_decision_token_only(
    world: CheckWorld,
) -> None:
    alice = world.add_user("alice", "engineering")
    session = world.sign_in(alice)  # "theme=dark; zerogate_session=..."
    cookie = f"{session}; {HOST_COOKIE}=h; {MINE}=t1; {OTHER}=t2; app=1"
    result = world.check(request(cookie=cookie))
    assert result.allowed
    assert result.header("cookie") == f"theme=dark; {MINE}=t1; app=1"
    assert result.header("x-envoy-auth-headers-to-remove") is None


def test_nothing_left_means_no_cookie_header_at_all(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    token = world.sign_in(alice).split(f"{SESSION_COOKIE_NAME}=", 1)[1]
    result = world.check(request(cookie=f"{SESSION_COOKIE_NAME}={token}"))
    assert result.allowed
    assert result.header("cookie") is None
    assert result.header("x-envoy-auth-headers-to-remove") == "cookie"


def test_a_request_without_our_cookies_is_left_alone(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    bearer = world.access_token(alice)
    result = world.check(request(cookie="app=1", authorization=f"Bearer {bearer}"))
    assert result.allowed
    assert result.header("cookie") is None
    assert result.header("x-envoy-auth-headers-to-remove") is None
