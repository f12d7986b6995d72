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
        self._ages = AgeFields()

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
            key = _cache_key(request, clock_time, cache.ttl_s, self._ages)
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


def _cache_key(
    request: Request, clock_time: Mapping[str, Any] | None, ttl_s: float, ages: AgeFields
) -> bytes:
    """The normalized request: dict order does not matter (sorted keys), values do.

    Ages (`*_age_s` in a context record, such as `authn.auth_age_s`) tick every second; keyed
    as they are, no two requests would share an entry. They are keyed in TTL-sized buckets
    instead: a decision is then reused across ages at most one TTL apart, which is the
    freshness the cache promises for every attribute anyway (docs/policy.md).
    """
    p, a, r = request.principal, request.action, request.resource
    context = ages.bucketed(request.context, ttl_s)
    parts = (p.type, p.id, a.type, a.id, r.type, r.id, context, clock_time, request.entities)
    return json_bytes(parts, option=orjson.OPT_SORT_KEYS)


class AgeFields:
    """Where the `*_age_s` integers sit in contexts, learnt once per set of top-level records.

    Found by a scan the first time a set of records is seen; later contexts with the same
    records only look those fields up. A field missed this way (a record that grew an age)
    only costs hit rate: it stays in the key unbucketed.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}

    def bucketed(self, context: Mapping[str, Any], ttl_s: float) -> Mapping[str, Any]:
        """`context` with its ages in TTL buckets (copies only the records that change)."""
        names = tuple(context)
        fields = self._known.get(names)
        if fields is None:
            fields = tuple(
                (name, key)
                for name, record in context.items()
                if type(record) is dict
                for key, value in record.items()
                if type(value) is int and key.endswith("_age_s")
            )
            if len(self._known) < 256:
                self._known[names] = fields
        bucketed: dict[str, Any] | None = None
        for name, key in fields:
            record = context[name]
            value = record.get(key) if type(record) is dict else None
            if type(value) is not int:
                continue
            if bucketed is None:
                bucketed = dict(context)
            copy = bucketed[name]
            if copy is record:
                copy = bucketed[name] = dict(record)
            copy[key] = int(value // ttl_s)
        return context if bucketed is None else bucketed
