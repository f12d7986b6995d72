"""Checking schemas once per request shape must never change an answer or let a bad request in.

A fast engine (shape checks cached, no per-call schema pass) and a strict engine (Cedar checks
every request against the schema) get the same random requests, valid and broken; they must
agree on every decision and on every rejection.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.policy._org import context, example_bundle, user
from zerogate._types import DecisionID
from zerogate.errors import InvalidInput
from zerogate.policy import Bundle, Entity, EntityUID, Request, compile_bundle

BUNDLE = example_bundle()
# Module-level, so shapes learnt in one example are reused by later ones, as in production.
FAST = BUNDLE.engine(check_shapes_once=True)
STRICT = BUNDLE.engine(check_shapes_once=False)
# A bundle that never reads `network`: its slices leave that record out of what Cedar is sent,
# yet a malformed IP must still be rejected exactly as the per-call check rejects it.
NARROW = compile_bundle(
    Bundle(
        {
            "p.cedar": '@id("mfa") permit (principal, action, resource) when { context.authn.mfa };\n'
            '@id("risk") forbid (principal, action, resource) when { context.risk.score > 80 };'
        }
    )
)
PAIRS = [(FAST, STRICT), (NARROW.engine(), NARROW.engine(check_shapes_once=False))]
TIME = {"hour": 10, "minute": 0, "weekday": 1, "zone": "UTC"}

ips = st.sampled_from(
    ["198.51.100.7", "203.0.113.9", "2001:db8::1", "10.0.0.0/8", "bogus", "", "1.2.3.4.5"]
)
odd_values = st.one_of(
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
    st.floats(allow_nan=False),
    st.lists(st.integers(0, 3), max_size=2),
    st.just({"x": 1}),
)
paths = st.sampled_from(
    [
        ("authn", "mfa"),
        ("authn", "amr"),
        ("authn", "auth_age_s"),
        ("authn", "idp"),
        ("authn", "acr"),
        ("network", "ip"),
        ("network", "tls"),
        ("risk", "score"),
        ("risk", "signals"),
        ("device", "compliant"),
        ("device", "posture_age_s"),
        ("device", "os"),
        ("time", "hour"),
        ("extra",),
        ("device",),
        ("network",),
    ]
)
mutation = st.one_of(
    st.tuples(st.just("set"), paths, odd_values),
    st.tuples(st.just("drop"), paths),
)


def _apply(ctx: dict[str, Any], change: tuple[Any, ...]) -> None:
    *parents, leaf = change[1]
    node: Any = ctx
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return
    if change[0] == "drop":
        node.pop(leaf, None)
    else:
        node[leaf] = change[2]


def _answer(engine: Any, request: Request) -> tuple[Any, ...]:
    try:
        d = engine.decide(request, decision_id=DecisionID("t"), explain=True)
    except InvalidInput as exc:
        return ("invalid", exc.code)
    explanation = d.explanation.as_dict() if d.explanation else None
    return (
        d.allowed,
        d.outcome,
        sorted(d.policy_ids),
        sorted(e.policy_id for e in d.errors),
        explanation,
    )


def _request(
    ip: str,
    score: int,
    with_device: bool,
    principal_type: str,
    action: str,
    resource: tuple[str, str],
    changes: list[tuple[Any, ...]],
    supply_entity: bool,
) -> Request:
    ctx = copy.deepcopy(
        context(network={"ip": ip}, risk={"score": score}, authn={"mfa": score % 3 > 0})
    )
    ctx["time"] = {**TIME, "hour": score % 24, "weekday": 1 + score % 7}
    if not with_device:
        del ctx["device"]
    for change in changes:
        _apply(ctx, change)
    principal = EntityUID(principal_type, "pat")
    entities: tuple[Entity, ...] = ()
    if supply_entity and principal_type == "User":
        groups = ("payroll-admin", "engineering", "contractors", "employees")
        entities = (user("pat", *groups[: 1 + score % 4]),)
    return Request(principal, EntityUID("Action", action), EntityUID(*resource), ctx, entities)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ip=st.sampled_from(["198.51.100.7", "203.0.113.9", "2001:db8::1", "10.0.0.0/8"]),
    score=st.integers(0, 100),
    with_device=st.booleans(),
    principal_type=st.sampled_from(["User", "Workload"]),
    action=st.sampled_from(["GET", "PUT", "connect", "DELETE"]),
    resource=st.sampled_from([("Route", "payroll-api"), ("Route", "wiki-web"), ("App", "wiki")]),
    supply_entity=st.booleans(),
)
def test_shape_checks_decide_well_formed_requests_like_per_call_checks(
    ip: str,
    score: int,
    with_device: bool,
    principal_type: str,
    action: str,
    resource: tuple[str, str],
    supply_entity: bool,
) -> None:
    request = _request(ip, score, with_device, principal_type, action, resource, [], supply_entity)
    for fast_engine, strict_engine in PAIRS:
        fast = _answer(fast_engine, request)
        assert fast[0] != "invalid", request
        assert fast == _answer(strict_engine, request)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ip=ips,
    score=st.integers(0, 100),
    with_device=st.booleans(),
    principal_type=st.sampled_from(["User", "Workload", "Usr", "Group"]),
    action=st.sampled_from(["GET", "PUT", "connect", "read", "NOPE"]),
    resource=st.sampled_from(
        [("Route", "payroll-api"), ("Route", "wiki-web"), ("App", "wiki"), ("Device", "d")]
    ),
    changes=st.lists(mutation, max_size=2),
    supply_entity=st.booleans(),
)
def test_shape_checks_reject_exactly_what_per_call_checks_reject(
    ip: str,
    score: int,
    with_device: bool,
    principal_type: str,
    action: str,
    resource: tuple[str, str],
    changes: list[tuple[Any, ...]],
    supply_entity: bool,
) -> None:
    request = _request(
        ip, score, with_device, principal_type, action, resource, changes, supply_entity
    )
    assert _answer(FAST, request) == _answer(STRICT, request)


def test_shapes_are_learnt_once_and_reused_across_values() -> None:
    engine = BUNDLE.engine()
    for score in range(20):
        ctx = {**context(risk={"score": score}, authn={"auth_age_s": score * 7}), "time": TIME}
        req = Request(
            user("pat").uid,
            EntityUID("Action", "GET"),
            EntityUID("Route", "wiki-web"),
            ctx,
            (user("pat"),),
        )
        engine.decide(req, decision_id=DecisionID("t"))
    shapes = engine._shapes
    assert shapes is not None
    assert len(shapes._plans) == 1
    (plan,) = shapes._plans.values()
    assert plan is not None
    assert plan.extensions == ((("network", "ip"), "ip"),)


def test_shapes_reject_requests_without_any_string_to_probe() -> None:
    """With no string leaves there is nothing to learn from; the first check must still reject."""
    import pytest

    engine = BUNDLE.engine()
    for ctx in ({}, {"risk": {"score": 1}}):
        req = Request(
            user("pat").uid, EntityUID("Action", "GET"), EntityUID("Route", "wiki-web"), ctx, ()
        )
        with pytest.raises(InvalidInput) as info:
            engine.decide(req, decision_id=DecisionID("t"))
        assert info.value.code == "request_invalid"


def test_shapes_reject_bad_extension_values_even_in_records_no_policy_reads() -> None:
    """The learnt shape must not let a malformed IP through just because no policy reads it."""
    import pytest

    engine = NARROW.engine()
    good = _request("198.51.100.7", 5, True, "User", "GET", ("Route", "wiki-web"), [], True)
    bad = _request("bogus", 5, True, "User", "GET", ("Route", "wiki-web"), [], True)
    assert engine.decide(good, decision_id=DecisionID("t")).allowed
    with pytest.raises(InvalidInput) as info:
        engine.decide(bad, decision_id=DecisionID("t"))
    assert info.value.code == "request_invalid"
