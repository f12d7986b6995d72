"""Fail closed (PEP-01): a broken store, PDP or audit hook, odd methods and bad input all deny."""

from __future__ import annotations

import logging
from datetime import datetime

import orjson
import pytest

from tests.gateway.check._support import ISSUER, LOGIN_URL, CheckWorld, bearer, make_world, request
from tests.identity._support import CHEAP
from tests.policy._org import example_bundle
from zerogate.clock import FixedClock
from zerogate.errors import ConfigError, InvalidInput, StoreError
from zerogate.gateway.check import Checker, CheckRecord, CheckResult, Verdict
from zerogate.identity import ActiveSession, Directory, Group, PasswordHasher, Sessions
from zerogate.policy import PDP, Decision, DecisionCache, Request
from zerogate.store import Store


class BrokenSessions(Sessions):
    async def resolve(self, token: str, *, now: datetime) -> ActiveSession:
        raise StoreError("database is locked")

    async def resolve_id(self, id_hash: str, *, now: datetime) -> ActiveSession:
        raise StoreError("database is locked")


class BrokenGroups(Directory):
    async def groups_of(self, user: str) -> list[Group]:
        raise RuntimeError("connection reset")


class BrokenPDP(PDP):
    def decide(self, request: Request, *, explain: bool = True) -> Decision:
        raise RuntimeError("engine crashed")


def _assert_failed_closed(result: CheckResult, reason: str) -> None:
    assert result.status == 503
    assert result.verdict is Verdict.ERROR
    assert result.reason == reason
    assert not result.allowed
    assert result.header("x-zerogate-user") is None
    assert result.decision_id in result.body.decode()


