"""The PDP decision cache's own counts, read at scrape time (the cache keeps them itself)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from zerogate.policy import CacheStats


class DecisionCacheCollector(Collector):
    """Exports `stats()` of a PDP `DecisionCache`: nothing is counted twice on the hot path."""

    def __init__(self, stats: Callable[[], CacheStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self._stats()
        for name, help_text, value in (
            ("hits", "PDP decisions answered from the decision cache.", s.hits),
            ("misses", "PDP decisions the cache did not have (evaluated).", s.misses),
            (
                "invalidations",
                "Cached decisions dropped by events or activations.",
                s.invalidations,
            ),
        ):
            yield CounterMetricFamily(f"zerogate_pdp_decision_cache_{name}", help_text, value=value)
        yield GaugeMetricFamily(
            "zerogate_pdp_decision_cache_entries", "Decisions in the cache now.", value=s.entries
        )
