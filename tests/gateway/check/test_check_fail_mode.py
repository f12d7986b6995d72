"""Fail modes: `closed` denies when the PDP or the store fails; `stale` reuses an earlier allow of
the same credential, route and action for at most `stale_max_s`, and never after a revocation,
for a deny, or for a principal it never allowed (PEP-01; docs/check.md "Fail modes")."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.gateway.check._support import CheckWorld, bearer, make_world, request
from tests.policy._org import example_bundle
from zerogate._types import BundleHash, DecisionID
from zerogate.app._gateway_service import check_routes
from zerogate.clock import FixedClock
from zerogate.config import RouteSettings as ConfiguredRoute
from zerogate.config import Settings
from zerogate.errors import ConfigError, StoreError
from zerogate.gateway.check import CheckResult, RouteSettings, Verdict
from zerogate.gateway.check._authn import Identity
from zerogate.gateway.check._caches import Principal
from zerogate.gateway.check._stale import STALE_HEADER, StaleDecisions
from zerogate.identity import ActiveSession, Sessions, User
from zerogate.policy import PDP, Decision, DecisionCache, Outcome, Request
from zerogate.store import Store

ROUTE = "wiki-web"
BOUND_S = 60.0


class FlakyPDP(PDP):
    """The real PDP that can be told to fail, or to report a newly activated bundle."""

    down = False
    activated: BundleHash | None = None

    def decide(self, request: Request, *, explain: bool = True) -> Decision:
        if self.down:
            raise RuntimeError("engine crashed")
        return super().decide(request, explain=explain)

    @property
    def bundle_hash(self) -> BundleHash:
        return self.activated or super().bundle_hash


class FlakySessions(Sessions):
    """The real sessions on the real store, until the store is declared down."""

    down = False

    async def resolve_id(self, id_hash: str, *, now: datetime) -> ActiveSession:
        if self.down:
            raise StoreError("connection refused")
        return await super().resolve_id(id_hash, now=now)


def _world(store: Store, **routes: RouteSettings) -> tuple[CheckWorld, FlakyPDP, FlakySessions]:
    clock = FixedClock()
    pdp = FlakyPDP(
        example_bundle(), clock=clock, cache=DecisionCache(clock=clock, ttl_s=15.0, jitter=0.0)
    )
    sessions = FlakySessions(store)
    world = make_world(store, clock=clock, pdp=pdp, sessions=sessions, routes=routes)
    return world, pdp, sessions


def _stale_world(
    store: Store, **extra: RouteSettings
) -> tuple[CheckWorld, FlakyPDP, FlakySessions]:
    return _world(store, **{ROUTE: RouteSettings(stale_max_s=BOUND_S)}, **extra)


def _failed_closed(result: CheckResult, reason: str = "decision_unavailable") -> None:
    assert (result.status, result.verdict, result.reason) == (503, Verdict.ERROR, reason)
    assert result.header("x-zerogate-user") is None
    assert result.header(STALE_HEADER) is None


def _signed_in(world: CheckWorld, name: str = "alice", *groups: str) -> tuple[User, str]:
    user = world.add_user(name, *(groups or ("engineering",)))
    return user, world.sign_in(user)


def test_check_closed_route_fails_closed_when_the_pdp_or_store_fails(sqlite_store: Store) -> None:
    world, pdp, sessions = _world(sqlite_store)  # no settings: fail_mode closed
    _, cookie = _signed_in(world)
    assert world.check(request(cookie=cookie)).status == 200
    pdp.down = True
    _failed_closed(world.check(request(cookie=cookie)))
    pdp.down, sessions.down = False, True
    _failed_closed(world.check(request(cookie=cookie)), "authentication_unavailable")
    assert not any(r.stale for r in world.records)


def test_check_stale_route_reuses_the_last_allow_within_the_bound(sqlite_store: Store) -> None:
    world, pdp, _ = _stale_world(sqlite_store)
    _, cookie = _signed_in(world)
    fresh = world.check(request(cookie=cookie))
    assert fresh.status == 200
    assert fresh.header(STALE_HEADER) is None
    original = world.records[-1]
    pdp.down = True
    world.clock.advance(BOUND_S - 1)
    stale = world.check(request(cookie=cookie))
    assert (stale.status, stale.verdict, stale.reason) == (200, Verdict.ALLOW, "allowed_stale")
    assert stale.header(STALE_HEADER) == "1"
    assert stale.header("x-zerogate-user") == "alice"
    assert stale.decision_id != fresh.decision_id
    record = world.records[-1]
    assert (record.stale, record.error, record.principal) == (True, "RuntimeError", 'User::"alice"')
    assert (record.policy_ids, record.bundle_hash) == (original.policy_ids, original.bundle_hash)
    assert record.session_id == original.session_id
    world.clock.advance(2)  # now older than the bound
    _failed_closed(world.check(request(cookie=cookie)))


def test_check_stale_route_covers_a_store_outage_too(sqlite_store: Store) -> None:
    world, _, sessions = _stale_world(sqlite_store)
    alice, cookie = _signed_in(world)
    token = world.access_token(alice)
    assert world.check(request(cookie=cookie)).status == 200
    assert world.check(request(authorization=bearer(token))).status == 200
    sessions.down = True
    assert world.check(request(cookie=cookie)).reason == "allowed_stale"
    world.directory.get_user_by_id = _store_down  # type: ignore[method-assign]
    assert world.check(request(authorization=bearer(token))).reason == "allowed_stale"
    # A bearer token never allowed before (another one of the same user) gets nothing.
    other = world.access_token(alice, gid="g-2")
    _failed_closed(world.check(request(authorization=bearer(other))), "authentication_unavailable")


async def _store_down(*args: object, **kwargs: object) -> User:
    raise StoreError("connection refused")


@pytest.mark.parametrize(
    "event",
    [
        "session",  # sign-out or session revoke: `entity.changed` with the session ids
        "user",  # a user disabled, deleted or changed
        "group",  # a group changed: who was in it is not said, so everyone goes
    ],
)
def test_check_stale_allow_never_outlives_a_revocation_event(
    sqlite_store: Store, event: str
) -> None:
    world, pdp, _ = _stale_world(sqlite_store)
    _, cookie = _signed_in(world)
    assert world.check(request(cookie=cookie)).status == 200
    session_id = world.records[-1].session_id
    payloads = {
        "session": {"type": "User", "id": "someone-else", "session_ids": [session_id]},
        "user": {"type": "User", "id": "alice"},
        "group": {"type": "Group", "id": "engineering"},
    }
    world.checker.entity_changed(payloads[event])
    pdp.down = True
    _failed_closed(world.check(request(cookie=cookie)))


def test_check_stale_revocation_purges_even_while_the_pdp_is_down(sqlite_store: Store) -> None:
    world, pdp, _ = _stale_world(sqlite_store)
    _, cookie = _signed_in(world)
    assert world.check(request(cookie=cookie)).status == 200
    session_id = world.records[-1].session_id
    pdp.down = True
    assert world.check(request(cookie=cookie)).reason == "allowed_stale"
    world.checker.drop_sessions([session_id or ""])
    _failed_closed(world.check(request(cookie=cookie)))
    pdp.down = False  # back up: the store says the session is fine, so it is allowed afresh
    assert world.check(request(cookie=cookie)).status == 200


def test_check_stale_never_for_a_principal_without_an_earlier_allow(sqlite_store: Store) -> None:
    world, pdp, _ = _stale_world(sqlite_store)
    _, alice = _signed_in(world)
    _, bob = _signed_in(world, "bob", "engineering")
    assert world.check(request(cookie=alice)).status == 200
    pdp.down = True
    _failed_closed(world.check(request(cookie=bob)))
    assert world.check(request(cookie=None)).status == 302  # no credentials: sign in, as always


def test_check_stale_never_reuses_a_deny(sqlite_store: Store) -> None:
    world, pdp, _ = _stale_world(sqlite_store)
    _, cookie = _signed_in(world, "mallory", "contractors")  # not an employee: no permit
    denied = world.check(request(cookie=cookie))
    assert (denied.status, denied.verdict) == (403, Verdict.DENY)
    pdp.down = True
    _failed_closed(world.check(request(cookie=cookie)))


def test_check_stale_is_per_action_address_and_route(sqlite_store: Store) -> None:
    world, pdp, _ = _stale_world(sqlite_store, other=RouteSettings(stale_max_s=BOUND_S))
    _, cookie = _signed_in(world)
    assert world.check(request(cookie=cookie)).status == 200
    pdp.down = True
    _failed_closed(world.check(request(cookie=cookie, method="HEAD")))
    _failed_closed(world.check(request(cookie=cookie, client_ip="192.0.2.9")))
    _failed_closed(world.check(request("other", cookie=cookie)))
    assert world.check(request(cookie=cookie)).reason == "allowed_stale"


def test_check_stale_not_across_a_policy_activation(sqlite_store: Store) -> None:
    world, pdp, _ = _stale_world(sqlite_store)
    _, cookie = _signed_in(world)
    assert world.check(request(cookie=cookie)).status == 200
    pdp.down, pdp.activated = True, BundleHash("sha256:" + "0" * 64)
    _failed_closed(world.check(request(cookie=cookie)))


def test_check_stale_respects_the_route_mfa_age(sqlite_store: Store) -> None:
    route = RouteSettings(stale_max_s=BOUND_S, mfa_max_age_s=100)
    world, pdp, _ = _world(sqlite_store, **{ROUTE: route})
    alice = world.add_user("alice", "engineering")
    cookie = world.sign_in(alice, amr=("pwd", "otp"), mfa_ago_s=80)
    assert world.check(request(cookie=cookie)).status == 200
    pdp.down = True
    world.clock.advance(10)
    assert world.check(request(cookie=cookie)).reason == "allowed_stale"
    world.clock.advance(20)  # the second factor is now 110 s old: the route wants a step-up
    _failed_closed(world.check(request(cookie=cookie)))


def test_check_stale_does_not_keep_a_decision_begun_before_a_revocation() -> None:
    """A check in flight when the revocation arrives (its reads predate it) is not kept."""
    clock = FixedClock()
    stale = StaleDecisions(clock=clock, routes={ROUTE: RouteSettings(stale_max_s=BOUND_S)})
    alice = Principal("u-1", "alice", "alice@example.test", None, ("engineering",))
    who = Identity(alice, "bearer", "s-1", ("pwd",), False, None, 0, "urn:zerogate:acr:pwd")
    allow = Decision(True, Outcome.ALLOWED, DecisionID("d-1"), (), (), BundleHash("sha256:1"))
    req = request(authorization=bearer("token"))
    started = clock.monotonic()
    stale.drop_users(["alice"])
    stale.remember(req, who, allow, started=started)
    assert len(stale) == 0
    clock.advance(1)
    stale.remember(req, who, allow, started=clock.monotonic())  # began after the drop: kept
    assert len(stale) == 1
    stale.drop_sessions(["s-1"])
    assert len(stale) == 0
    stale.remember(req, who, allow, started=clock.monotonic() + 1)  # an ended session: never
    assert len(stale) == 0


def test_check_route_stale_bound_is_validated() -> None:
    for bad in (0.0, -1.0, 300.5):
        with pytest.raises(ConfigError) as caught:
            RouteSettings(stale_max_s=bad)
        assert caught.value.details[0].loc == "stale_max_s"
    assert RouteSettings(stale_max_s=300).stale_max_s == 300


def test_check_routes_from_settings_carry_the_fail_mode() -> None:
    settings = Settings(
        routes={
            "wiki": ConfiguredRoute(from_="wiki.localhost", to="http://127.0.0.1:3000"),
            "docs": ConfiguredRoute(
                from_="docs.localhost", to="http://127.0.0.1:3001", fail_mode="stale"
            ),
        }
    )
    routes = check_routes(settings)
    assert routes["wiki"].stale_max_s is None
    assert routes["docs"].stale_max_s == 60.0  # the default bound
    clash = Settings(
        routes={
            "a": ConfiguredRoute(from_="a.localhost", to="http://127.0.0.1:1", policy="p"),
            "b": ConfiguredRoute(
                from_="b.localhost", to="http://127.0.0.1:2", policy="p", fail_mode="stale"
            ),
        }
    )
    with pytest.raises(ConfigError) as caught:
        check_routes(clash)
    assert caught.value.details[0].loc == "routes.b.policy"


def test_check_configured_stale_bound_is_at_most_300_s() -> None:
    route = ConfiguredRoute(
        from_="a.localhost", to="http://127.0.0.1:1", fail_mode="stale", stale_max_s=301
    )
    assert ("stale_max_s", "with fail_mode = stale: between 0 and 300 seconds") in route.problems()
    fine = ConfiguredRoute(from_="a.localhost", to="http://127.0.0.1:1", fail_mode="stale")
    assert fine.problems() == []
