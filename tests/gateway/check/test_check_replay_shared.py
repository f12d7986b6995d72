"""The webhook replay cache shared through the store: two check replicas (each its own `Checker`,
in-memory front and store connection) on one SQLite file or one PostgreSQL database refuse a
message the other accepted; expired records are cleaned up and may be claimed again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from sqlalchemy import func, select

from tests.gateway.check._support import CheckWorld, make_world
from tests.gateway.check.test_check_webhooks import PATH, ROUTE, SECRET, SIG, TOLERANCE, TS, Hooks
from tests.identity._support import run
from zerogate.app._gateway_service import _webhooks
from zerogate.clock import FixedClock
from zerogate.config import RouteSettings as ConfiguredRoute
from zerogate.config import Secret, Settings
from zerogate.errors import StoreError
from zerogate.gateway.check import (
    CheckRecord,
    ReplayCache,
    StoreReplayCache,
    Verdict,
    WebhookRejected,
    WebhookVerifier,
)
from zerogate.store import Store, open_store, webhook_replays


@dataclass
class Replica:
    store: Store
    shared: StoreReplayCache
    hooks: Hooks
    audit_down: bool = False


def _replica(store_url: str, world: CheckWorld) -> Replica:
    store = open_store(store_url)
    shared = StoreReplayCache(store, clock=world.clock)
    front = ReplayCache(clock=world.clock)
    verifier = WebhookVerifier(
        (SECRET,),
        tolerance_s=TOLERANCE,
        signature_header=SIG,
        timestamp_header=TS,
        clock=world.clock,
        replay_cache=front,
        shared=shared.route(ROUTE),
    )
    records: list[CheckRecord] = []
    replica: list[Replica] = []

    def audit(record: CheckRecord) -> None:
        if replica[0].audit_down:
            raise OSError("disk full")
        records.append(record)

    checker = world.checker_with(
        webhooks={ROUTE: verifier},
        on_decision=audit,
    )
    hooks = Hooks(replace(world, checker=checker, records=records), checker, front)
    replica.append(Replica(store, shared, hooks))
    return replica[0]


@pytest.fixture
def replicas(store_url: str) -> Iterator[tuple[Replica, Replica]]:
    """Two replicas on one database (SQLite file, PostgreSQL), each with its own connection."""
    base = open_store(store_url)
    world = make_world(base, clock=FixedClock())
    a, b = _replica(store_url, world), _replica(store_url, world)
    try:
        yield a, b
    finally:
        for opened in (a.store, b.store, base):
            opened.close()


def _rows(store: Store) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(webhook_replays)).scalar_one())


def test_webhook_replay_to_another_replica_is_refused(
    replicas: tuple[Replica, Replica], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = replicas
    req = a.hooks.signed()
    assert a.hooks.check(req).reason == "webhook_verified"
    caplog.set_level(logging.WARNING, logger="zerogate.gateway.check")
    replayed = b.hooks.check(req)  # B never saw it: only the store knows
    assert (replayed.status, replayed.verdict) == (401, Verdict.UNAUTHENTICATED)
    assert replayed.reason == "webhook_replayed"
    assert b.hooks.world.records[-1].reason == "webhook_replayed"  # audited like a local replay
    [line] = [r for r in caplog.records if r.getMessage() == "check.webhook_rejected"]
    assert getattr(line, "reason", None) == "webhook_replayed"
    assert a.hooks.check(req).reason == "webhook_replayed"  # and at A, from its front cache
    assert _rows(a.store) == 1
    other = b.hooks.signed(body=b'{"id":"evt_2"}')  # a different message goes through at B
    assert b.hooks.check(other).reason == "webhook_verified"
    assert a.hooks.check(other).reason == "webhook_replayed"


def test_webhook_replay_race_lets_exactly_one_replica_win(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    req = a.hooks.signed(path=PATH + "/race")

    async def both() -> list[str]:
        answers = await asyncio.gather(a.hooks.checker.check(req), b.hooks.checker.check(req))
        return sorted(r.reason for r in answers)

    assert run(both()) == ["webhook_replayed", "webhook_verified"]


def test_webhook_expired_replay_records_are_cleaned_and_reclaimable(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    first = a.hooks.signed()
    assert a.hooks.check(first).allowed
    assert run(a.shared.purge_expired()) == 0  # still live
    a.hooks.world.clock.advance(2 * TOLERANCE + 1)
    # The old message is now outside the window anyway; a record past its expiry is claimable.
    assert run(b.shared.claim(ROUTE, b"\x01" * 32, keep_s=10))
    assert run(b.shared.purge_expired()) == 1
    assert _rows(a.store) == 1  # only the fresh claim is left
    assert not run(a.shared.claim(ROUTE, b"\x01" * 32, keep_s=10))  # live: a replay
    a.hooks.world.clock.advance(11)
    assert run(a.shared.claim(ROUTE, b"\x01" * 32, keep_s=10))  # expired, not yet cleaned: ok


def test_webhook_replay_claims_are_per_route(replicas: tuple[Replica, Replica]) -> None:
    a, _ = replicas
    digest = b"\x02" * 32
    assert run(a.shared.claim("route-a", digest, keep_s=60))
    assert run(a.shared.claim("route-b", digest, keep_s=60))
    assert not run(a.shared.claim("route-a", digest, keep_s=60))


def test_webhook_audit_failure_releases_the_shared_claim(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    a.audit_down = True
    req = a.hooks.signed(path=PATH + "/retry")

    async def refused_then_retried() -> tuple[str, str]:
        refused = await a.hooks.checker.check(req)
        for _ in range(500):  # the release is a background task: give it a moment (bounded)
            if not _rows(a.store):
                break
            await asyncio.sleep(0.01)
        retried = await b.hooks.checker.check(req)
        return refused.reason, retried.reason

    assert run(refused_then_retried()) == ("audit_unavailable", "webhook_verified")


def test_webhook_store_down_refuses_with_503_and_keeps_the_retry_possible(
    replicas: tuple[Replica, Replica], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = replicas
    req = a.hooks.signed(path=PATH + "/down")

    def down(*args: object) -> bool:
        raise StoreError("connection refused")

    monkeypatch.setattr(a.shared, "_claim", down)
    result = a.hooks.check(req)
    assert (result.status, result.verdict, result.reason) == (
        503,
        Verdict.ERROR,
        "webhook_replay_check_unavailable",
    )
    monkeypatch.undo()
    assert a.hooks.check(req).reason == "webhook_verified"  # the front forgot it: not a replay


def test_webhook_routes_of_zerogate_up_share_the_store_cache(store_url: str) -> None:
    """The composition root gives every webhook route the store's cache (`_webhooks`)."""
    clock = FixedClock()
    route = ConfiguredRoute(
        from_="hooks.localhost/hooks", to="http://127.0.0.1:3002", webhook_secret=Secret(SECRET)
    )
    settings = Settings(routes={"payments": route})
    stores = [open_store(store_url), open_store(store_url)]
    try:
        replicas = [
            _webhooks(settings, clock, store_replays=StoreReplayCache(s, clock=clock))["payments"]
            for s in stores
        ]
        world = make_world(stores[0], clock=clock)
        req = Hooks(world, world.checker, ReplayCache(clock=clock)).signed()
        req = replace(req, route="payments")
        run(replicas[0].check(req))
        with pytest.raises(WebhookRejected) as caught:
            run(replicas[1].check(req))
        assert caught.value.reason == "webhook_replayed"
    finally:
        for opened in stores:
            opened.close()
