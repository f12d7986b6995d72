"""Every metric Zerogate exports, declared in one place with its labels (docs/telemetry.md).

Most are counted as things happen (`Metrics`' attributes); the rest are counts another part
keeps itself and are read at scrape time (the `*_FAMILIES` below, fed by `Metrics.watch_*`).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.registry import Collector

from zerogate.audit import AuditStats, WitnessingStats
from zerogate.gateway.envoy import GatewayStats
from zerogate.policy import CacheStats
from zerogate.telemetry._cache import DecisionCacheCollector
from zerogate.telemetry._collect import AsyncSnapshot, Family, SnapshotCollector
from zerogate.telemetry._labels import (
    AUDIT_KINDS,
    MAX_POLICIES,
    MAX_ROUTES,
    REVISION_CHARS,
    REVOCATION_WHERE,
    ROLLOUT_REASONS,
    TLS_REASONS,
    BoundedLabels,
    grant_label,
    kind_label,
    rollout_label,
    token_error_label,
)

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
# Seconds from a revocation stored to this process enforcing it; the objective is 1 s.
REVOCATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
GATEWAY_STATS_TIMEOUT_S = 1.0  # Envoy's admin API on loopback answers in milliseconds


class AuditCounts(Protocol):
    """What the audit metrics read from an open `AuditLog`."""

    @property
    def stats(self) -> AuditStats: ...

    @property
    def spooled(self) -> int: ...


# Read from Envoy's admin API before each scrape (`zerogate.gateway.envoy.gateway_stats`).
GATEWAY_FAMILIES: tuple[Family[GatewayStats], ...] = (
    Family(
        "zerogate_gateway_tls_handshakes",
        "TLS handshakes the gateway's listener completed.",
        "counter",
        (),
        lambda s: [((), s.tls_handshakes)],
    ),
    Family(
        "zerogate_gateway_tls_handshake_failures",
        "TLS handshakes the gateway's listener refused or that failed, by reason.",
        "counter",
        ("reason",),
        lambda s: [((r,), s.tls_failures.get(r, 0)) for r in TLS_REASONS],
    ),
    Family(
        "zerogate_gateway_local_decisions",
        "Requests Envoy decided without the check: allow (a valid decision token) or deny (a "
        "token on the deny list, sent back through the check).",
        "counter",
        ("decision",),
        lambda s: [(("allow",), s.local_allows), (("deny",), s.local_denies)],
    ),
    Family(
        "zerogate_gateway_check_errors",
        "Checks Envoy asked for that got no answer (unreachable or too slow): it answered 503.",
        "counter",
        (),
        lambda s: [((), s.check_errors)],
    ),
)

# Read from the open audit log's own counters at each scrape.
AUDIT_FAMILIES: tuple[Family[AuditCounts], ...] = (
    Family(
        "zerogate_audit_entries",
        "Entries durably appended to the audit log, by kind (decision, login, revocation ...).",
        "counter",
        ("kind",),
        lambda a: _by_kind(a.stats),
    ),
    Family(
        "zerogate_audit_dropped",
        "Audit entries dropped because the spool was full (only with drop_when_full).",
        "counter",
        (),
        lambda a: [((), a.stats.dropped)],
    ),
    Family(
        "zerogate_audit_spool_entries",
        "Audit entries waiting in the spool for the next group commit.",
        "gauge",
        (),
        lambda a: [((), a.spooled)],
    ),
)

# The audit log's witnesses (`zerogate.audit.WitnessingStats`): submissions by how they ended,
# and how far a quorum has cosigned. A refusal is a witness saying the log forked (LOG-22).
WITNESS_FAMILIES: tuple[Family[WitnessingStats], ...] = (
    Family(
        "zerogate_audit_witness_submissions",
        "Checkpoints sent to witnesses, by result: cosigned, conflict (size mismatch, resent), "
        "failed (no answer), refused (the witness saw an inconsistent log).",
        "counter",
        ("result",),
        lambda w: [
            (("cosigned",), w.cosigned),
            (("conflict",), w.conflicts),
            (("failed",), w.failures),
            (("refused",), w.refusals),
        ],
    ),
    Family(
        "zerogate_audit_witnessed_size",
        "The largest checkpoint a quorum of witnesses has cosigned (-1: none yet).",
        "gauge",
        (),
        lambda w: [((), w.witnessed_size)],
    ),
)

# The bundle the PDP decides under now: one series at a time (value 1).
POLICY_FAMILIES: tuple[Family[str], ...] = (
    Family(
        "zerogate_policy_revision_info",
        "The policy bundle this process's PDP decides under (its hash's first 12 characters).",
        "gauge",
        ("revision",),
        lambda revision: [((revision[:REVISION_CHARS],), 1)],
    ),
)


def _by_kind(stats: AuditStats) -> list[tuple[tuple[str, ...], float]]:
    counts = dict.fromkeys(AUDIT_KINDS, 0)
    for kind, n in stats.kinds.items():
        label = kind_label(kind)
        counts[label] = counts.get(label, 0) + n
    return [((k,), n) for k, n in counts.items()]


class Metrics:
    """One set of Zerogate's metrics in its own registry (never the global default one, so two
    services in one process, or two tests, do not share counts)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.routes = BoundedLabels(MAX_ROUTES)
        self.policies = BoundedLabels(MAX_POLICIES)
        reg = self.registry
        self._watched: dict[str, Collector] = {}
        self._watch_lock = threading.Lock()
        self._refresh: dict[str, AsyncSnapshot[Any]] = {}
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
        self.check_policy_decisions = Counter(
            "check_policy_decisions",
            "Checks by a policy that determined them (the permits of an allow, the forbids of a "
            "deny), by route and verdict: the deny ratio by policy.",
            ["policy", "route", "verdict"],
            namespace=NAMESPACE,
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
        self.token_requests_refused = Counter(
            "token_requests_refused",
            "Token requests the token endpoint refused (the client's error), by grant type and "
            "OAuth error code: a refresh_token invalid_grant is a spent or revoked refresh token.",
            ["grant", "error"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.revocation_seconds = Histogram(
            "revocation_seconds",
            "Time from a revocation (sessions ended) being stored to this process enforcing it, "
            "by where: the check's caches, or Envoy's deny list.",
            ["where"],
            namespace=NAMESPACE,
            buckets=REVOCATION_BUCKETS,
            registry=reg,
        )
        self.policy_rollout_errors = Counter(
            "policy_rollout_errors",
            "Policy activations or changes a PDP could not apply (it kept its previous bundle), "
            "by reason.",
            ["reason"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.gateway_stats_failures = Counter(
            "gateway_stats_failures",
            "Scrapes for which Envoy's admin API did not answer in time: the gateway_* metrics "
            "are missing from those.",
            namespace=NAMESPACE,
            registry=reg,
        )
        # Zero series from the start, so rates and ratios exist before the first event.
        for cached in ("true", "false"):
            self.check_pdp_decisions.labels(cached=cached)
        for result in ("success", "failure"):
            self.authentications.labels(result=result)
        for where in REVOCATION_WHERE:
            self.revocation_seconds.labels(where=where)
        for reason in ROLLOUT_REASONS:
            self.policy_rollout_errors.labels(reason=reason)

    def watch_decision_cache(self, stats: Callable[[], CacheStats]) -> None:
        """Export a PDP decision cache's counts (`DecisionCache.stats`) at every scrape; a
        later call replaces the cache watched before (a service started again)."""
        self._watch("cache", DecisionCacheCollector(stats))

    def watch_gateway(self, stats: Callable[[], Awaitable[GatewayStats | None]]) -> None:
        """Read Envoy's TLS and local-decision counts before every scrape (`stats` is
        `gateway_stats` on its admin URL); a later call replaces the Envoy watched before."""
        snapshot: AsyncSnapshot[GatewayStats] = AsyncSnapshot(
            stats, timeout_s=GATEWAY_STATS_TIMEOUT_S, on_failure=self.gateway_stats_failures.inc
        )
        self._watch("gateway", SnapshotCollector(GATEWAY_FAMILIES, lambda: snapshot.latest))
        self._refresh["gateway"] = snapshot

    def watch_audit(self, audit: AuditCounts) -> None:
        """Export an open audit log's counts (`AuditLog.stats`, `spooled`) at every scrape."""
        self._watch("audit", SnapshotCollector(AUDIT_FAMILIES, lambda: audit))

    def watch_witnessing(self, stats: Callable[[], WitnessingStats | None]) -> None:
        """Export the audit log's witness submissions (`Witnessing.stats`) at every scrape."""
        self._watch("witness", SnapshotCollector(WITNESS_FAMILIES, stats))

    def watch_policy(self, revision: Callable[[], str | None]) -> None:
        """Export the bundle hash `revision()` returns (the PDP's `bundle_hash`) at every scrape."""
        self._watch("policy", SnapshotCollector(POLICY_FAMILIES, revision))

    async def refresh(self) -> None:
        """Fetch what the scrape-time metrics read from other processes (Envoy); call before
        rendering. Each source is bounded by its timeout; a failed one is counted."""
        for snapshot in list(self._refresh.values()):
            await snapshot.refresh()

    def record_token_issued(self, grant: str) -> None:
        self.tokens_issued.labels(grant=grant_label(grant)).inc()

    def record_token_issue_error(self, grant: str) -> None:
        self.token_issue_errors.labels(grant=grant_label(grant)).inc()

    def record_token_request(self, grant: str, ok: bool, error: str) -> None:
        """The token endpoint's hook (`on_token`): issued, refused by OAuth `error`, or failed
        on the issuer's side (`server_error`)."""
        if ok:
            self.record_token_issued(grant)
        elif error == "server_error":
            self.record_token_issue_error(grant)
        else:
            self.token_requests_refused.labels(grant_label(grant), token_error_label(error)).inc()

    def record_rollout_error(self, reason: str) -> None:
        """`PolicySync`'s `on_error`: a bundle or change the PDP could not apply."""
        self.policy_rollout_errors.labels(reason=rollout_label(reason)).inc()

    def observe_revocation(self, seconds: float, where: str) -> None:
        """A revocation enforced `seconds` after it was stored (`where`: check or envoy)."""
        if where not in REVOCATION_WHERE:
            raise ValueError(f"where must be one of {REVOCATION_WHERE}, not {where!r}")
        # Clocks of two machines may disagree a little: never a negative time.
        self.revocation_seconds.labels(where=where).observe(max(seconds, 0.0))

    def _watch(self, key: str, collector: Collector) -> None:
        with self._watch_lock:
            old = self._watched.pop(key, None)
            if old is not None:
                self.registry.unregister(old)
            self.registry.register(collector)
            self._watched[key] = collector
