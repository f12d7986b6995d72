"""Prometheus metrics for the SLIs of DESIGN.md: every metric declared in one place
(`Metrics`), the check's `DecisionRecorder` (`CheckMetrics`), the PDP decision cache's counts
(`DecisionCacheCollector`) and `GET /metrics` (`metrics_app`); OpenTelemetry tracing
(`configure_tracing`, and `gateway_tracing` for Envoy). See docs/telemetry.md.
"""

from zerogate.telemetry._cache import DecisionCacheCollector
from zerogate.telemetry._check import CheckMetrics
from zerogate.telemetry._exposition import METRICS_PATH, metrics_app
from zerogate.telemetry._labels import MAX_POLICIES, MAX_ROUTES, REASONS
from zerogate.telemetry._metrics import LATENCY_BUCKETS, Metrics
from zerogate.telemetry._process import process_metrics
from zerogate.telemetry._revocation import RevocationTimer
from zerogate.telemetry._tracing import configure_tracing, gateway_tracing, tracer_provider

__all__ = [
    "LATENCY_BUCKETS",
    "MAX_POLICIES",
    "MAX_ROUTES",
    "METRICS_PATH",
    "REASONS",
    "CheckMetrics",
    "DecisionCacheCollector",
    "Metrics",
    "RevocationTimer",
    "configure_tracing",
    "gateway_tracing",
    "metrics_app",
    "process_metrics",
    "tracer_provider",
]
