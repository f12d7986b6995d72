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


USERS = [EntityUID("User", u) for u in ("a", "b", "c")]
op = st.one_of(
    st.tuples(st.just("put"), st.integers(0, 5), st.sets(st.sampled_from(USERS), max_size=2)),
    st.tuples(st.just("get"), st.integers(0, 5)),
    st.tuples(st.just("invalidate"), st.sampled_from(USERS)),
    st.tuples(st.just("invalidate_all")),
    st.tuples(st.just("advance"), st.floats(0.0, 6.0)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(op, max_size=40), st.integers(2, 6))
def test_cache_behaves_like_a_model_of_ttls_and_invalidations(ops: list[tuple], size: int) -> None:  # type: ignore[type-arg]
    """Never serves an expired or invalidated decision; keeps the rest (up to its bound)."""
    clock = FixedClock()
    cache = DecisionCache(clock=clock, ttl_s=10.0, jitter=0.0, max_entries=size)
    decision = PDP(example_bundle(), clock=clock).decide(request(PAT, "GET", "payroll-api"))
    model: dict[bytes, tuple[float, set[EntityUID]]] = {}  # insertion-ordered like the cache
    for step in ops:
        if step[0] == "put":
            key = str(step[1]).encode()
            if key not in model and len(model) >= size:
                del model[next(iter(model))]
            model.pop(key, None)
            model[key] = (clock.monotonic() + 10.0, set(step[2]))
            cache.put(key, decision, tuple(step[2]))
        elif step[0] == "get":
            key = str(step[1]).encode()
            entry = model.get(key)
            live = entry is not None and entry[0] > clock.monotonic()
            if entry is not None and not live:
                del model[key]
            assert (cache.get(key) is not None) == live
        elif step[0] == "invalidate":
            model = {k: v for k, v in model.items() if step[1] not in v[1]}
            cache.invalidate_entities([step[1]])
        elif step[0] == "invalidate_all":
            model.clear()
            cache.invalidate_all()
        else:
            clock.advance(step[1])
    assert cache.stats().entries <= size


def test_cache_refresh_forgets_old_dependencies() -> None:
    """Found by the model test: a re-put kept its old entity links (wrong drops, index leak)."""
    clock = FixedClock()
    cache = DecisionCache(clock=clock)
    decision = PDP(example_bundle(), clock=clock).decide(request(PAT, "GET", "payroll-api"))
    bob = EntityUID("User", "bob")
    cache.put(b"k", decision, (bob,))
    cache.put(b"k", decision, ())
    assert cache.invalidate_entities([bob]) == 0
    assert cache.get(b"k") is not None


def test_cache_reuses_decisions_across_ages_within_one_ttl() -> None:
    """`auth_age_s` ticks every second; keyed raw, the cache would never hit in real traffic."""
    clock = FixedClock()
    p = _pdp(clock, ttl=15.0)
    p.decide(request(PAT, "GET", "payroll-api", context(authn={"auth_age_s": 100})))
    assert p.decide(request(PAT, "GET", "payroll-api", context(authn={"auth_age_s": 104}))).cached
    # Another bucket (and posture ages count too): decided afresh.
    assert not p.decide(
        request(PAT, "GET", "payroll-api", context(authn={"auth_age_s": 131}))
    ).cached
    assert not p.decide(
        request(
            PAT,
            "GET",
            "payroll-api",
            context(authn={"auth_age_s": 131}, device={"posture_age_s": 900}),
        )
    ).cached


def test_cache_age_buckets_never_stretch_a_threshold_past_one_ttl() -> None:
    """An allow at age 899 (< 900) may be served at most until the bucket ends: < 1 TTL later."""
    clock = FixedClock()
    p = _pdp(clock, ttl=7.0)  # 7 does not divide 900: the bucket [896, 903) straddles it
    assert p.decide(request(PAT, "GET", "payroll-api", context(authn={"auth_age_s": 899}))).allowed
    stale = []
    for age in range(900, 960):
        d = p.decide(request(PAT, "GET", "payroll-api", context(authn={"auth_age_s": age})))
        if d.allowed:
            assert d.cached
            stale.append(age)
    assert stale == [900, 901, 902]  # within one TTL of the last fresh decision, never beyond
