"""Slicing must never change a decision: sliced and whole-set evaluation agree on random inputs."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.policy._org import context
from zerogate.clock import FixedClock
from zerogate.policy import PDP, Bundle, Entity, EntityUID, Request, compile_bundle
from zerogate.policy._slicing import SliceIndex

USERS = [f"u{i}" for i in range(4)]
GROUPS = [f"g{i}" for i in range(4)]
ROUTES = [f"r{i}" for i in range(3)]
APPS = [f"a{i}" for i in range(2)]

principal_scope = st.one_of(
    st.just("principal"),
    st.sampled_from(USERS).map(lambda u: f'principal == User::"{u}"'),
    st.sampled_from(GROUPS).map(lambda g: f'principal in Group::"{g}"'),
    st.just("principal is User"),
    st.sampled_from(GROUPS).map(lambda g: f'principal is User in Group::"{g}"'),
)
resource_scope = st.one_of(
    st.just("resource"),
    st.sampled_from(ROUTES).map(lambda r: f'resource == Route::"{r}"'),
    st.sampled_from(APPS).map(lambda a: f'resource in App::"{a}"'),
    st.just("resource is Route"),
    st.just("resource is App"),
)
action_scope = st.sampled_from(
    ["action", 'action == Action::"GET"', 'action in Action::"read"', 'action in Action::"write"']
)
condition = st.one_of(
    st.just(""),
    st.integers(0, 100).map(lambda n: f" when {{ context.risk.score > {n} }}"),
    st.just(" when { context.authn.mfa }"),
    st.just(' unless { context.authn.amr.contains("hwk") }'),
    # Errors when the principal's entity is not supplied: exercises error parity too.
    st.just(' when { principal is User && principal.email like "*@x.test" }'),
    st.just(' when { principal is User && principal.email like "u1@*" }'),
)
policy = st.tuples(
    st.sampled_from(["permit", "forbid"]), principal_scope, action_scope, resource_scope, condition
)


@st.composite
def world(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    policies = draw(st.lists(policy, min_size=0, max_size=14))
    text = "\n".join(
        f'@id("p{i}")\n{eff} ({p}, {a}, {r}){c};' for i, (eff, p, a, r, c) in enumerate(policies)
    )
    entities: list[dict[str, Any]] = []
    for i, g in enumerate(GROUPS):  # acyclic: a group's parents come later in the list
        parents = draw(st.lists(st.sampled_from(GROUPS[i + 1 :] or [g]), max_size=2, unique=True))
        parents = [p for p in parents if p != g]
        entities.append(_ent("Group", g, {}, [("Group", p) for p in parents]))
    for r in ROUTES:
        apps = draw(st.lists(st.sampled_from(APPS), max_size=2, unique=True))
        entities.append(_ent("Route", r, {}, [("App", a) for a in apps]))
    entities += [_ent("App", a, {}, []) for a in APPS]
    return text, entities


def _ent(t: str, i: str, attrs: dict[str, Any], parents: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "uid": {"type": t, "id": i},
        "attrs": attrs,
        "parents": [{"type": pt, "id": pi} for pt, pi in parents],
    }


req = st.tuples(
    st.sampled_from(USERS),
    st.lists(st.sampled_from(GROUPS), max_size=2, unique=True),
    st.booleans(),  # supply the principal's entity?
    st.sampled_from(["GET", "POST", "DELETE"]),
    st.one_of(
        st.sampled_from(ROUTES).map(lambda r: ("Route", r)),
        st.sampled_from(APPS).map(lambda a: ("App", a)),
    ),
    st.integers(0, 100),
    st.booleans(),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world(), st.lists(req, min_size=1, max_size=6))
def test_slicing_agrees_with_whole_set_evaluation(
    w: tuple[str, list[dict[str, Any]]], requests: list[Any]
) -> None:
    import orjson

    text, entities = w
    if not text:
        text = '@id("none")\nforbid (principal, action, resource) when { false };'
    bundle = compile_bundle(
        Bundle({"p.cedar": text, "entities.json": orjson.dumps(entities).decode()})
    )
    sliced = PDP(bundle, clock=FixedClock(), slicing=True)
    whole = PDP(bundle, clock=FixedClock(), slicing=False)
    for uid, groups, supply, action, (rtype, rid), risk, mfa in requests:
        principal = EntityUID("User", uid)
        ents = (
            (
                Entity(
                    principal,
                    {"email": f"{uid}@x.test"},
                    tuple(EntityUID("Group", g) for g in groups),
                ),
            )
            if supply
            else ()
        )
        r = Request(
            principal,
            EntityUID("Action", action),
            EntityUID(rtype, rid),
            context(risk={"score": risk}, authn={"mfa": mfa}),
            ents,
        )
        a, b = sliced.decide(r, explain=False), whole.decide(r, explain=False)
        assert (a.allowed, a.outcome) == (b.allowed, b.outcome), r
        assert sorted(a.policy_ids) == sorted(b.policy_ids)
        assert sorted(a.errors, key=repr) == sorted(b.errors, key=repr)


def test_slice_index_returns_only_matching_buckets() -> None:
    any_, alice, eng = ("*",), ("uid", "User", "alice"), ("uid", "Group", "eng")
    route = ("uid", "Route", "r")
    index = SliceIndex(
        [
            ("global", any_, any_),
            ("mine", alice, route),
            ("eng", eng, any_),
            ("bob", ("uid", "User", "bob"), any_),
        ]
    )
    assert index.lookup([any_, alice], (any_, route)) == {"global", "mine"}
    assert index.lookup([any_, alice, eng], (any_,)) == {"global", "eng"}
    assert index.size == 4
