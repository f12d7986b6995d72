"""PDP latency: raw cedarpy vs Zerogate's `PDP.decide` (uncached, unsliced, cached, explained).

Run: `make bench` (or `.venv/bin/python bench/pdp.py [--quick] [--out PATH]`).

For each policy-set size (1, 100, 1,000, 10,000 evaluatable policies) one synthetic
organisation is generated from a fixed seed: a few global forbids (risk, contractors' hours, a
refused address range, divested accounts) as in examples/policies, per-group permits on apps,
and per-user grants on routes, half written as static policies and half as links of one
template. Every mode then decides the SAME fixed sample of requests (principal with its groups
in `Request.entities`, a route, a schema-valid context):

- `cedarpy` - `cedarpy.is_authorized(request, PolicySet, Entities, schema=Schema)` over the
  whole set with pre-parsed handles (one Entities handle per principal, built beforehand): the
  honest baseline a cedarpy user would write.
- `cedarpy_batch` - `cedarpy._internal.is_authorized_batch` with dict UIDs, the context
  pre-serialized and the result read with orjson: the fastest raw call (floor).
- `zg_uncached` - `PDP(compiled, clock=FixedClock(), cache=None).decide(req)`, slicing on,
  `explain` at its default (True: denies carry an explanation). The §5 targets are judged here.
- `zg_uncached_noexplain` - the same with `explain=False`: the same work as the raw modes.
- `zg_noslice` - `PDP(..., slicing=False).decide(req, explain=False)`: what slicing buys.
- `zg_cached` - a warmed `DecisionCache` (TTL 1 h): timed hits only.
- `deny_plain` / `deny_explain` - requests denied because no permit matched (those with a
  candidate permit to explain), `decide(explain=False)` vs `decide(explain=True)`.

Zerogate modes call `decide` as a caller would: the context has no `time` (the PDP adds it from
its clock). The raw modes get the same context with that `time` already filled in. Before timing,
every sampled request is decided by all four paths and the bench aborts (exit 2) unless
allow/deny and the determining policy ids agree.

Each cell records `cpu_share` (process CPU time / wall time while timing): well below 1.0 means
something else was competing for the CPU and the percentiles are inflated.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import pstats
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cedarpy
import orjson
from cedarpy import _internal as cedar_internal

from _common import (
    Stats,
    adaptive_iterations,
    machine_info,
    stats_of,
    time_calls,
    timer_overhead_ns,
    warm,
    write_json,
)
from zerogate.clock import FixedClock
from zerogate.policy import (
    PDP,
    Bundle,
    CompiledBundle,
    DecisionCache,
    Entity,
    EntityUID,
    Outcome,
    Request,
    compile_bundle,
    default_schema_text,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / "results" / "pdp.json"
SIZES = (1, 100, 1_000, 10_000)
SEED = 20261122
TEMPLATE_ID = "user-route-grant"
POLICIES_PER_FILE = 2_000  # bundle files are capped at 1 MiB each

MODES: dict[str, str] = {
    "cedarpy": "cedarpy.is_authorized",
    "cedarpy_batch": "cedarpy _internal batch",
    "zg_uncached": "zerogate uncached",
    "zg_uncached_noexplain": "zerogate uncached, explain=False",
    "zg_noslice": "zerogate no slicing, explain=False",
    "zg_cached": "zerogate cached hit",
    "deny_plain": "deny, explain=False",
    "deny_explain": "deny, explain=True",
}
# What each row's ratio columns compare against (same inputs).
BASELINE_OF = {m: "cedarpy" for m in MODES} | {
    "deny_plain": "deny_plain",
    "deny_explain": "deny_plain",
}


@dataclass(frozen=True, slots=True)
class Config:
    sizes: tuple[int, ...]
    requests: int  # size of the fixed request sample
    target_iterations: int  # per cell, unless the time budget says fewer
    cell_budget_s: float  # time budget of one timed cell
    floor_iterations: int  # never fewer, even for the slowest cell
    probe_calls: int  # untimed calls to estimate the per-call cost
    seed: int
    quick: bool


FULL = Config(SIZES, 256, 20_000, 2.0, 150, 20, SEED, quick=False)
QUICK = Config(SIZES, 32, 200, 0.1, 20, 3, SEED, quick=True)


# --------------------------------------------------------------------------------------------
# The synthetic organisation


GUARDS = """\
@id("deny-high-risk")
@reason("the session's risk score is above 80")
forbid (principal, action, resource)
when { context.risk.score > 80 };

