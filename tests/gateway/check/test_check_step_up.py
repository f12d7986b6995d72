"""Step-up (RFC 9470; standards OA-A15): denies only a stronger or fresher sign-in would fix."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson

from tests.gateway.check._support import (
    ISSUER,
    LOGIN_URL,
    CheckWorld,
    bearer,
    continued,
    make_world,
    request,
)
from zerogate.gateway.check import CheckResult, RouteSettings, Verdict
from zerogate.policy import Bundle, compile_bundle
from zerogate.store import Store

FRESH_POLICY = """
@id("finance-fresh")
@reason("the finance console needs a second factor and a sign-in in the last 10 minutes")
permit (
  principal in Group::"employees",
  action in Action::"read",
  resource == Route::"finance"
)
when { context.authn.mfa && context.authn.auth_age_s < 600 };
"""
ENTITIES = [
    {"uid": {"type": "Route", "id": "finance"}, "attrs": {}, "parents": []},
    {"uid": {"type": "Group", "id": "employees"}, "attrs": {}, "parents": []},
]


def _fresh_world(store: Store, tmp_path: Path) -> CheckWorld:
    (tmp_path / "finance.cedar").write_text(FRESH_POLICY)
    (tmp_path / "entities.json").write_bytes(orjson.dumps(ENTITIES))
    return make_world(store, bundle=compile_bundle(Bundle.from_dir(tmp_path)))


def _location(result: CheckResult) -> tuple[str, dict[str, list[str]]]:
    location = result.header("location")
    assert location is not None
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qs(parts.query)


def test_check_step_up_browser_goes_to_the_second_factor_page(world: CheckWorld) -> None:
    root = world.add_user("root", "admins")
    cookie = world.sign_in(root, amr=("pwd", "otp"), mfa_ago_s=30)
    result = world.check(request("admin-ui", cookie=cookie, host="admin.example.test"))
    assert (result.status, result.verdict, result.reason) == (302, Verdict.STEP_UP, "mfa_required")
    target, query = _location(result)
    assert target == f"{LOGIN_URL}/mfa"
    assert query == {"next": [continued("https://admin.example.test/pages/Home")]}
    hwk = world.sign_in(root, amr=("pwd", "hwk"), mfa_ago_s=0)
    assert world.check(request("admin-ui", cookie=hwk)).status == 200


def test_check_step_up_api_gets_rfc9470_challenge(world: CheckWorld) -> None:
    root = world.add_user("root", "admins")
    token = world.access_token(root)
    result = world.check(request("admin-ui", authorization=bearer(token), accept=None))
    assert (result.status, result.verdict) == (401, Verdict.STEP_UP)
    assert result.header("www-authenticate") == (
        'Bearer realm="zerogate", error="insufficient_user_authentication", '
        'error_description="a stronger or more recent authentication is required", '
        'acr_values="urn:zerogate:acr:phr"'
    )
    assert orjson.loads(result.body) == {"error": "insufficient_user_authentication"}


def test_check_step_up_stale_sign_in_asks_for_a_new_one(
    sqlite_store: Store, tmp_path: Path
) -> None:
    world = _fresh_world(sqlite_store, tmp_path)
    fay = world.add_user("fay", "employees")
    stale = world.sign_in(fay, amr=("pwd", "otp"), mfa_ago_s=20 * 60, auth_ago_s=20 * 60)
    browser = world.check(request("finance", cookie=stale))
    assert (browser.status, browser.reason) == (302, "reauthentication_required")
    target, query = _location(browser)
    assert target == LOGIN_URL
    assert query == {
        "next": [continued("https://wiki.example.test/pages/Home")],
        "prompt": ["login"],
    }
    api = world.check(request("finance", cookie=stale, accept="application/json"))
    challenge = api.header("www-authenticate") or ""
    assert api.status == 401
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'max_age="599"' in challenge
    assert "acr_values" not in challenge  # the second factor is there; only its age is not
    fresh = world.sign_in(fay, amr=("pwd", "otp"), mfa_ago_s=5, auth_ago_s=5)
    assert world.check(request("finance", cookie=fresh)).status == 200


def test_check_step_up_without_mfa_names_both_needs(sqlite_store: Store, tmp_path: Path) -> None:
    world = _fresh_world(sqlite_store, tmp_path)
    fay = world.add_user("fay", "employees")
    stale_token = world.access_token(fay, auth_time=int(world.clock.now().timestamp()) - 3600)
    result = world.check(request("finance", authorization=bearer(stale_token)))
    challenge = result.header("www-authenticate") or ""
    assert 'acr_values="urn:zerogate:acr:mfa"' in challenge
    assert 'max_age="599"' in challenge


def test_check_deny_that_a_sign_in_cannot_fix_is_a_plain_403(
    sqlite_store: Store, tmp_path: Path
) -> None:
    world = _fresh_world(sqlite_store, tmp_path)
    gus = world.add_user("gus", "contractors")  # not an employee: no sign-in helps
    result = world.check(request("finance", cookie=world.sign_in(gus)))
    assert (result.status, result.verdict) == (403, Verdict.DENY)


def test_check_route_mfa_max_age_steps_up_stale_second_factor(sqlite_store: Store) -> None:
    world = make_world(sqlite_store, routes={"wiki-web": RouteSettings(mfa_max_age_s=300)})
    alice = world.add_user("alice", "engineering")
    recent = world.sign_in(alice, amr=("pwd", "otp"), mfa_ago_s=60)
    assert world.check(request(cookie=recent)).status == 200
    for cookie in (world.sign_in(alice, amr=("pwd", "otp"), mfa_ago_s=600), world.sign_in(alice)):
        result = world.check(request(cookie=cookie))
        assert (result.status, result.reason) == (302, "mfa_required")
        assert _location(result)[0] == f"{LOGIN_URL}/mfa"
    token = world.access_token(alice)
    api = world.check(request(authorization=bearer(token)))
    assert api.status == 401
    assert 'acr_values="urn:zerogate:acr:mfa", max_age="300"' in (
        api.header("www-authenticate") or ""
    )
    assert api.reason == "reauthentication_required"


def test_check_route_mfa_max_age_does_not_mask_a_deny(sqlite_store: Store) -> None:
    world = make_world(sqlite_store, routes={"admin-ui": RouteSettings(mfa_max_age_s=300)})
    bob = world.add_user("bob", "employees")
    result = world.check(request("admin-ui", cookie=world.sign_in(bob)))
    assert (result.status, result.reason) == (403, "no_permit")


def test_check_step_up_url_can_be_configured(sqlite_store: Store) -> None:
    from zerogate.gateway.check import Checker

    world = make_world(sqlite_store)
    world.checker = Checker(
        world.pdp,
        world.sessions,
        world.directory,
        world.ring,
        issuer=ISSUER,
        clock=world.clock,
        login_url=LOGIN_URL,
        step_up_url="https://mfa.zerogate.test/step-up",
    )
    root = world.add_user("root", "admins")
    result = world.check(request("admin-ui", cookie=world.sign_in(root)))
    assert _location(result)[0] == "https://mfa.zerogate.test/step-up"
