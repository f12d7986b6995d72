"""The overview's numbers, read from the process's metrics as Prometheus would compute them.

The check's counters only grow, so rates need two readings: `MetricsWindow` keeps a snapshot
of the totals each time it is sampled (the console samples every few seconds, and on every
read) and compares the newest with the oldest one inside the window: decisions per second,
the deny ratio (`verdict="deny"` over all, as `zerogate:check_deny:ratio_rate5m` does) and the
95th percentile latency from the histogram's bucket increases (histogram_quantile's linear
interpolation). With fewer than two snapshots there is no rate yet: the values are None.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from zerogate.clock import Clock
from zerogate.telemetry import Metrics

WINDOW_S = 60.0
_KEEP = 64  # snapshots: at one every few seconds, more than the window


@dataclass(frozen=True, slots=True)
class _Totals:
    at: float  # monotonic seconds
    decisions: float
    denies: float
    buckets: tuple[tuple[float, float], ...]  # (upper bound, cumulative count), +Inf last


@dataclass(frozen=True, slots=True)
class Rates:
    """The overview's rates over `window_s` seconds (None: not enough data yet)."""

    window_s: float | None
    decisions_per_s: float | None
    deny_ratio: float | None
    p95_latency_ms: float | None
    decisions_total: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "window_s": _round(self.window_s),
            "decisions_per_s": _round(self.decisions_per_s),
            "deny_ratio": _round(self.deny_ratio, 4),
            "p95_latency_ms": _round(self.p95_latency_ms),
            "decisions_total": self.decisions_total,
        }


class MetricsWindow:
    """Snapshots of the check's counters, and the rates between them (module docstring)."""

    def __init__(self, metrics: Metrics, *, clock: Clock, window_s: float = WINDOW_S) -> None:
        self._metrics = metrics
        self._clock = clock
        self._window_s = window_s
        self._snapshots: deque[_Totals] = deque(maxlen=_KEEP)
        self._lock = threading.Lock()

    def sample(self) -> None:
        """Take a snapshot now (cheap: a walk over the check's label sets)."""
        totals = self._read()
        with self._lock:
            self._snapshots.append(totals)

    def rates(self) -> Rates:
        """Sample, then compare with the oldest snapshot inside the window."""
        self.sample()
        with self._lock:
            newest = self._snapshots[-1]
            inside = [s for s in self._snapshots if newest.at - s.at <= self._window_s]
        oldest = inside[0]
        span = newest.at - oldest.at
        total = int(newest.decisions)
        if span <= 0:
            return Rates(None, None, None, None, total)
        decided = newest.decisions - oldest.decisions
        denied = newest.denies - oldest.denies
        ratio = denied / decided if decided > 0 else None
        return Rates(span, decided / span, ratio, _p95(oldest.buckets, newest.buckets), total)

    def _read(self) -> _Totals:
        decisions = denies = 0.0
        for family in self._metrics.check_decisions.collect():
            for s in family.samples:
                if s.name.endswith("_total"):
                    decisions += s.value
                    if s.labels.get("verdict") == "deny":
                        denies += s.value
        buckets: dict[float, float] = {}
        for family in self._metrics.check_duration.collect():
            for s in family.samples:
                if s.name.endswith("_bucket"):
                    bound = float(s.labels["le"])
                    buckets[bound] = buckets.get(bound, 0.0) + s.value
        return _Totals(self._clock.monotonic(), decisions, denies, tuple(sorted(buckets.items())))


def _p95(
    before: tuple[tuple[float, float], ...], after: tuple[tuple[float, float], ...]
) -> float | None:
    """The 95th percentile in milliseconds of the observations between two bucket readings."""
    earlier = dict(before)
    increases = [(bound, count - earlier.get(bound, 0.0)) for bound, count in after]
    if not increases or increases[-1][1] <= 0:
        return None
    rank = 0.95 * increases[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in increases:
        if count >= rank:
            if math.isinf(bound):
                return lower * 1000  # above the last finite bucket: report its bound
            share = (rank - below) / (count - below) if count > below else 1.0
            return (lower + (bound - lower) * share) * 1000
        lower, below = bound, count
    return None


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


__all__ = ["WINDOW_S", "MetricsWindow", "Rates"]
