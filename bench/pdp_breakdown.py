"""Where the time of one `PDP.decide` goes, and what the proposed changes would save.

Run: `.venv/bin/python bench/pdp_breakdown.py [--size 1000]`. Diagnostic only: NOT run by
`make bench`, no JSON output. It reaches into private PDP internals (`PDP._engine`,
`Engine._slice_ids`, `Explainer._closest`, ...) so that each step can be timed alone and each
proposed variant checked for identical results; expect to adjust it when those internals change.

Tables of Cedar calls are timed interleaved (variant A, B, C on input 1, then on input 2, ...)
so that noise from other processes lands on all variants alike; tables of small Python steps
time each step in its own loop. Numbers are p50/p99 in microseconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from cedarpy import _internal as cedar
from cedarpy import pst

from pdp import FULL, prepare
from zerogate.clock import FixedClock
from zerogate.policy import (
    PDP,
    ConditionCheck,
    Decision,
    DecisionCache,
    Outcome,
    PolicyExplanation,
    Request,
)
from zerogate.policy import _engine as engine_mod
from zerogate.policy import _pdp as pdp_mod
from zerogate.policy._compiled import pst_uid
from zerogate.policy._slicing import ANY, uid_key

Variant = tuple[Callable[[Any], object], Sequence[Any]]


def interleaved(
    title: str, variants: dict[str, Variant], rounds: int, *, blocks: bool = False
) -> dict[str, float]:
    """Time each variant on each of its inputs, `rounds` passes; print p50/p99.

    Interleaved (A, B, C on input 1, then on input 2, ...) so that noise from other processes
    lands on all variants alike; `blocks=True` times each variant in its own loop instead, as
    the bench does (fairer for sub-10 µs steps, which interleaving with big calls inflates).
    """
    for fn, inputs in variants.values():  # warm every cache the variants use
        for x in inputs:
            fn(x)
    samples: dict[str, list[int]] = {k: [] for k in variants}
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        if blocks:
            for label, (fn, inputs) in variants.items():
                out = samples[label]
                for _ in range(rounds):
                    for x in inputs:
                        t0 = clock()
                        fn(x)
                        out.append(clock() - t0)
        else:
            longest = max(len(inputs) for _, inputs in variants.values())
            for _ in range(rounds):
                for i in range(longest):
                    for label, (fn, inputs) in variants.items():
                        x = inputs[i % len(inputs)]
                        t0 = clock()
                        fn(x)
                        samples[label].append(clock() - t0)
    finally:
        gc.enable()
    print(f"\n{title}{' (each timed in its own loop)' if blocks else ' (interleaved)'}")
    p50s = {}
    for label, values in samples.items():
        values.sort()
        p50, p99 = values[len(values) // 2] / 1000, values[int(len(values) * 0.99)] / 1000
        p50s[label] = p50
        print(f"  {label:<62} p50 {p50:8.1f}   p99 {p99:8.1f}")
    return p50s


def verdict(raw: str) -> tuple[str, list[str], int]:
    d = orjson.loads(raw)
    return d["decision"], sorted(d["diagnostics"]["reason"]), len(d["diagnostics"]["errors"])


# ------------------------------------------------------------------------------------------
# Proposed variants, written outside src/ so they can be measured without changing the PDP


def with_ip_extn(context: dict[str, Any]) -> dict[str, Any]:
    """The context with its ipaddr-typed value spelled as a Cedar extension call, which Cedar
    needs when no schema tells it that a string is an ipaddr (only `network.ip` in our schema)."""
    network = context["network"]
    return {**context, "network": {**network, "ip": {"__extn": {"fn": "ip", "arg": network["ip"]}}}}


def context_attrs(node: pst.Template) -> frozenset[str]:
    """Top-level context attributes a policy reads (`context.x`, `context has x`)."""
    found: set[str] = set()

    def walk(x: object) -> None:
        if (
            isinstance(x, pst.GetAttr | pst.HasAttr)
            and isinstance(x.base, pst.Var)
            and x.base.name == "context"
        ):
            found.add(x.attr if isinstance(x, pst.GetAttr) else x.attrs[0])
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            for f in dataclasses.fields(x):
                walk(getattr(x, f.name))
        elif isinstance(x, tuple | list):
            for y in x:
                walk(y)

    for clause in node.clauses:
        walk(clause)
    return frozenset(found)


class MemoSlicer:
    """`Engine._slice_ids` with the static graph's ancestor keys memoized and a 2-level index.

    Assumes (as in this bench) that a request's overlay entities are not ancestors of each other.
    """

    def __init__(self, engine: Any) -> None:
        self._parents = engine.graph._parents
        self._closure: dict[Any, tuple[Any, ...]] = {}
        self._by_principal: dict[Any, dict[Any, tuple[str, ...]]] = {}
        for (pk, rk), ids in engine.base.index._buckets.items():
            self._by_principal.setdefault(pk, {})[rk] = ids

    def _static(self, uid: Any) -> tuple[Any, ...]:
        keys = self._closure.get(uid)
        if keys is None:
            seen: list[Any] = []
            stack = [uid]
            while stack:
                u = stack.pop()
                if u not in seen:
                    seen.append(u)
                    stack.extend(self._parents.get(u, ()))
            keys = self._closure[uid] = tuple(uid_key(u) for u in seen)
        return keys

    def _keys(self, uid: Any, overlay: dict[Any, Any] | None) -> list[Any]:
        keys = [ANY, ("is", uid.type)]
        if overlay is not None and uid in overlay:
            keys.append(uid_key(uid))
            for parent in overlay[uid]:
                keys.extend(self._static(parent))
        else:
            keys.extend(self._static(uid))
        return keys

    def slice_ids(self, request: Request) -> frozenset[str]:
        overlay = {e.uid: e.parents for e in request.entities} if request.entities else None
        rkeys = self._keys(request.resource, overlay)
        found: list[str] = []
        for pk in self._keys(request.principal, overlay):
            row = self._by_principal.get(pk)
            if row:
                for rk in rkeys:
                    hit = row.get(rk)
                    if hit:
                        found.extend(hit)
        return frozenset(found)


def closest_ranked(
    explainer: Any, permits: frozenset[str], cedar_request: dict[str, Any], entities: Any
) -> tuple[PolicyExplanation, ...]:
    """`Explainer._closest`, but ranking on counts and building objects for the top 3 only."""
    if not permits:
        return ()
    probe, parts = explainer._probe_for(permits)
    raw = cedar.is_authorized_batch([cedar_request], probe, entities, explainer._schema, False)[0]
    diagnostics = orjson.loads(raw)["diagnostics"]
    holds = set(diagnostics.get("reason", ()))
    total = dict.fromkeys(permits, 0)
    failed = dict.fromkeys(permits, 0)
    for part_id, part in parts.items():
        total[part.policy_id] += 1
        if part_id not in holds:
            failed[part.policy_id] += 1
    top = sorted(permits, key=lambda pid: (failed[pid], -total[pid], pid))[:3]
    errors: dict[str, str] = {}
    for message in diagnostics.get("errors", ()):
        part_id, _, detail = message.partition("`: ")
        errors[part_id.rpartition("`")[2]] = detail
    checks: dict[str, list[ConditionCheck]] = {pid: [] for pid in top}
    for part_id, part in parts.items():
        if part.policy_id in checks:
            checks[part.policy_id].append(
                ConditionCheck(part.kind, part.text, part_id in holds, errors.get(part_id))
            )
    out = []
    for pid in top:
        src = explainer._base.source_of(pid)
        out.append(
            PolicyExplanation(
                pid,
                "permit",
                src.location,
                src.reason,
                tuple(c for c in checks[pid] if not c.holds),
                len(checks[pid]),
            )
        )
    return tuple(out)


# ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000, help="policy count (default 1000)")
    parser.add_argument("--rounds", type=int, default=30, help="passes over the sample")
    args = parser.parse_args()
    p = prepare(args.size, FULL)
    clock = FixedClock()
    pdp = PDP(p.compiled, clock=clock, cache=None)
    eng = pdp._engine
    base = eng.base
    schema = eng.schema
    reqs = [s.request for s in p.samples]
    timed = [
        Request(r.principal, r.action, r.resource, pdp._with_time(r.context), r.entities)
        for r in reqs
    ]
    print(f"{args.size:,} policies, {len(reqs)} sampled requests, rounds={args.rounds}")

    # 1. The steps of one uncached decision (explain=False).
    ids = [eng._slice_ids(r) for r in timed]
    creqs = [engine_mod._cedar_request(r) for r in timed]
    ents = [eng._entities_for(r.entities) for r in timed]
    slices = [base.slice(i) for i in ids]
    calls = list(zip(creqs, ents, slices, strict=True))
    raws = [cedar.is_authorized_batch([c], s, e, schema, False)[0] for c, e, s in calls]
    interleaved(
        "1. PDP.decide(explain=False) and its steps",
        {
            "PDP.decide(req, explain=False), total": (
                lambda r: pdp.decide(r, explain=False),
                reqs,
            ),
            "PDP: add `time` to the context, rebuild the Request": (
                lambda r: Request(
                    r.principal, r.action, r.resource, pdp._with_time(r.context), r.entities
                ),
                reqs,
            ),
            "Engine._entities_for (orjson key of request entities, dict hit)": (
                lambda r: eng._entities_for(r.entities),
                timed,
            ),
            "_cedar_request (uid dicts, orjson context)": (engine_mod._cedar_request, timed),
            "Engine._slice_ids (ancestors, request_keys, lookup)": (eng._slice_ids, timed),
            "PolicyBase.slice(ids) (cached PolicySet)": (base.slice, ids),
            "cedar is_authorized_batch on the slice (schema)": (
                lambda a: cedar.is_authorized_batch([a[0]], a[2], a[1], schema, False),
                calls,
            ),
            "orjson.loads(result)": (orjson.loads, raws),
            "Decision(...)": (
                lambda _: Decision(True, Outcome.ALLOWED, "id", ("p",), (), "h", None),
                timed,
            ),
        },
        args.rounds,
        blocks=True,
    )
    metrics = [orjson.loads(r)["metrics"] for r in raws]
    for key in ("build_request_duration_micros", "authz_duration_micros"):
        values = sorted(m[key] for m in metrics)
        print(f"  cedar's own metrics: {key} median {values[len(values) // 2]}")

    # 2. Inside the Cedar call: schema validation and context parsing vs evaluation.
    empty_ctx = [({**c, "context": "{}"}, e, s) for c, e, s in calls]
    extn = [
        ({**c, "context": orjson.dumps(with_ip_extn(r.context)).decode()}, e, s)
        for r, (c, e, s) in zip(timed, calls, strict=True)
    ]
    attrs_of: dict[frozenset[str], frozenset[str]] = {}
    projected = []
    for r, i, (c, e, s) in zip(timed, ids, calls, strict=True):
        if i not in attrs_of:
            attrs_of[i] = frozenset().union(*(context_attrs(base.source_of(x).node) for x in i))
        ctx = {k: v for k, v in with_ip_extn(r.context).items() if k in attrs_of[i]}
        projected.append(({**c, "context": orjson.dumps(ctx).decode()}, e, s))
    same_noschema = all(
        verdict(a) == verdict(cedar.is_authorized_batch([x[0]], x[2], x[1], None, False)[0])
        for a, x in zip(raws, extn, strict=True)
    )
    same_projected = all(
        verdict(a) == verdict(cedar.is_authorized_batch([x[0]], x[2], x[1], None, False)[0])
        for a, x in zip(raws, projected, strict=True)
    )
    kept = sum(len(attrs_of[i]) for i in ids) / len(ids)
    interleaved(
        "2. The Cedar call on the slice: where its time goes, and proposals P1/P2 "
        f"(identical decisions, reasons, errors: P1 {same_noschema}, P1+P2 {same_projected}; "
        f"P2 keeps {kept:.1f} of {len(timed[0].context)} context records on average)",
        {
            "today: full context, schema=Schema": (
                lambda a: cedar.is_authorized_batch([a[0]], a[2], a[1], schema, False),
                calls,
            ),
            "P1: full context (ip as __extn), schema=None": (
                lambda a: cedar.is_authorized_batch([a[0]], a[2], a[1], None, False),
                extn,
            ),
            "P1+P2: only the records the slice reads, schema=None": (
                lambda a: cedar.is_authorized_batch([a[0]], a[2], a[1], None, False),
                projected,
            ),
            "floor: empty context, schema=None": (
                lambda a: cedar.is_authorized_batch([a[0]], a[2], a[1], None, False),
                empty_ctx,
            ),
            "whole policy set instead of the slice, schema=Schema": (
                lambda a: cedar.is_authorized_batch([a[0]], base.full, a[1], schema, False),
                calls[:16],
            ),
        },
        max(1, args.rounds // 3),
    )

    # 3. Slicing lookup.
    memo = MemoSlicer(eng)
    same = all(memo.slice_ids(r) == eng._slice_ids(r) for r in timed)
    interleaved(
        f"3. Slice lookup (memoized variant returns identical slices: {same})",
        {"Engine._slice_ids today": (eng._slice_ids, timed), "memoized": (memo.slice_ids, timed)},
        args.rounds,
        blocks=True,
    )

    # 4. Explanations of "no permit matched".
    explainer = eng._explainer
    denied = [
        r
        for r in timed
        if eng.decide(r, decision_id="x", explain=False).outcome.value == "no_permit"
    ]
    cases = []
    for r in denied:
        cands = base.index.for_resource(eng._resource_keys(r, engine_mod._overlay(r)))
        permits = frozenset(x for x in cands if base.effects.get(x) == "permit")
        me = pst_uid(r.principal)
        own = frozenset(
            x
            for x in permits
            if not (
                isinstance(c := explainer._concrete(x).principal, pst.ScopeEq) and c.entity != me
            )
        )
        c = engine_mod._cedar_request(r)
        c_extn = {**c, "context": orjson.dumps(with_ip_extn(r.context)).decode()}
        cases.append((r, c, eng._entities_for(r.entities), permits, own, c_extn))
    if cases:
        same_ranked = all(
            explainer._closest(k[3], k[1], k[2]) == closest_ranked(explainer, k[3], k[1], k[2])
            for k in cases
        )

        def ranked_no_schema(k: tuple[Any, ...]) -> object:
            saved, explainer._schema = explainer._schema, None
            try:
                return closest_ranked(explainer, k[4], k[5], k[2])
            finally:
                explainer._schema = saved

        same_e3 = all(
            ranked_no_schema(k) == closest_ranked(explainer, k[4], k[1], k[2]) for k in cases
        )
        parts = sum(len(explainer._probe_for(k[3])[1]) for k in cases) / len(cases)
        own_parts = [len(explainer._probe_for(k[4])[1]) for k in cases if k[4]]
        print(
            f"\n  {len(cases)} no-permit denies; candidate permits {sum(len(k[3]) for k in cases) / len(cases):.1f}"
            f" -> {sum(len(k[4]) for k in cases) / len(cases):.1f} without other principals' `==` "
            f"grants; probe parts {parts:.1f} -> {sum(own_parts) / max(1, len(own_parts)):.1f}"
        )
        interleaved(
            "4. Explaining a no-permit deny, and proposals E1-E3 "
            f"(E2 identical to today: {same_ranked}; E3 identical to E1+E2: {same_e3})",
            {
                "Engine.decide(explain=False)": (
                    lambda k: eng.decide(k[0], decision_id="x", explain=False),
                    cases,
                ),
                "Engine.decide(explain=True)": (
                    lambda k: eng.decide(k[0], decision_id="x", explain=True),
                    cases,
                ),
                "Explainer._closest today": (lambda k: explainer._closest(k[3], k[1], k[2]), cases),
                "  of which the probe Cedar call": (
                    lambda k: cedar.is_authorized_batch(
                        [k[1]], explainer._probe_for(k[3])[0], k[2], schema, False
                    ),
                    cases,
                ),
                "E1: skip candidates scoped `principal ==` someone else": (
                    lambda k: explainer._closest(k[4], k[1], k[2]),
                    cases,
                ),
                "E2: rank on counts, build objects for the top 3 only": (
                    lambda k: closest_ranked(explainer, k[3], k[1], k[2]),
                    cases,
                ),
                "E1+E2": (lambda k: closest_ranked(explainer, k[4], k[1], k[2]), cases),
                "E1+E2+E3: probe call with schema=None (validated already)": (
                    ranked_no_schema,
                    cases,
                ),
            },
            max(1, args.rounds // 3),
        )

    # 5. A cache hit.
    cache = DecisionCache(clock=clock, ttl_s=3600.0)
    cached = PDP(p.compiled, clock=clock, cache=cache)
    for r in reqs:
        cached.decide(r)
    keys = [pdp_mod._cache_key(r) for r in timed]
    hits = [cache.get(k) for k in keys]
    interleaved(
        "5. A decision-cache hit and its steps",
        {
            "PDP.decide (cache hit), total": (cached.decide, reqs),
            "add `time`, rebuild the Request": (
                lambda r: Request(
                    r.principal, r.action, r.resource, cached._with_time(r.context), r.entities
                ),
                reqs,
            ),
            "_cache_key (orjson, OPT_SORT_KEYS, Entity dataclasses)": (
                pdp_mod._cache_key,
                timed,
            ),
            "  the same key without OPT_SORT_KEYS": (
                lambda r: orjson.dumps(
                    (r.principal.id, r.action.id, r.resource.id, r.context, r.entities)
                ),
                timed,
            ),
            "DecisionCache.get": (cache.get, keys),
            "Decision(...) rebuilt from the hit": (
                lambda h: Decision(
                    h.allowed,
                    h.outcome,
                    "id",
                    h.policy_ids,
                    h.errors,
                    h.bundle_hash,
                    h.explanation,
                    True,
                ),
                hits,
            ),
        },
        args.rounds * 2,
        blocks=True,
    )


if __name__ == "__main__":
    main()
