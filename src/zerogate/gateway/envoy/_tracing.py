"""Tracing at the edge: Envoy starts a W3C trace per request and sends its spans over OTLP/gRPC.

With `Gateway.tracing` the connection manager gets Envoy's OpenTelemetry tracer. Envoy then
puts a `traceparent` on the two requests it makes for each client request: the ext_authz call
(a child span of its own, so the check service's span hangs under it) and the upstream request.
The check records that `traceparent`, so the audit entry carries the trace id Envoy started.

A client's own `traceparent`/`tracestate` are removed at the edge by default, before Envoy's
tracer reads them: otherwise anyone could pick the trace id the audit log records for their
request (to interleave it with someone else's trace), force sampling of every request they send
(a cost on the collector) or turn it off. `trust_client_context` keeps them, for a gateway
behind a trusted proxy that starts the traces itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from zerogate.gateway.envoy._endpoint import parse_endpoint

TRACING_CLUSTER = "zerogate_otlp"
TRACER = "envoy.tracers.opentelemetry"
# The W3C trace context (and Envoy's "trace this one" request header) a client may not set.
CLIENT_TRACE_HEADERS: tuple[str, ...] = ("traceparent", "tracestate", "x-client-trace-id")
EXPORT_TIMEOUT = "1s"  # an export Envoy cannot make in time is dropped, never queued forever
_OTEL_CONFIG = "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig"
# An OpenTelemetry `service.name`: printable, no spaces (it labels every span in a backend).
_SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Tracing:
    """Where Envoy sends its spans (an OTLP/gRPC collector, `http://HOST:PORT`) and how many.

    `sample_ratio` is the share of requests Envoy traces; every request still gets a trace id
    (and the audit entry records it), only unsampled spans are not exported.
    """

    collector_url: str
    service_name: str = "zerogate-gateway"
    sample_ratio: float = 1.0
    trust_client_context: bool = False

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        endpoint = parse_endpoint(self.collector_url)
        if isinstance(endpoint, str):
            found.append(("collector_url", f"the OTLP/gRPC collector: {endpoint}"))
        if not _SERVICE_NAME.fullmatch(self.service_name):
            found.append(("service_name", "1-100 letters, digits or '_.:/-', no spaces"))
        ratio = self.sample_ratio
        number = isinstance(ratio, int | float) and not isinstance(ratio, bool)
        if not number or not 0 <= ratio <= 1:  # NaN fails the comparison too
            found.append(("sample_ratio", "a number between 0 and 1"))
        return found


def build_tracing(tracing: Tracing) -> dict[str, Any]:
    """The connection manager's `tracing`: the OpenTelemetry tracer and the sampling."""
    percent = round(tracing.sample_ratio * 100, 4)
    return {
        "provider": {
            "name": TRACER,
            "typed_config": {
                "@type": _OTEL_CONFIG,
                "grpc_service": {
                    "envoy_grpc": {"cluster_name": TRACING_CLUSTER},
                    "timeout": EXPORT_TIMEOUT,
                },
                "service_name": tracing.service_name,
            },
        },
        "random_sampling": {"value": percent},
        # `x-client-trace-id` forces a trace only from a trusted client (it is stripped otherwise).
        "client_sampling": {"value": 100 if tracing.trust_client_context else 0},
        # The ext_authz call and the upstream request each get a span of their own.
        "spawn_upstream_span": True,
    }


def client_trace_strip(tracing: Tracing | None) -> tuple[str, ...]:
    """The inbound headers the edge removes for tracing: none without it or when trusted."""
    if tracing is None or tracing.trust_client_context:
        return ()
    return CLIENT_TRACE_HEADERS


__all__ = [
    "CLIENT_TRACE_HEADERS",
    "TRACER",
    "TRACING_CLUSTER",
    "Tracing",
    "build_tracing",
    "client_trace_strip",
]
