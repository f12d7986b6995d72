"""Policy administration on real SQLite and PostgreSQL: validated storage, activation, sync."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from events_support import make_bus, run

from tests.policy._org import EXAMPLES, context, request, user
from zerogate.clock import FixedClock, SystemClock
from zerogate.control import PolicyAdmin, PolicySync
from zerogate.control.policies import TOPIC_ENTITY_CHANGED
from zerogate.control.policies._db import insert_bundle
from zerogate.errors import NotFound, PolicyError, ZerogateError
from zerogate.policy import Bundle, DecisionCache
from zerogate.store import Store, open_store

LOCKDOWN = Bundle({"lockdown.cedar": '@id("lockdown") forbid (principal, action, resource);'})
PAT = user("pat", "payroll-admin")


def test_policy_admin_refuses_invalid_bundles_and_stores_nothing(store: Store) -> None:
    async def scenario() -> None:
        bus = make_bus(store)
        admin = PolicyAdmin(store, bus, clock=FixedClock())
        bad = Bundle({"p.cedar": "permit (principal, action, resource) whenn { true };"})
        with pytest.raises(PolicyError):
            await admin.publish(bad)
        assert await admin.history() == []
        assert await admin.active() is None
        with pytest.raises(NotFound):
            await admin.load(bad.hash)
        await bus.aclose()

    run(scenario())


def test_policy_admin_publish_stores_and_activates(store: Store) -> None:
    async def scenario() -> None:
        bus = make_bus(store)
        admin = PolicyAdmin(store, bus, clock=FixedClock())
        examples = Bundle.from_dir(EXAMPLES)
        first = await admin.publish(examples, actor="alice")
        again = await admin.publish(examples, actor="alice")  # idempotent storage
        second = await admin.publish(LOCKDOWN, actor="bob")
        history = await admin.history()
        assert [a.bundle_hash for a in history] == [LOCKDOWN.hash, examples.hash, examples.hash]
        assert [a.id for a in history] == [second.id, again.id, first.id]
        assert history[0].activated_by == "bob"
        active = await admin.active()
        assert active is not None
        assert active.hash == LOCKDOWN.hash
        with pytest.raises(NotFound) as info:
            await admin.activate("0" * 64)  # type: ignore[arg-type]
        assert info.value.code == "bundle_not_found"
        assert await bus.last_seq() == 3  # one event per activation, none for the failed one
        await bus.aclose()

    run(scenario())


async def _until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - polls a plain predicate, no event to await
            await asyncio.sleep(0.01)


def test_policy_sync_follows_activations_and_entity_changes_across_nodes(store_url: str) -> None:
    """Node A publishes; node B's PDP (with a warm cache) switches and drops stale decisions."""

    async def scenario() -> None:
        store_a, store_b = open_store(store_url), open_store(store_url)
        bus_a, bus_b = make_bus(store_a), make_bus(store_b)
        clock = SystemClock()
        admin_a = PolicyAdmin(store_a, bus_a, clock=clock)
        admin_b = PolicyAdmin(store_b, bus_b, clock=clock)
        await admin_a.publish(Bundle.from_dir(EXAMPLES))
        cache = DecisionCache(clock=clock, ttl_s=3600)
        sync_b = PolicySync(admin_b, bus_b, clock=clock, cache=cache)
        pdp_b = await sync_b.start()
        req = request(PAT, "GET", "payroll-api", context())
        assert pdp_b.decide(req).allowed
        assert pdp_b.decide(req).cached

        await bus_a.publish(TOPIC_ENTITY_CHANGED, {"type": "User", "id": "pat"}, key="User::pat")
        await _until(lambda: not pdp_b.decide(req).cached)

        await admin_a.publish(LOCKDOWN)
        await _until(lambda: pdp_b.bundle_hash == LOCKDOWN.hash)
        decision = pdp_b.decide(req)
        assert not decision.allowed
        assert not decision.cached
        assert decision.policy_ids == ("lockdown",)
        assert sync_b.errors == 0

        await sync_b.aclose()
        for bus in (bus_a, bus_b):
            await bus.aclose()
        store_a.close()
        store_b.close()

    run(scenario())


def test_policy_sync_keeps_serving_when_a_stored_bundle_no_longer_compiles(store: Store) -> None:
    async def scenario() -> None:
        bus = make_bus(store)
        clock = FixedClock()
        admin = PolicyAdmin(store, bus, clock=clock)
        sync = PolicySync(admin, bus, clock=clock)
        pdp = await sync.start(fallback=Bundle.from_dir(EXAMPLES))
        good = pdp.bundle_hash
        # A row written behind the administrator's back (say, by an older release).
        broken = Bundle({"p.cedar": "this is not cedar;"})
        with store.begin() as conn:
            insert_bundle(
                conn,
                bundle_hash=broken.hash,
                files=dict(broken.files),
                manifest={},
                now=clock.now(),
                actor=None,
            )
        await admin.activate(broken.hash)
        await _until(lambda: sync.errors == 1)
        assert pdp.bundle_hash == good
        assert pdp.decide(request(PAT, "GET", "payroll-api", context())).allowed
        await sync.aclose()
        await bus.aclose()

    run(scenario())


def test_policy_sync_start_requires_an_active_bundle_or_fallback(store: Store) -> None:
    async def scenario() -> None:
        bus = make_bus(store)
        admin = PolicyAdmin(store, bus, clock=FixedClock())
        with pytest.raises(ZerogateError) as info:
            await PolicySync(admin, bus, clock=FixedClock()).start()
        assert info.value.code == "bundle_not_active"
        sync = PolicySync(admin, bus, clock=FixedClock())
        pdp = await sync.start(fallback=LOCKDOWN)
        assert pdp.bundle_hash == LOCKDOWN.hash
        active = await admin.active()
        assert active is not None
        assert active.hash == LOCKDOWN.hash
        await sync.aclose()
        await bus.aclose()

    run(scenario())
