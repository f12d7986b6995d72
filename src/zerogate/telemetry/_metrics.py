"""Every metric Zerogate exports, declared in one place with its labels (docs/telemetry.md)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram

from zerogate.policy import CacheStats
from zerogate.telemetry._cache import DecisionCacheCollector
from zerogate.telemetry._labels import RouteLabels, grant_label

NAMESPACE = "zerogate"

# Seconds. The check answers from memory in well under a millisecond when the decision is
# cached; the PDP and the store add milliseconds. 50 ms is the p95 objective (deploy/prometheus).
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class Metrics:
    """One set of Zerogate's metrics in its own registry (never the global default one, so two
    services in one process, or two tests, do not share counts)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.routes = RouteLabels()
        reg = self.registry
        self._cache: DecisionCacheCollector | None = None
        self._cache_lock = threading.Lock()
        self.check_decisions = Counter(
            "check_decisions",
            "Checks the gateway answered, by route, verdict and reason code.",
            ["route", "verdict", "reason"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.check_duration = Histogram(
            "check_decision_duration_seconds",
            "Time to answer one check, PDP included, by route and verdict.",
            ["route", "verdict"],
            namespace=NAMESPACE,
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.check_pdp_decisions = Counter(
            "check_pdp_decisions",
            "PDP decisions a check used, by whether the PDP answered from its decision cache.",
            ["cached"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.authentications = Counter(
            "authentications",
            "Credentials the check accepted (success) or refused (failure); requests without any "
            "credentials are not counted.",
            ["result"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.tokens_issued = Counter(
            "tokens_issued",
            "Tokens the token endpoint issued, by OAuth grant type.",
            ["grant"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.token_issue_errors = Counter(
            "token_issue_errors",
            "Token requests that failed on the issuer's side (not the client's), by grant type.",
            ["grant"],
            namespace=NAMESPACE,
            registry=reg,
        )
        # Zero series from the start, so rates and ratios exist before the first event.
        for cached in ("true", "false"):
            self.check_pdp_decisions.labels(cached=cached)
        for result in ("success", "failure"):
            self.authentications.labels(result=result)

    def watch_decision_cache(self, stats: Callable[[], CacheStats]) -> None:
        """Export a PDP decision cache's counts (`DecisionCache.stats`) at every scrape; a
        later call replaces the cache watched before (a service started again)."""
        with self._cache_lock:
            if self._cache is not None:
                self.registry.unregister(self._cache)
            self._cache = DecisionCacheCollector(stats)
            self.registry.register(self._cache)

    def record_token_issued(self, grant: str) -> None:
        self.tokens_issued.labels(grant=grant_label(grant)).inc()

    def record_token_issue_error(self, grant: str) -> None:
        self.token_issue_errors.labels(grant=grant_label(grant)).inc()
