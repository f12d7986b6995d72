"""The check's OpenTelemetry spans: `zerogate.check`, under the proxy's span, and
`zerogate.pdp.decide` inside it (docs/telemetry.md "Tracing").

API only: where spans go is the process's business (`zerogate.telemetry` installs the SDK).
The parent comes from the request's W3C `traceparent`, which Envoy sets on its ext_authz call
(the edge removes a client's own unless told to trust it); a missing or malformed one starts a
new trace, never an error. Attributes name the route and the decision, never a credential or
who the principal is: a trace backend is not the audit log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from zerogate.gateway.check._limits import MAX_ID_CHARS
from zerogate.gateway.check._model import CheckRequest, CheckResult, Verdict
from zerogate.policy import Decision

CHECK_SPAN = "zerogate.check"
DECIDE_SPAN = "zerogate.pdp.decide"
INSTRUMENTATION = "zerogate.gateway.check"
_W3C = TraceContextTextMapPropagator()


def process_tracer() -> Tracer | None:
    """The process's tracer if a provider is installed (`zerogate up` with tracing on), else
    None: the check then makes no spans at all, which is what keeps tracing-off free."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    return provider.get_tracer(INSTRUMENTATION)


def parent_of(req: CheckRequest) -> Context | None:
    """The proxy's span from `traceparent`; None (a new trace) when absent or malformed."""
    value = req.traceparent
    if not value or len(value) > MAX_ID_CHARS:
        return None
    context = _W3C.extract({"traceparent": value})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def unsampled(parent: Context | None) -> bool:
    """The proxy traces this request but does not sample it: the check makes no spans either
    (what a parent-based sampler would decide anyway, without paying for a span)."""
    if parent is None:
        return False
    return not trace.get_current_span(parent).get_span_context().trace_flags.sampled


def start_check(tracer: Tracer, parent: Context | None) -> trace.Span:
    return tracer.start_span(CHECK_SPAN, context=parent, kind=SpanKind.SERVER)


def current(span: trace.Span) -> AbstractContextManager[trace.Span]:
    """`span` as the current span while the check runs (its PDP span, and any other
    instrumentation's, nest under it); ended by `end_check`, not here."""
    return trace.use_span(
        span, end_on_exit=False, record_exception=False, set_status_on_exception=False
    )


def end_check(
    span: trace.Span, req: CheckRequest, result: CheckResult | None, *, cached: bool
) -> None:
    """Describe the outcome and end the span (`result` None: the check was cancelled)."""
    attributes: dict[str, str | bool | int] = {
        "http.request.method": req.method,
        "zerogate.route": req.route or "",
    }
    if result is None:
        span.set_status(Status(StatusCode.ERROR, "cancelled"))
    else:
        attributes |= {
            "http.response.status_code": result.status,
            "zerogate.decision": str(result.verdict),
            "zerogate.decision_id": str(result.decision_id),
            "zerogate.reason": result.reason,
            "zerogate.cached": cached,
        }
        if result.verdict is Verdict.ERROR:
            span.set_status(Status(StatusCode.ERROR, result.reason))
    span.set_attributes(attributes)
    span.end()


@contextmanager
def decide_span(tracer: Tracer) -> Iterator[trace.Span]:
    """`zerogate.pdp.decide` under the current span; a failure is marked by its type only
    (an exception's message may quote the request)."""
    span = tracer.start_span(DECIDE_SPAN, kind=SpanKind.INTERNAL)
    try:
        yield span
    except Exception as exc:
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        span.end()


def traceparent_of(span: trace.Span) -> str | None:
    """The W3C `traceparent` naming `span`, for the decision record (and so the audit entry)."""
    context = span.get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def describe_decision(span: trace.Span, decision: Decision) -> None:
    span.set_attributes(
        {
            "zerogate.decision": str(decision.outcome),
            "zerogate.decision_id": str(decision.decision_id),
            "zerogate.cached": decision.cached,
            "zerogate.policy_ids": [str(p) for p in decision.policy_ids],
            "zerogate.policy_revision": str(decision.bundle_hash),
        }
    )


__all__ = [
    "CHECK_SPAN",
    "DECIDE_SPAN",
    "current",
    "decide_span",
    "describe_decision",
    "end_check",
    "parent_of",
    "process_tracer",
    "start_check",
    "traceparent_of",
    "unsampled",
]
