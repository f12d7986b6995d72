"""OpenTelemetry tracing of a Zerogate process: the SDK with its OTLP/gRPC exporter, and the
matching tracer for the gateway's Envoy (docs/telemetry.md "Tracing").

Only this module knows the SDK. The check service creates its spans through the OpenTelemetry
API (`zerogate.check`, `zerogate.pdp.decide`): they go nowhere, at no cost, until
`configure_tracing` has installed a provider, which `zerogate up` does before it builds the
check when `[telemetry] otlp_endpoint` is set.
"""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from zerogate._version import __version__
from zerogate.config import TelemetrySettings
from zerogate.gateway.envoy import Tracing

GATEWAY_SUFFIX = "-gateway"  # Envoy's spans: a service of their own beside the check's
EXPORT_TIMEOUT_S = 5.0


def tracer_provider(settings: TelemetrySettings) -> TracerProvider | None:
    """A provider exporting to `settings.otlp_endpoint` in batches, or None when tracing is off.

    Sampling follows the parent when there is one (Envoy's decision travels in `traceparent`),
    else `sample_ratio` of new traces. The resource is built from the settings only, never
    from `OTEL_*` variables, so what `zerogate.toml` says is what is sent.
    """
    if not settings.enabled:
        return None
    resource = Resource({SERVICE_NAME: settings.service_name, SERVICE_VERSION: __version__})
    provider = TracerProvider(
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
        resource=resource,
        shutdown_on_exit=False,  # the caller shuts it down, flushing the last spans
    )
    # Imported only when tracing is on: the exporter needs opentelemetry-proto, whose files
    # another package (xds-protos) can overwrite with an old copy (see the Makefile).
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(
        endpoint=settings.otlp_endpoint, insecure=True, timeout=EXPORT_TIMEOUT_S
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def configure_tracing(settings: TelemetrySettings) -> Callable[[], None]:
    """Install this process's tracer provider; returns the shutdown (flush and stop) callable.

    Tracing off: nothing is installed and the callable does nothing. OpenTelemetry allows one
    provider per process, so configuring it twice is a bug (RuntimeError), not a silent no-op.
    """
    provider = tracer_provider(settings)
    if provider is None:
        return _nothing
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        raise RuntimeError("OpenTelemetry tracing is already configured in this process")
    trace.set_tracer_provider(provider)
    return provider.shutdown


def gateway_tracing(settings: TelemetrySettings) -> Tracing | None:
    """The gateway's Envoy tracer for these settings: the same collector and sampling."""
    if not settings.enabled:
        return None
    return Tracing(
        collector_url=settings.otlp_endpoint,
        service_name=settings.service_name + GATEWAY_SUFFIX,
        sample_ratio=settings.sample_ratio,
        trust_client_context=settings.trust_client_traces,
    )


def _nothing() -> None:
    return None


__all__ = ["configure_tracing", "gateway_tracing", "tracer_provider"]
