"""The check with a session cookie: allow with identity headers, deny pages, sign-in redirects."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import orjson

from tests.gateway.check._support import (
    APP_HOST,
    CLIENT_IP,
    LOGIN_URL,
    CheckWorld,
    continued,
    make_world,
    request,
)
from tests.identity._support import run
from zerogate.gateway.check import DECISION_ID_HEADER, CheckResult, Verdict
from zerogate.identity import SESSION_COOKIE_NAME
from zerogate.policy import EntityUID
from zerogate.store import Store


def _login_next(result: CheckResult) -> str:
    location = result.header("location")
    assert location is not None
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == LOGIN_URL
    return parse_qs(parts.query)["next"][0]


def test_check_session_allowed_on_both_backends(store: Store) -> None:
    world = make_world(store)
    alice = world.add_user("alice", "engineering")
    result = world.check(request(cookie=world.sign_in(alice)))
    assert result.status == 200
    assert result.verdict is Verdict.ALLOW
    assert result.header("x-zerogate-user") == "alice"
    assert result.header("x-zerogate-email") == "alice@example.test"
    assert result.header("x-zerogate-groups") == "engineering"
    assert result.header(DECISION_ID_HEADER) == result.decision_id
    assert result.body == b""


def test_check_session_allow_record_carries_route_principal_and_policy(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering", "admins")
    result = world.check(request(cookie=world.sign_in(alice), request_id="r-42"))
    assert result.header("x-zerogate-groups") == "admins,engineering"
    [record] = world.records
    assert record.decision_id == result.decision_id
    assert (record.verdict, record.reason, record.status) == (Verdict.ALLOW, "allowed", 200)
    assert (record.route, record.action, record.principal) == ("wiki-web", "GET", 'User::"alice"')
    assert record.policy_ids == ("wiki-read",)
    assert record.bundle_hash == world.pdp.bundle_hash
    assert record.client_ip == CLIENT_IP
    assert record.request_id == "r-42"
    assert record.session_id is not None
    assert len(record.session_id) == 64
    assert record.latency_s >= 0
    assert record.error is None


def test_check_session_denied_route_is_a_page_with_reason_and_id_only(world: CheckWorld) -> None:
    bob = world.add_user("bob", "employees")
    result = world.check(request("admin-ui", cookie=world.sign_in(bob), host="admin.example.test"))
    assert result.status == 403
    assert result.verdict is Verdict.DENY
    assert result.reason == "no_permit"
    assert result.header("content-type") == "text/html; charset=utf-8"
    assert "default-src 'none'" in (result.header("content-security-policy") or "")
    assert result.header("cache-control") == "no-store"
    page = result.body.decode()
    assert "Admin routes need an admin signed in with a hardware key." in page
    assert result.decision_id in page
    # The human reason only: no policy id, condition text, file or line (ASVS 5.0 16.5.1).
    for internal in ("admin-console", "context.", "admin.cedar", "principal in", "hwk"):
        assert internal not in page


def test_check_session_denied_api_call_gets_json(world: CheckWorld) -> None:
    bob = world.add_user("bob", "employees")
    result = world.check(request("admin-ui", cookie=world.sign_in(bob), accept="application/json"))
    assert result.status == 403
    body = orjson.loads(result.body)
    assert body == {
        "error": "no_permit",
        "error_description": "Admin routes need an admin signed in with a hardware key.",
        "decision_id": result.decision_id,
    }


def test_check_session_forbid_shows_its_reason(world: CheckWorld) -> None:
    carol = world.add_user("carol", "employees")
    result = world.check(request(cookie=world.sign_in(carol), client_ip="203.0.113.9"))
    assert result.status == 403
    assert result.reason == "forbidden"
    assert b"Requests from the refused address range are blocked." in result.body


def test_check_no_credentials_browser_is_sent_to_sign_in(world: CheckWorld) -> None:
    result = world.check(request(path="/pages/Home%20Page", query="rev=3&x=%2F"))
    assert result.status == 302
    assert result.verdict is Verdict.UNAUTHENTICATED
    assert result.reason == "no_credentials"
    assert _login_next(result) == continued(f"https://{APP_HOST}/pages/Home%20Page?rev=3&x=%2F")
    assert result.header(DECISION_ID_HEADER) == result.decision_id
    assert result.header("cache-control") == "no-store"


def test_check_no_credentials_on_the_login_origin_uses_a_path(world: CheckWorld) -> None:
    result = world.check(request(host="login.zerogate.test", path="/apps/wiki", query="a=1"))
    assert _login_next(result) == "/apps/wiki?a=1"


def test_check_no_credentials_api_gets_bearer_challenge(world: CheckWorld) -> None:
    for req in (
        request(accept="application/json"),
        request(accept=None),
        request(method="POST", accept="text/html"),  # a form post is not a navigation to redirect
    ):
        result = world.check(req)
        assert result.status == 401
        assert result.header("www-authenticate") == 'Bearer realm="zerogate"'
        assert result.header("location") is None


def test_check_head_request_has_no_body(world: CheckWorld) -> None:
    result = world.check(request(method="HEAD", accept="application/json"))
    assert (result.status, result.body) == (401, b"")


def test_check_session_garbage_cookie_is_no_credentials(world: CheckWorld) -> None:
    for cookie in (f"{SESSION_COOKIE_NAME}=short", f"{SESSION_COOKIE_NAME}=", "other=1"):
        result = world.check(request(cookie=cookie))
        assert (result.status, result.reason) == (302, "no_credentials")


def test_check_session_expired_or_revoked_is_unauthenticated(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    idle = world.sign_in(alice)
    revoked = world.sign_in(alice)
    token = revoked.rpartition("=")[2]
    run(world.sessions.revoke(token, reason="logout", now=world.clock.now()))
    result = world.check(request(cookie=revoked))
    assert (result.status, result.reason) == (302, "session_revoked")
    world.clock.advance(31 * 60)  # past the 30 min idle timeout
    result = world.check(request(cookie=idle))
    assert (result.status, result.verdict) == (302, Verdict.UNAUTHENTICATED)
    assert result.reason == "session_idle_timeout"
    api = world.check(request(cookie=idle, accept="application/json"))
    assert api.status == 401
    assert api.header("www-authenticate") == 'Bearer realm="zerogate"'  # no bearer was sent


def test_check_disabled_user_is_refused_on_the_next_check(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    cookie = world.sign_in(alice)
    assert world.check(request(cookie=cookie)).status == 200
    run(world.directory.disable_user("alice", now=world.clock.now()))
    result = world.check(request(cookie=cookie))
    assert (result.status, result.reason) == (302, "session_user_disabled")


def test_check_group_change_applies_after_drop_users(world: CheckWorld) -> None:
    dave = world.add_user("dave", "contractors")
    cookie = world.sign_in(dave)
    assert world.check(request(cookie=cookie)).status == 403  # not an employee
    run(world.directory.add_member("employees", "dave", now=world.clock.now()))
    assert world.check(request(cookie=cookie)).status == 403  # principal still cached
    world.checker.entity_changed({"type": "User", "id": "dave", "change": "membership_changed"})
    assert world.check(request(cookie=cookie)).status == 200


def test_check_principal_cache_expires_within_the_decision_ttl(world: CheckWorld) -> None:
    dave = world.add_user("dave", "contractors")
    cookie = world.sign_in(dave)
    assert world.check(request(cookie=cookie)).status == 403
    run(world.directory.add_member("employees", "dave", now=world.clock.now()))
    world.clock.advance(5.0)
    assert world.check(request(cookie=cookie)).status == 200


def test_check_decisions_are_cached_and_activation_invalidates(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    cookie = world.sign_in(alice)
    cache = world.pdp.cache
    assert cache is not None
    first = world.check(request(cookie=cookie))
    second = world.check(request(cookie=cookie))
    assert first.status == second.status == 200
    assert (cache.stats().misses, cache.stats().hits) == (1, 1)
    assert first.decision_id != second.decision_id
    assert [r.cached for r in world.records] == [False, True]
    world.pdp.activate(world.pdp.bundle)  # a policy activation drops every cached decision
    world.check(request(cookie=cookie))
    assert (cache.stats().misses, cache.stats().hits) == (2, 1)
    world.pdp.invalidate_entities(
        [EntityUID("User", "alice")]
    )  # an entity.changed event does the same
    world.check(request(cookie=cookie))
    assert (cache.stats().misses, cache.stats().hits) == (3, 1)


def test_check_session_cache_spares_the_store_and_drop_revokes_at_once(
    sqlite_store: Store,
) -> None:
    world = make_world(sqlite_store, session_cache=True)
    alice = world.add_user("alice", "engineering")
    cookie = world.sign_in(alice)
    assert world.check(request(cookie=cookie)).status == 200
    token = cookie.rpartition("=")[2]
    revoked = run(world.sessions.revoke(token, reason="admin", now=world.clock.now()))
    # Within the cache's second the cached session still answers, unless the event arrives.
    assert world.check(request(cookie=cookie)).status == 200
    world.checker.entity_changed(
        {"type": "User", "id": "alice", "session_ids": list(revoked.session_ids)}
    )
    assert world.check(request(cookie=cookie)).status == 302


def test_check_session_cache_entries_last_at_most_one_second(sqlite_store: Store) -> None:
    world = make_world(sqlite_store, session_cache=True)
    alice = world.add_user("alice", "engineering")
    cookie = world.sign_in(alice)
    assert world.check(request(cookie=cookie)).status == 200
    run(world.sessions.revoke(cookie.rpartition("=")[2], reason="x", now=world.clock.now()))
    world.clock.advance(1.0)
    assert world.check(request(cookie=cookie)).status == 302


def test_check_mfa_session_context_reaches_policy(world: CheckWorld) -> None:
    erin = world.add_user("erin", "engineering")
    no_mfa = world.check(request(method="POST", cookie=world.sign_in(erin)))
    assert (
        no_mfa.status == 401
    )  # wiki-write needs MFA: an API-style step-up, see test_check_step_up
    with_mfa = world.sign_in(erin, amr=("pwd", "otp"), mfa_ago_s=10)
    assert world.check(request(method="POST", cookie=with_mfa)).status == 200


def test_check_time_of_day_comes_from_the_pdp_clock(world: CheckWorld) -> None:
    dave = world.add_user("dave", "contractors", "employees")
    cookie = world.sign_in(dave)
    assert world.check(request(cookie=cookie)).status == 200  # Monday 10:00
    world.clock.advance(timedelta(hours=10).total_seconds())  # Monday 20:00: after hours
    cookie = world.sign_in(dave)
    result = world.check(request(cookie=cookie))
    assert (result.status, result.reason) == (403, "forbidden")
    assert b"Contractors have access Monday to Friday, 08:00-18:00." in result.body