def test_check_store_failure_in_session_resolution_fails_closed(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world(sqlite_store, sessions=BrokenSessions(sqlite_store))
    alice = world.add_user("alice", "engineering")
    world.sessions = Sessions(sqlite_store)  # the test signs in with a working one
    header = world.sign_in(alice)
    with caplog.at_level(logging.ERROR, logger="zerogate.gateway.check"):
        result = world.check(request(cookie=header))
    _assert_failed_closed(result, "authentication_unavailable")
    [record] = world.records
    assert (record.error, record.verdict) == ("StoreError", Verdict.ERROR)
    # The error is logged with the decision id, and never with the cookie or its token.
    [logged] = [r for r in caplog.records if r.name == "zerogate.gateway.check"]
    assert logged.getMessage() == "check.failed_closed"
    assert logged.__dict__["decision_id"] == result.decision_id
    token = header.rpartition("=")[2]
    assert token not in caplog.text


def test_check_store_failure_loading_groups_fails_closed(sqlite_store: Store) -> None:
    directory = BrokenGroups(sqlite_store, hasher=PasswordHasher(CHEAP))
    world = make_world(sqlite_store, directory=directory)
    alice = world.add_user("alice", "engineering")
    _assert_failed_closed(
        world.check(request(cookie=world.sign_in(alice))), "authentication_unavailable"
    )
    token = world.access_token(alice)
    _assert_failed_closed(
        world.check(request(authorization=bearer(token))), "authentication_unavailable"
    )


def test_check_pdp_failure_fails_closed_for_browsers_and_apis(sqlite_store: Store) -> None:
    clock = FixedClock()
    pdp = BrokenPDP(example_bundle(), clock=clock, cache=DecisionCache(clock=clock))
    world = make_world(sqlite_store, clock=clock, pdp=pdp)
    alice = world.add_user("alice", "engineering")
    page = world.check(request(cookie=world.sign_in(alice)))
    _assert_failed_closed(page, "decision_unavailable")
    assert page.header("content-type") == "text/html; charset=utf-8"
    api = world.check(request(cookie=world.sign_in(alice), accept="application/json"))
    assert api.status == 503
    assert orjson.loads(api.body)["error"] == "decision_unavailable"


def test_check_pdp_refusing_the_request_fails_closed(
    world: CheckWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request the PDP finds invalid (say, a bundle whose schema wants more context) is no allow."""
    alice = world.add_user("alice", "engineering")

    def refuse(request: Request, *, explain: bool = True) -> Decision:
        raise InvalidInput("request does not match the policy schema", code="request_invalid")

    monkeypatch.setattr(world.pdp, "decide", refuse)
    _assert_failed_closed(world.check(request(cookie=world.sign_in(alice))), "decision_unavailable")


def test_check_failing_audit_hook_turns_an_allow_into_a_deny(sqlite_store: Store) -> None:
    world = make_world(sqlite_store)
    alice = world.add_user("alice", "engineering")

    def broken_sink(record: CheckRecord) -> None:
        raise OSError("disk full")

    world.checker = Checker(
        world.pdp,
        world.sessions,
        world.directory,
        world.ring,
        issuer=ISSUER,
        clock=world.clock,
        login_url=LOGIN_URL,
        on_decision=broken_sink,
    )
    result = world.check(request(cookie=world.sign_in(alice)))
    _assert_failed_closed(result, "audit_unavailable")
    denied = world.check(request())  # a deny stays the deny it was
    assert denied.status == 302


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "get", "BREW"])
def test_check_unknown_method_is_denied(world: CheckWorld, method: str) -> None:
    alice = world.add_user("alice", "engineering")
    result = world.check(request(method=method, cookie=world.sign_in(alice)))
    assert result.status == 405
    assert (result.verdict, result.reason) == (Verdict.DENY, "method_not_allowed")
    assert result.header("allow") == "GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE, CONNECT"


def test_check_connect_is_the_connect_action(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    result = world.check(request(method="CONNECT", cookie=world.sign_in(alice)))
    assert (result.status, result.reason) == (403, "no_permit")  # no example policy grants it


def test_check_missing_route_is_denied(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    result = world.check(request(None, cookie=world.sign_in(alice)))
    assert (result.status, result.reason) == (403, "route_missing")


def test_check_unknown_route_is_denied(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    result = world.check(request("no-such-route", cookie=world.sign_in(alice)))
    assert (result.status, result.reason) == (403, "no_permit")
    assert b"No policy gives you access here." in result.body


@pytest.mark.parametrize(
    ("changes", "status", "reason"),
    [
        ({"path": "/" + "a" * 9000}, 414, "uri_too_long"),
        ({"query": "q=" + "a" * 9000}, 414, "uri_too_long"),
        ({"cookie": "c=" + "x" * 9000}, 431, "request_header_too_large"),
        ({"authorization": "Bearer " + "x" * 20000}, 431, "request_header_too_large"),
        ({"accept": "text/html," * 1000}, 431, "request_header_too_large"),
        ({"request_id": "r" * 1000}, 431, "request_header_too_large"),
        ({"host": "evil.example/x"}, 400, "request_invalid"),
        ({"host": ""}, 400, "request_invalid"),
        ({"host": "a b"}, 400, "request_invalid"),
        ({"proto": "gopher"}, 400, "request_invalid"),
        ({"path": "no-slash"}, 400, "request_invalid"),
        ({"path": "/a b"}, 400, "request_invalid"),
        ({"path": "/caf\u00e9"}, 400, "request_invalid"),
        ({"query": "a=\r\nSet-Cookie: x"}, 400, "request_invalid"),
        ({"client_ip": None}, 400, "request_invalid"),
        ({"client_ip": "not-an-ip"}, 400, "request_invalid"),
        ({"client_ip": "fe80::1%eth0"}, 400, "request_invalid"),
        ({"route": "a b"}, 400, "request_invalid"),
        ({"route": "r" * 300}, 400, "request_invalid"),
        ({"defect": "repeated header: authorization"}, 400, "request_invalid"),
    ],
)
def test_check_malformed_or_huge_input_is_refused_not_crashed(
    world: CheckWorld, changes: dict[str, object], status: int, reason: str
) -> None:
    alice = world.add_user("alice", "engineering")
    fields = {"cookie": world.sign_in(alice), **changes}
    result = world.check(request(**fields))  # type: ignore[arg-type]
    assert (result.status, result.verdict, result.reason) == (status, Verdict.BAD_REQUEST, reason)
    assert result.decision_id
    assert world.records[-1].principal is None  # refused before anything was looked up
    assert world.pdp.cache is not None
    assert world.pdp.cache.stats().misses == 0


def test_check_ipv6_and_bracketed_hosts_are_fine(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    cookie = world.sign_in(alice)
    for host, ip in (("[2001:db8::1]:8443", "2001:db8::7"), ("wiki.example.test:8443", "10.0.0.1")):
        assert world.check(request(cookie=cookie, host=host, client_ip=ip)).status == 200


def test_check_never_raises_even_on_nonsense(world: CheckWorld) -> None:
    nonsense = request(method="", host="\x00", path="", client_ip="", proto="")
    assert world.check(nonsense).status == 400


def test_check_principal_ttl_must_not_exceed_the_decision_ttl(sqlite_store: Store) -> None:
    with pytest.raises(ConfigError):
        make_world(sqlite_store, principal_ttl_s=60.0)
