"""Decision cache: hits, TTL with jitter, and invalidation by activation and entity events."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.policy._org import context, example_bundle, request, user
from zerogate.clock import FixedClock
from zerogate.policy import PDP, Bundle, DecisionCache, EntityUID, compile_bundle

PAT = user("pat", "payroll-admin")


def _pdp(clock: FixedClock, ttl: float = 15.0, jitter: float = 0.1) -> PDP:
    cache = DecisionCache(clock=clock, ttl_s=ttl, jitter=jitter)
    return PDP(example_bundle(), clock=clock, cache=cache)


def test_cache_hit_returns_same_answer_with_new_decision_id() -> None:
    clock = FixedClock()
    p = _pdp(clock)
    first = p.decide(request(PAT, "GET", "payroll-api"))
    second = p.decide(request(PAT, "GET", "payroll-api"))
    assert not first.cached
    assert second.cached
    assert second.allowed == first.allowed
    assert second.policy_ids == first.policy_ids
    assert second.decision_id != first.decision_id
    assert p.cache is not None
    stats = p.cache.stats()
    assert (stats.hits, stats.misses) == (1, 1)
    assert stats.hit_rate == 0.5


def test_cache_key_is_normalized_across_dict_order() -> None:
    clock = FixedClock()
    p = _pdp(clock)
    ctx = context()
    reordered = dict(reversed(list(ctx.items())))
    p.decide(request(PAT, "GET", "payroll-api", ctx))
    assert p.decide(request(PAT, "GET", "payroll-api", reordered)).cached


def test_cache_entries_expire_within_jittered_ttl() -> None:
    clock = FixedClock()
    p = _pdp(clock, ttl=10.0, jitter=0.2)
    p.decide(request(PAT, "GET", "payroll-api"))
    clock.advance(7.9)  # below the shortest jittered TTL (8 s)
    assert p.decide(request(PAT, "GET", "payroll-api")).cached
    clock.advance(12.1 - 7.9 + 0.01)  # past the longest first TTL (12 s)
    assert not p.decide(request(PAT, "GET", "payroll-api")).cached


@settings(max_examples=50, deadline=None)
@given(st.floats(0.0, 0.99), st.floats(0.0, 0.999))
def test_cache_ttl_stays_within_jitter_bounds(jitter: float, draw: float) -> None:
    clock = FixedClock()
    cache = DecisionCache(clock=clock, ttl_s=10.0, jitter=jitter, rng=lambda: draw)
    decision = PDP(example_bundle(), clock=clock).decide(request(PAT, "GET", "payroll-api"))
    cache.put(b"k", decision, ())
    ttl = 10.0 * (1 + jitter * (2 * draw - 1))
    clock.advance(max(ttl - 1e-6, 0.0))
    assert ttl <= 0 or cache.get(b"k") is not None
    clock.advance(2e-6)
    assert cache.get(b"k") is None


def test_cache_is_dropped_on_activation_and_new_policy_applies() -> None:
    clock = FixedClock()
    p = _pdp(clock)
    assert p.decide(request(PAT, "GET", "payroll-api")).allowed
    lockdown = compile_bundle(
        Bundle({"p.cedar": '@id("lockdown") forbid (principal, action, resource);'})
    )
    p.activate(lockdown)
    after = p.decide(request(PAT, "GET", "payroll-api"))
    assert not after.allowed
    assert not after.cached
    assert after.bundle_hash == lockdown.hash


def test_cache_entity_change_drops_only_decisions_involving_it() -> None:
    clock = FixedClock()
    p = _pdp(clock)
    eve = user("eve", "engineering")
    p.decide(request(PAT, "GET", "payroll-api"))
    p.decide(request(eve, "GET", "wiki-web"))
    assert p.invalidate_entities([EntityUID("User", "pat")]) == 1
    assert not p.decide(request(PAT, "GET", "payroll-api")).cached
    assert p.decide(request(eve, "GET", "wiki-web")).cached


def test_cache_is_bounded() -> None:
    clock = FixedClock()
    cache = DecisionCache(clock=clock, max_entries=3)
    decision = PDP(example_bundle(), clock=clock).decide(request(PAT, "GET", "payroll-api"))
    for i in range(10):
        cache.put(str(i).encode(), decision, (EntityUID("User", str(i)),))
    assert cache.stats().entries == 3
    assert cache.get(b"9") is not None
    assert cache.get(b"0") is None
    assert cache.invalidate_entities([EntityUID("User", "0")]) == 0