@id("contractors-working-hours")
@reason("contractors have access Monday to Friday, 08:00-18:00")
forbid (principal in Group::"contractors", action, resource)
unless {
  context.time.weekday <= 5 &&
  context.time.hour >= 8 &&
  context.time.hour < 18
};

@id("block-refused-range")
@reason("requests from the refused address range are blocked")
forbid (principal, action, resource)
when { context.network.ip.isInRange(ip("203.0.113.0/24")) };

@id("divested-accounts")
@reason("accounts of the divested subsidiary no longer have access")
forbid (principal is User, action, resource)
when { principal.email like "*@divested.example" };
"""
N_GUARDS = 4

TEMPLATE = f"""\
@id("{TEMPLATE_ID}")
permit (principal == ?principal, action in Action::"read", resource == ?resource)
when {{ context.network.tls && context.authn.auth_age_s < 7200 }};
"""

GROUP_CONDITIONS = (
    "context.authn.mfa && context.risk.score < 50",
    "context has device && context.device.compliant && context.device.posture_age_s < 3600",
    "context.authn.auth_age_s < 3600 && context.network.tls",
)
USER_CONDITIONS = (
    "context.authn.mfa && context.risk.score < 60",
    'context.authn.amr.contains("otp") || context.authn.amr.contains("hwk")',
    "context has device && context.device.managed",
)
GROUP_ACTIONS = ("read", "read", "write", "http")
USER_ACTIONS = ("read", "read", "write")
REQUEST_ACTIONS = ("GET", "GET", "GET", "GET", "GET", "GET", "HEAD", "POST", "POST", "DELETE")


@dataclass(slots=True)
class World:
    """One generated organisation: bundle files, the raw-cedarpy equivalents and the users."""

    size: int
    files: dict[str, str]
    policy_text: str  # every .cedar file concatenated (what a cedarpy user would parse)
    raw_links: list[dict[str, Any]]  # the same links in `PolicySet.with_linked_batch` form
    users: list[Entity]
    grants: list[list[int]]  # user index -> route indices granted to that user
    routes: int
    apps: int
    groups: int
    counts: dict[str, int] = field(default_factory=dict)


def build_world(size: int, seed: int) -> World:
    """A seeded organisation with exactly `size` evaluatable policies (links count, templates not)."""
    rng = random.Random(seed * 100_003 + size)
    n_guards = min(N_GUARDS, size // 25)
    n_group = max(1, size // 25) if size > n_guards else 0
    n_user = size - n_guards - n_group
    n_groups = max(4, size // 100)
    n_routes = max(8, size // 10)
    n_apps = max(2, n_routes // 10)
    n_users = max(8, n_user // 4)

    entities: list[dict[str, Any]] = []
    entities += [_entity("App", f"a{m}", {"name": f"App {m}"}) for m in range(n_apps)]
    entities += [
        _entity(
            "Route",
            f"r{j}",
            {"host": f"a{j % n_apps}.example.test", "path": f"/p{j}"},
            [("App", f"a{j % n_apps}")],
        )
        for j in range(n_routes)
    ]
    entities.append(_entity("Group", "employees", {"name": "All employees"}))
    entities.append(_entity("Group", "contractors", {"name": "Contractors"}))
    for k in range(n_groups):
        # Every fourth group nests inside the previous one, so ancestor walks have some depth.
        parent = f"g{k - 1}" if k % 4 == 3 else "employees"
        entities.append(_entity("Group", f"g{k}", {"name": f"Group {k}"}, [("Group", parent)]))

    users: list[Entity] = []
    for i in range(n_users):
        groups = {f"g{rng.randrange(n_groups)}" for _ in range(rng.choice((1, 1, 2)))}
        if rng.random() < 0.10:
            groups.add("contractors")
        domain = "divested.example" if rng.random() < 0.02 else "example.test"
        users.append(
            Entity(
                EntityUID("User", f"u{i}"),
                {"email": f"u{i}@{domain}"},
                tuple(EntityUID("Group", g) for g in sorted(groups)),
            )
        )

    group_policies = []
    for k in range(n_group):
        group = "employees" if size < 25 else f"g{k % n_groups}"
        app = f"a{(k * 7 + k // n_groups) % n_apps}"
        action = GROUP_ACTIONS[k % len(GROUP_ACTIONS)]
        cond = GROUP_CONDITIONS[k % len(GROUP_CONDITIONS)]
        group_policies.append(
            f'@id("group-{k}")\npermit (principal in Group::"{group}", action in '
            f'Action::"{action}", resource in App::"{app}")\nwhen {{ {cond} }};\n'
        )

    grants: list[list[int]] = [[] for _ in range(n_users)]
    taken: set[tuple[int, int]] = set()
    user_policies: list[str] = []
    links: list[dict[str, Any]] = []
    for k in range(n_user):
        user = k % n_users
        route = rng.randrange(n_routes)
        while (user, route) in taken:
            route = rng.randrange(n_routes)
        taken.add((user, route))
        grants[user].append(route)
        if k % 2 == 0:
            action = USER_ACTIONS[(k // 2) % len(USER_ACTIONS)]
            cond = USER_CONDITIONS[(k // 2) % len(USER_CONDITIONS)]
            user_policies.append(
                f'@id("grant-u{user}-r{route}")\npermit (principal == User::"u{user}", action in '
                f'Action::"{action}", resource == Route::"r{route}")\nwhen {{ {cond} }};\n'
            )
        else:
            links.append(
                {
                    "id": f"link-u{user}-r{route}",
                    "template": TEMPLATE_ID,
                    "values": {
                        "?principal": {"type": "User", "id": f"u{user}"},
                        "?resource": {"type": "Route", "id": f"r{route}"},
                    },
                }
            )

    files: dict[str, str] = {"entities.json": orjson.dumps(entities).decode()}
    if n_guards:
        files["guards.cedar"] = "\n".join(GUARDS.split("\n\n")[:n_guards]) + "\n"
    files["groups.cedar"] = "\n".join(group_policies)
    if links:
        files["templates.cedar"] = TEMPLATE
        files["links.json"] = orjson.dumps(links).decode()
    for c in range(0, len(user_policies), POLICIES_PER_FILE):
        files[f"users-{c // POLICIES_PER_FILE:03d}.cedar"] = "\n".join(
            user_policies[c : c + POLICIES_PER_FILE]
        )
    policy_text = "\n".join(t for name, t in sorted(files.items()) if name.endswith(".cedar"))
    raw_links = [
        {"template_id": link["template"], "new_id": link["id"], "values": link["values"]}
        for link in links
    ]
    return World(
        size=size,
        files=files,
        policy_text=policy_text,
        raw_links=raw_links,
        users=users,
        grants=grants,
        routes=n_routes,
        apps=n_apps,
        groups=n_groups,
        counts={
            "forbids": n_guards,
            "group_permits": n_group,
            "user_static_permits": len(user_policies),
            "user_template_links": len(links),
            "users": n_users,
            "groups": n_groups + 2,
            "apps": n_apps,
            "routes": n_routes,
            "static_entities": len(entities),
        },
    )


def _entity(
    etype: str, eid: str, attrs: dict[str, Any], parents: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    return {
        "uid": {"type": etype, "id": eid},
        "attrs": attrs,
        "parents": [{"type": t, "id": i} for t, i in parents],
    }


def make_context(rng: random.Random) -> dict[str, Any]:
    """A schema-valid context (no `time`: the PDP fills that in from its clock)."""
    mfa = rng.random() < 0.85
    if rng.random() < 0.04:
        ip = f"203.0.113.{rng.randrange(1, 255)}"
    else:
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    risky = rng.random() < 0.05
    ctx: dict[str, Any] = {
        "authn": {
            "mfa": mfa,
            "amr": ["pwd", rng.choice(("otp", "hwk"))] if mfa else ["pwd"],
            "auth_age_s": rng.randrange(0, 7200),
            "idp": "zerogate",
        },
        "network": {"ip": ip, "tls": rng.random() < 0.95},
        "risk": {
            "score": rng.randrange(81, 101) if risky else rng.randrange(0, 61),
            "signals": ["impossible_travel"] if risky else [],
        },
    }
    if rng.random() < 0.7:
        ctx["device"] = {
            "id": f"dev-{rng.randrange(10_000)}",
            "compliant": rng.random() < 0.9,
            "managed": rng.random() < 0.8,
            "os": rng.choice(("macos", "windows", "linux")),
            "os_version": "15.1",
            "disk_encrypted": True,
            "screen_lock": True,
            "posture_age_s": rng.randrange(0, 7200),
        }
    return ctx


def pdp_time_context(clock: FixedClock, zone: str = "UTC") -> dict[str, Any]:
    """The `time` record a PDP in `zone` derives from `clock` (what the raw modes are given)."""
    local = clock.now().astimezone(ZoneInfo(zone))
    return {"hour": local.hour, "minute": local.minute, "weekday": local.isoweekday(), "zone": zone}


@dataclass(frozen=True, slots=True)
class Sample:
    """One request in every form the modes need."""

    request: Request  # for Zerogate (no `time` in the context)
    raw: dict[str, Any]  # for cedarpy.is_authorized (dict UIDs, context dict with `time`)
    batch: dict[str, Any]  # for _internal.is_authorized_batch (context pre-serialized)
    raw_entities: cedarpy.Entities  # base entities + this principal, pre-parsed
    user: int


def make_samples(
    world: World, count: int, seed: int, base: cedarpy.Entities, schema: cedarpy.Schema
) -> list[Sample]:
    rng = random.Random(seed * 7 + world.size)
    time_ctx = pdp_time_context(FixedClock())
    handles: dict[int, cedarpy.Entities] = {}
    samples = []
    for _ in range(count):
        user = rng.randrange(len(world.users))
        if world.grants[user] and rng.random() < 0.6:
            route = rng.choice(world.grants[user])
        else:
            route = rng.randrange(world.routes)
        action = rng.choice(REQUEST_ACTIONS)
        ctx = make_context(rng)
        entity = world.users[user]
        request = Request(
            principal=entity.uid,
            action=EntityUID("Action", action),
            resource=EntityUID("Route", f"r{route}"),
            context=ctx,
            entities=(entity,),
        )
        raw = {
            "principal": entity.uid.as_json(),
            "action": {"type": "Action", "id": action},
            "resource": {"type": "Route", "id": f"r{route}"},
            "context": {**ctx, "time": time_ctx},
        }
        batch = {**raw, "context": orjson.dumps(raw["context"]).decode()}
        if user not in handles:
            delta = orjson.dumps([entity.as_json()]).decode()
            handles[user] = base.with_added_json_str(delta, schema)
        samples.append(Sample(request, raw, batch, handles[user], user))
    return samples


# --------------------------------------------------------------------------------------------
# One size: build, check agreement, time every mode


@dataclass(slots=True)
class Prepared:
    world: World
    compiled: CompiledBundle
    schema: cedarpy.Schema
    policy_set: cedarpy.PolicySet
    samples: list[Sample]
    setup_s: dict[str, float]


def prepare(size: int, cfg: Config) -> Prepared:
    t0 = time.perf_counter()
    world = build_world(size, cfg.seed)
    t1 = time.perf_counter()
    compiled = compile_bundle(Bundle(world.files))
    t2 = time.perf_counter()
    if len(compiled.base.effects) != size:
        raise SystemExit(f"generator bug: {len(compiled.base.effects)} policies, wanted {size}")
    schema = cedarpy.Schema.from_str(default_schema_text())
    base_entities = cedarpy.Entities.from_json_str(world.files["entities.json"], schema)
    policy_set = cedarpy.PolicySet.from_str(world.policy_text)
    if world.raw_links:
        policy_set = policy_set.with_linked_batch(world.raw_links)
    t3 = time.perf_counter()
    samples = make_samples(world, cfg.requests, cfg.seed, base_entities, schema)
    return Prepared(
        world,
        compiled,
        schema,
        policy_set,
        samples,
        {
            "generate_s": t1 - t0,
            "compile_bundle_s": t2 - t1,
            "raw_cedarpy_parse_s": t3 - t2,
        },
    )


class Disagreement(Exception):
    pass


def check_agreement(p: Prepared, sliced: PDP, unsliced: PDP) -> tuple[dict[str, Any], list[Sample]]:
    """Decide every sample four ways; raise Disagreement on any allow/deny or reason mismatch.

    Returns a summary and the samples denied for lack of a permit that have a candidate permit
    to explain (all no-permit denies if none has one).
    """
    allows = forbidden = no_permit = 0
    no_permit_samples: list[Sample] = []
    explained: list[Sample] = []
    slice_sizes: list[int] = []
    link_ids = {link["new_id"] for link in p.world.raw_links}
    for n, s in enumerate(p.samples):
        raw = cedarpy.is_authorized(s.raw, p.policy_set, s.raw_entities, schema=p.schema)
        batch = orjson.loads(
            cedar_internal.is_authorized_batch(
                [s.batch], p.policy_set, s.raw_entities._inner, p.schema, False
            )[0]
        )
        a = sliced.decide(s.request, explain=False)
        b = unsliced.decide(s.request, explain=False)
        if raw.decision.value == "NoDecision" or raw.diagnostics.errors:
            raise Disagreement(f"sample {n}: raw cedarpy errors {raw.diagnostics.errors}")
        # Raw ids are Cedar's (`policy<N>` for parsed policies, the link id for links; a link
        # inherits its template's @id annotation, so links keep their own id).
        names = raw.diagnostics.id_annotations_by_reason

        def policy_id(cedar_id: str, names: dict[str, str] = names) -> str:
            return cedar_id if cedar_id in link_ids else names.get(cedar_id, cedar_id)

        raw_ids = sorted(policy_id(r) for r in raw.diagnostics.reasons)
        batch_ids = sorted(policy_id(r) for r in batch["diagnostics"]["reason"])
        verdicts = {
            "cedarpy": (raw.allowed, raw_ids),
            "cedarpy_batch": (batch["decision"] == "Allow", batch_ids),
            "zg_uncached": (a.allowed, sorted(a.policy_ids)),
            "zg_noslice": (b.allowed, sorted(b.policy_ids)),
        }
        if len(set(orjson.dumps(v) for v in verdicts.values())) != 1:
            raise Disagreement(f"sample {n} {s.request}: {verdicts}")
        if a.errors or b.errors:
            raise Disagreement(f"sample {n}: policy errors {a.errors} / {b.errors}")
        slice_sizes.append(_slice_size(sliced, s.request))
        if a.allowed:
            allows += 1
        elif a.outcome is Outcome.FORBIDDEN:
            forbidden += 1
        else:
            no_permit += 1
            no_permit_samples.append(s)
            why = sliced.decide(s.request, explain=True).explanation
            if why is not None and why.closest_permits:
                explained.append(s)
    summary = {
        "requests": len(p.samples),
        "allow": allows,
        "deny_forbidden": forbidden,
        "deny_no_permit": no_permit,
        "deny_no_permit_with_candidate": len(explained),
        "distinct_principals": len({s.user for s in p.samples}),
        "slice_size_mean": sum(slice_sizes) / len(slice_sizes),
        "slice_size_max": max(slice_sizes),
        "agree": True,
    }
    return summary, explained or no_permit_samples


def _slice_size(pdp: PDP, request: Request) -> int:
    """How many policies the sliced engine evaluates for `request` (-1 if internals changed)."""
    slice_ids = getattr(getattr(pdp, "_engine", None), "_slice_ids", None)
    return len(slice_ids(request)) if slice_ids is not None else -1


def measure(
    fn: Callable[[Sample], object], inputs: Sequence[Sample], cfg: Config
) -> tuple[Stats, float]:
    """Warm up, pick the iteration count, time; returns the stats and the CPU share."""
    est = warm(fn, inputs, cfg.probe_calls)
    iterations = adaptive_iterations(
        est, cfg.target_iterations, cfg.cell_budget_s, cfg.floor_iterations
    )
    warm(fn, inputs, min(iterations // 10, max(0, int(0.5 * cfg.cell_budget_s * 1e9 / est))))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    samples = time_calls(fn, inputs, iterations)
    cpu_share = (time.process_time() - cpu0) / max(1e-9, time.perf_counter() - wall0)
    return stats_of(samples), cpu_share


def run_size(size: int, cfg: Config, log: Callable[[str], None]) -> dict[str, Any]:
    p = prepare(size, cfg)
    log(
        f"[{size:>6} policies] generated + compiled in "
        f"{p.setup_s['generate_s'] + p.setup_s['compile_bundle_s']:.2f}s; checking agreement"
    )
    clock = FixedClock()
    sliced = PDP(p.compiled, clock=clock, cache=None)
    unsliced = PDP(p.compiled, clock=clock, cache=None, slicing=False)
    cache = DecisionCache(clock=clock, ttl_s=3600.0, max_entries=1_000_000)
    cached = PDP(p.compiled, clock=clock, cache=cache)
    t0 = time.perf_counter()
    try:
        agreement, denied = check_agreement(p, sliced, unsliced)
    except Disagreement as exc:
        print(f"\nFATAL: decisions disagree at {size} policies: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    p.setup_s["agreement_check_s"] = time.perf_counter() - t0

    ps, schema = p.policy_set, p.schema
    is_authorized = cedarpy.is_authorized
    batch_call = cedar_internal.is_authorized_batch
    loads = orjson.loads

    def raw_public(s: Sample) -> object:
        return is_authorized(s.raw, ps, s.raw_entities, schema=schema)

    def raw_batch(s: Sample) -> object:
        return loads(batch_call([s.batch], ps, s.raw_entities._inner, schema, False)[0])

    for s in p.samples:  # fill the cache: the timed loop measures hits only
        cached.decide(s.request)
    hits_before, misses_before = cache.hits, cache.misses

    fns: dict[str, tuple[Callable[[Sample], object], Sequence[Sample]]] = {
        "cedarpy": (raw_public, p.samples),
        "cedarpy_batch": (raw_batch, p.samples),
        "zg_uncached": (lambda s: sliced.decide(s.request), p.samples),
        "zg_uncached_noexplain": (lambda s: sliced.decide(s.request, explain=False), p.samples),
        "zg_noslice": (lambda s: unsliced.decide(s.request, explain=False), p.samples),
        "zg_cached": (lambda s: cached.decide(s.request), p.samples),
        "deny_plain": (lambda s: sliced.decide(s.request, explain=False), denied),
        "deny_explain": (lambda s: sliced.decide(s.request, explain=True), denied),
    }
    cells: dict[str, Stats] = {}
    cpu_shares: dict[str, float] = {}
    load_before = loadavg()
    for mode, (fn, inputs) in fns.items():
        if not inputs:
            raise SystemExit(f"no inputs for {mode} at {size} policies (generator bug)")
        cells[mode], cpu_shares[mode] = measure(fn, inputs, cfg)
        if mode == "zg_cached" and cache.misses != misses_before:
            raise SystemExit(f"timed cache lookups missed at {size} policies")
        log(
            f"  {mode:<22} p50 {cells[mode].p50_us:>10.1f} µs  p99 {cells[mode].p99_us:>10.1f} µs"
            f"  cpu share {cpu_shares[mode]:.2f}"
        )
    cache_hits = cache.hits - hits_before

    rows = []
    for mode, st in cells.items():
        base = cells[BASELINE_OF[mode]]
        rows.append(
            {
                "policies": size,
                "mode": mode,
                "label": MODES[mode],
                "inputs": "deny_no_permit" if mode.startswith("deny_") else "sample",
                "baseline": BASELINE_OF[mode],
                **st.as_dict(),
                "ratio_p50_vs_baseline": round(st.p50_us / base.p50_us, 4),
                "ratio_p99_vs_baseline": round(st.p99_us / base.p99_us, 4),
                "cpu_share": round(cpu_shares[mode], 3),
            }
        )
    return {
        "policies": size,
        "counts": p.world.counts,
        "setup_s": {k: round(v, 3) for k, v in p.setup_s.items()},
        "agreement": agreement | {"deny_rows_inputs": len(denied), "cache_hits_timed": cache_hits},
        "loadavg_1m": {"before": load_before, "after": loadavg()},
        "cells": rows,
    }


def loadavg() -> float | None:
    """The 1-minute load average (other processes on this machine skew the numbers)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# --------------------------------------------------------------------------------------------
