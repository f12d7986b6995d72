"""The decision cache: normalized request -> Decision, with jittered TTLs and targeted invalidation."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from zerogate.clock import Clock
from zerogate.policy._model import Decision, EntityUID


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int
    entries: int
    invalidations: int

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class DecisionCache:
    """Bounded cache of decisions. TTLs are jittered (±`jitter`) so entries do not expire in step.

    Entries remember the entities they depended on, so an entity-change event drops just those;
    a policy activation drops everything.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        ttl_s: float = 15.0,
        jitter: float = 0.1,
        max_entries: int = 100_000,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if ttl_s <= 0 or not 0 <= jitter < 1 or max_entries < 1:
            raise ValueError("ttl_s > 0, 0 <= jitter < 1 and max_entries >= 1 are required")
        self._clock = clock
        self._ttl = ttl_s
        self._jitter = jitter
        self._max = max_entries
        self._rng = rng
        self._entries: dict[bytes, tuple[float, Decision, tuple[EntityUID, ...]]] = {}
        self._by_entity: dict[EntityUID, set[bytes]] = {}
        self.hits = 0
        self.misses = 0
        self.invalidations = 0

    @property
    def ttl_s(self) -> float:
        return self._ttl

    def get(self, key: bytes) -> Decision | None:
        entry = self._entries.get(key)
        if entry is not None:
            if entry[0] > self._clock.monotonic():
                self.hits += 1
                return entry[1]
            self._drop(key)
        self.misses += 1
        return None

    def put(self, key: bytes, decision: Decision, depends_on: tuple[EntityUID, ...]) -> None:
        if key in self._entries:
            # A refresh replaces the entry whole: its old dependencies must not linger in the
            # index (they would invalidate it wrongly and never be freed).
            self._drop(key)
        elif len(self._entries) >= self._max:
            self._drop(next(iter(self._entries)))
        ttl = self._ttl * (1.0 + self._jitter * (2.0 * self._rng() - 1.0))
        self._entries[key] = (self._clock.monotonic() + ttl, decision, depends_on)
        for uid in depends_on:
            self._by_entity.setdefault(uid, set()).add(key)

    def invalidate_all(self) -> None:
        self.invalidations += len(self._entries)
        self._entries.clear()
        self._by_entity.clear()

    def invalidate_entities(self, uids: Iterable[EntityUID]) -> int:
        """Drop every decision that involved one of `uids`; returns how many were dropped."""
        dropped = 0
        for uid in uids:
            for key in self._by_entity.pop(uid, set()):
                if key in self._entries:
                    self._drop(key)
                    dropped += 1
        self.invalidations += dropped
        return dropped

    def stats(self) -> CacheStats:
        return CacheStats(self.hits, self.misses, len(self._entries), self.invalidations)

    def _drop(self, key: bytes) -> None:
        _, _, depends_on = self._entries.pop(key)
        for uid in depends_on:
            keys = self._by_entity.get(uid)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_entity[uid]
