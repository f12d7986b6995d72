"""A test OTLP/gRPC trace collector: a real gRPC server on loopback that keeps every span sent.

It implements the OpenTelemetry collector's `TraceService/Export` from `opentelemetry-proto`,
so Envoy's OpenTelemetry tracer and the Python SDK's OTLP exporter talk to it as they would
to a real collector.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass(frozen=True)
class CollectedSpan:
    """One span as it arrived: ids in lowercase hex, as a `traceparent` spells them."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str  # "" for a root span
    kind: int
    attributes: dict[str, Any]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


@dataclass
class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    spans: list[CollectedSpan] = field(default_factory=list)
    url: str = ""  # http://127.0.0.1:PORT once serving
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            service = str(resource.get("service.name", ""))
            for scope_spans in resource_spans.scope_spans:
                self.spans += [
                    CollectedSpan(
                        service=service,
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        kind=span.kind,
                        attributes={a.key: _value(a.value) for a in span.attributes},
                    )
                    for span in scope_spans.spans
                ]
        self.arrived.set()
        return trace_service_pb2.ExportTraceServiceResponse()

    def named(self, name: str) -> list[CollectedSpan]:
        return [s for s in self.spans if s.name == name]

    def of(self, service: str) -> list[CollectedSpan]:
        return [s for s in self.spans if s.service == service]

    async def until(self, found: Callable[[Collector], bool]) -> None:
        """Wait until `found(self)`; the test's own timeout bounds the wait."""
        while not found(self):
            self.arrived.clear()
            await self.arrived.wait()


@asynccontextmanager
async def collecting() -> AsyncIterator[Collector]:
    """A collector serving on a loopback port the OS picks; stopped when the block ends."""
    collector = Collector()
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    collector.url = f"http://127.0.0.1:{port}"
    try:
        yield collector
    finally:
        await server.stop(grace=None)
