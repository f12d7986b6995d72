"""Routes on their own hosts: the IdP's one-time hand-off code becomes a per-host cookie that
names (never carries) the IdP session, and ends with it."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest

from tests.gateway.check._support import APP_HOST, CheckWorld, make_world, request, run
from zerogate.gateway.check import HANDOFF_PATH, HOST_COOKIE, HostSessions
from zerogate.gateway.check._handoff import new_handoff_code
from zerogate.identity import parse_session_cookie, session_id
from zerogate.store import Store

KEY = b"k" * 32
ORIGIN = f"https://{APP_HOST}"


@pytest.fixture
def world(sqlite_store: Store) -> CheckWorld:
    w = make_world(sqlite_store)
    w.checker = replace_checker(w)
    return w


def replace_checker(world: CheckWorld):  # type: ignore[no-untyped-def]

    return world.checker_with(
        host_sessions=HostSessions(KEY),
    )


def _sid(world: CheckWorld) -> str:
    alice = world.add_user("alice", "employees")
    token = parse_session_cookie(world.sign_in(alice).split("; ", 1)[1])
    assert token is not None
    return session_id(token)


def _redeem(world: CheckWorld, code: str, *, host: str = APP_HOST, to: str = "/pages/Home"):  # type: ignore[no-untyped-def]
    return world.check(
        request(path=HANDOFF_PATH, query=urlencode({"code": code, "to": to}), host=host)
    )


def _cookie_of(result) -> str:  # type: ignore[no-untyped-def]
    set_cookie = result.header("set-cookie")
    assert set_cookie.startswith(f"{HOST_COOKIE}=")
    assert "Secure" in set_cookie and "HttpOnly" in set_cookie  # noqa: PT018
    return str(set_cookie.split(";", 1)[0])


def test_a_code_becomes_a_host_cookie_that_signs_in_on_that_host_only(world: CheckWorld) -> None:
    sid = _sid(world)
    code = new_handoff_code(key=KEY, session_id=sid, origin=ORIGIN, now=world.clock.now())
    redeemed = _redeem(world, code)
    assert redeemed.status == 302
    assert redeemed.header("location") == "/pages/Home"
    cookie = _cookie_of(redeemed)
    assert world.check(request(cookie=cookie)).status == 200
    # The same cookie on another host proves nothing there.
    assert world.check(request(cookie=cookie, host="admin.example.test")).status == 302


def test_a_code_is_single_use_bound_to_its_origin_and_short_lived(world: CheckWorld) -> None:
    sid = _sid(world)
    now = world.clock.now()
    code = new_handoff_code(key=KEY, session_id=sid, origin=ORIGIN, now=now)
    assert _redeem(world, code).status == 302
    assert (_redeem(world, code).status, world.records[-1].reason) == (403, "handoff_replayed")
    other = new_handoff_code(key=KEY, session_id=sid, origin="https://evil.example.test", now=now)
    assert _redeem(world, other).status == 403
    old = new_handoff_code(key=KEY, session_id=sid, origin=ORIGIN, now=now - timedelta(minutes=2))
    assert _redeem(world, old).status == 403
    forged = new_handoff_code(key=b"x" * 32, session_id=sid, origin=ORIGIN, now=now)
    assert _redeem(world, forged).status == 403


def test_the_return_path_stays_on_the_host(world: CheckWorld) -> None:
    sid = _sid(world)
    for to in ("//evil.test/", "https://evil.test/", "/\\\\evil.test"):
        code = new_handoff_code(key=KEY, session_id=sid, origin=ORIGIN, now=world.clock.now())
        assert _redeem(world, code, to=to).header("location") == "/"


def test_ending_the_idp_session_ends_the_host_cookie(world: CheckWorld) -> None:
    sid = _sid(world)
    code = new_handoff_code(key=KEY, session_id=sid, origin=ORIGIN, now=world.clock.now())
    cookie = _cookie_of(_redeem(world, code))
    run(world.sessions.revoke(sid, reason="logout", now=world.clock.now()))
    again = world.check(request(cookie=cookie))
    assert again.status == 302
    assert "next=%2Fhandoff%3F" in str(again.header("location"))  # via the IdP, not /continue


def test_unauthenticated_browsers_on_other_hosts_go_through_the_handoff(world: CheckWorld) -> None:
    result = world.check(request())
    assert result.status == 302
    assert "next=%2Fhandoff%3Fto%3D" in str(result.header("location"))
