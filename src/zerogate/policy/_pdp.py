"""The policy decision point: the active engine, the decision cache and hot bundle swaps."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from zerogate._types import BundleHash, DecisionID
from zerogate.clock import Clock
from zerogate.policy._bundle import CompiledBundle
from zerogate.policy._cache import DecisionCache
from zerogate.policy._engine import json_bytes
from zerogate.policy._model import Decision, EntityUID, Request


class PDP:
    """Answers `decide(request)`; everything it needs is injected (clock, zone, cache)."""

    def __init__(
        self,
        bundle: CompiledBundle,
        *,
        clock: Clock,
        timezone: str = "UTC",
        cache: DecisionCache | None = None,
        slicing: bool = True,
    ) -> None:
        self._clock = clock
        self._zone = ZoneInfo(timezone)
        self._zone_name = timezone
        self._cache = cache
        self._slicing = slicing
        self._bundle = bundle
        self._engine = bundle.engine(slicing=slicing)
        # Decision ids: a random per-process prefix plus a counter: unique, cheap, sortable.
        self._prefix = secrets.token_hex(6)
        self._counter = itertools.count(1)

    @property
    def bundle_hash(self) -> BundleHash:
        return self._bundle.hash

    @property
    def bundle(self) -> CompiledBundle:
        return self._bundle

    @property
    def cache(self) -> DecisionCache | None:
        return self._cache

    def decide(self, request: Request, *, explain: bool = True) -> Decision:
        """Decide one request. Raises InvalidInput if it does not match the schema."""
        clock_time = None if "time" in request.context else self._local_time()
        decision_id = DecisionID(f"{self._prefix}{next(self._counter):010x}")
        cache = self._cache
        key = b""
        if cache is not None:
            # The key is built from the request as given plus the clock's time, so a hit never
            # pays for rebuilding the request.
            key = _cache_key(request, clock_time, cache.ttl_s)
            hit = cache.get(key)
            if hit is not None:
                return Decision(
                    hit.allowed,
                    hit.outcome,
                    decision_id,
                    hit.policy_ids,
                    hit.errors,
                    hit.bundle_hash,
                    hit.explanation,
                    True,
                )
        if clock_time is not None:
            request = Request(
                request.principal,
                request.action,
                request.resource,
                {**request.context, "time": clock_time},
                request.entities,
            )
        engine = self._engine
        decision = engine.decide(request, decision_id=decision_id, explain=explain)
        if cache is not None and engine is self._engine:  # not swapped meanwhile: safe to keep
            depends = (request.principal, request.resource, *(e.uid for e in request.entities))
            cache.put(key, decision, depends)
        return decision

    def activate(self, bundle: CompiledBundle) -> None:
        """Swap to a new compiled bundle atomically and forget every cached decision."""
        engine = bundle.engine(slicing=self._slicing)
        self._bundle, self._engine = bundle, engine
        if self._cache is not None:
            self._cache.invalidate_all()

    def invalidate_entities(self, uids: Iterable[EntityUID]) -> int:
        """An entity changed (a user's groups, a device): drop decisions that involved it."""
        return self._cache.invalidate_entities(uids) if self._cache is not None else 0

    def _local_time(self) -> dict[str, Any]:
        """`context.time`: the injected clock's time in the configured zone."""
        local = self._clock.now().astimezone(self._zone)
        return {
            "hour": local.hour,
            "minute": local.minute,
            "weekday": local.isoweekday(),
            "zone": self._zone_name,
        }


def _cache_key(request: Request, clock_time: Mapping[str, Any] | None, ttl_s: float) -> bytes:
    """The normalized request: dict order does not matter (sorted keys), values do.

    Ages (`*_age_s` in a context record, such as `authn.auth_age_s`) tick every second; keyed
    as they are, no two requests would share an entry. They are keyed in TTL-sized buckets
    instead: a decision is then reused across ages at most one TTL apart, which is the
    freshness the cache promises for every attribute anyway (docs/policy.md).
    """
    p, a, r = request.principal, request.action, request.resource
    context = _bucket_ages(request.context, ttl_s)
    parts = (p.type, p.id, a.type, a.id, r.type, r.id, context, clock_time, request.entities)
    return json_bytes(parts, option=orjson.OPT_SORT_KEYS)


def _bucket_ages(context: Mapping[str, Any], ttl_s: float) -> Mapping[str, Any]:
    bucketed: dict[str, Any] | None = None
    for name, record in context.items():
        if type(record) is not dict:
            continue
        ages = [k for k, v in record.items() if k.endswith("_age_s") and type(v) is int]
        if ages:
            if bucketed is None:
                bucketed = dict(context)
            bucketed[name] = {**record, **{k: int(record[k] // ttl_s) for k in ages}}
    return context if bucketed is None else bucketed