# Targets, table, output


def evaluate_targets(sizes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cell = {(c["policies"], c["mode"]): c for s in sizes for c in s["cells"]}
    targets = []

    def add(name: str, target: str, measured: str, ok: bool | None) -> None:
        targets.append({"name": name, "target": target, "measured": measured, "pass": ok})

    at1k = cell.get((1_000, "zg_uncached"))
    if at1k:
        add("uncached p50 at 1,000", "<= 50 µs", f"{at1k['p50_us']:.1f} µs", at1k["p50_us"] <= 50)
        add("uncached p99 at 1,000", "<= 250 µs", f"{at1k['p99_us']:.1f} µs", at1k["p99_us"] <= 250)
    else:
        add("uncached p50/p99 at 1,000", "<= 50 / 250 µs", "not measured", None)
    c100, c10k = cell.get((100, "zg_uncached")), cell.get((10_000, "zg_uncached"))
    if c100 and c10k:
        growth = c10k["p99_us"] / c100["p99_us"]
        add(
            "uncached p99 growth 100 -> 10,000",
            "<= 2.0x",
            f"{growth:.2f}x ({c100['p99_us']:.1f} -> {c10k['p99_us']:.1f} µs)",
            growth <= 2.0,
        )
    else:
        add("uncached p99 growth 100 -> 10,000", "<= 2.0x", "not measured", None)
    cached = [cell[(s["policies"], "zg_cached")] for s in sizes]
    worst = max(cached, key=lambda c: c["p99_us"])
    add(
        "cached p99 (worst size)",
        "<= 10 µs",
        f"{worst['p99_us']:.1f} µs at {worst['policies']:,}",
        worst["p99_us"] <= 10,
    )
    explain = [cell[(s["policies"], "deny_explain")] for s in sizes]
    worst = max(explain, key=lambda c: c["ratio_p50_vs_baseline"])
    add(
        "deny explanation cost, p50 (pdp.md §5.2, worst size)",
        "<= 2.0x explain=False",
        f"{worst['ratio_p50_vs_baseline']:.2f}x at {worst['policies']:,}",
        worst["ratio_p50_vs_baseline"] <= 2.0,
    )
    return targets


def _ratio(cell: dict[str, Any], key: str) -> str:
    mark = "" if cell["baseline"] == "cedarpy" else " †"
    return f"{cell[key]:.3f}x{mark}"


COLUMNS = (
    "policies",
    "mode",
    "iters",
    "p50 µs",
    "p99 µs",
    "mean µs",
    "decisions/s",
    "p50 ratio",
    "p99 ratio",
    "cpu",
)
LEGEND = (
    "ratio = this row / raw cedarpy.is_authorized on the same requests (<1 is faster); "
    "† = vs `deny, explain=False` on the same denied requests; "
    "cpu = process CPU time / wall time while timing (well below 1: other load on the machine)"
)


def _cells(cell: dict[str, Any], first: bool) -> tuple[str, ...]:
    return (
        f"{cell['policies']:,}" if first else "",
        cell["label"],
        f"{cell['iterations']:,}",
        f"{cell['p50_us']:,.1f}",
        f"{cell['p99_us']:,.1f}",
        f"{cell['mean_us']:,.1f}",
        f"{cell['decisions_per_s']:,.0f}",
        _ratio(cell, "ratio_p50_vs_baseline"),
        _ratio(cell, "ratio_p99_vs_baseline"),
        f"{cell['cpu_share']:.2f}",
    )


def _title(result: dict[str, Any]) -> str:
    m = result["machine"]
    quick = " (QUICK: not meaningful)" if result["parameters"]["quick"] else ""
    return (
        f"PDP decision latency - Python {m['python']}, cedarpy {m['packages']['cedarpy']}, "
        f"{m['cpu_count']} CPUs, {m['date']}{quick}"
    )


def render(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 140)
    table = Table(title=_title(result), title_justify="left")
    for name in COLUMNS:
        table.add_column(name, justify="left" if name == "mode" else "right", no_wrap=True)
    for s in result["sizes"]:
        for i, c in enumerate(s["cells"]):
            table.add_row(*_cells(c, i == 0), end_section=i == len(s["cells"]) - 1)
    console.print(table)
    console.print(LEGEND)
    console.print("\n[bold]targets[/bold] (reference/pdp.md §5)")
    verdict = {True: "[green]PASS[/green]", False: "[red]FAIL[/red]", None: "[yellow]n/a[/yellow]"}
    for t in result["targets"]:
        console.print(
            f"  {verdict[t['pass']]}  {t['name']}: {t['measured']} (target {t['target']})"
        )
    if result["parameters"]["quick"]:
        console.print(
            "[yellow]--quick: too few iterations for the verdicts to mean anything[/yellow]"
        )


def markdown(result: dict[str, Any]) -> str:
    """The table and the targets as Markdown (for docs/performance.md)."""
    lines = [f"{_title(result)}", "", "| " + " | ".join(COLUMNS) + " |"]
    lines.append("|" + "|".join("---" if c == "mode" else "---:" for c in COLUMNS) + "|")
    for s in result["sizes"]:
        for i, c in enumerate(s["cells"]):
            lines.append("| " + " | ".join(_cells(c, i == 0)) + " |")
    lines += ["", LEGEND, "", "| target | measured | verdict |", "|---|---|---|"]
    verdict = {True: "PASS", False: "FAIL", None: "n/a"}
    for t in result["targets"]:
        lines.append(f"| {t['name']}: {t['target']} | {t['measured']} | {verdict[t['pass']]} |")
    return "\n".join(lines) + "\n"


def run(cfg: Config, out: Path) -> dict[str, Any]:
    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    sizes = [run_size(n, cfg, log) for n in cfg.sizes]
    result = {
        "bench": "pdp",
        "format": 1,
        "machine": machine_info("cedarpy", "orjson", "zerogate"),
        "parameters": {
            "quick": cfg.quick,
            "seed": cfg.seed,
            "sizes": list(cfg.sizes),
            "requests_per_sample": cfg.requests,
            "target_iterations_per_cell": cfg.target_iterations,
            "cell_budget_s": cfg.cell_budget_s,
            "floor_iterations": cfg.floor_iterations,
            "timer": "time.perf_counter_ns around each call; GC collected then disabled while timing",
            "timer_overhead_ns_p50": timer_overhead_ns(2_000 if cfg.quick else 20_000),
            "modes": MODES,
            "clock": "FixedClock (Monday 10:00 UTC)",
            "raw_entities": "pre-parsed Entities handle per principal (base + its User entity)",
        },
        "sizes": sizes,
        "cells": [c for s in sizes for c in s["cells"]],
    }
    result["targets"] = evaluate_targets(sizes)
    result["total_runtime_s"] = round(time.perf_counter() - started, 1)
    write_json(out, result)
    render(result)
    print(f"\nwrote {out} in {result['total_runtime_s']}s")
    return result


def profile(size: int, cfg: Config, iterations: int) -> None:
    """cProfile the uncached, sliced path at `size` policies (not part of `make bench`)."""
    p = prepare(size, cfg)
    pdp = PDP(p.compiled, clock=FixedClock(), cache=None)
    samples = p.samples
    for explain in (False, True):
        for s in samples:
            pdp.decide(s.request, explain=explain)
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        for i in range(iterations):
            pdp.decide(samples[i % len(samples)].request, explain=explain)
        prof.disable()
        wall = time.perf_counter() - t0
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(18)
        print(
            f"=== PDP.decide(explain={explain}) x {iterations:,} at {size:,} policies, "
            f"{wall / iterations * 1e6:.0f} µs per call under the profiler"
        )
        print(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small iteration counts (smoke test)")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"JSON output ({DEFAULT_OUT})"
    )
    parser.add_argument("--sizes", help="comma-separated policy counts (default 1,100,1000,10000)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--profile", type=int, metavar="N", help="cProfile the uncached path at N policies instead"
    )
    parser.add_argument(
        "--markdown", type=Path, metavar="JSON", help="print a results JSON as Markdown and exit"
    )
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(orjson.loads(args.markdown.read_bytes())), end="")
        return 0
    cfg = QUICK if args.quick else FULL
    sizes = tuple(int(x) for x in args.sizes.split(",")) if args.sizes else cfg.sizes
    cfg = dataclasses.replace(cfg, sizes=sizes, seed=args.seed)
    if args.profile:
        profile(args.profile, cfg, 2_000 if args.quick else 20_000)
        return 0
    run(cfg, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
