"""The check's spans (real checks over a real store and PDP, spans kept by the SDK's in-memory
exporter), the `[telemetry]` settings, and `configure_tracing` in a process of its own exporting
to the test OTLP/gRPC collector."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.gateway.check._support import CheckWorld, make_world, request
from tests.policy._org import example_bundle
from tests.telemetry._collector import collecting
from zerogate.app._audit_service import decision_entry
from zerogate.clock import FixedClock
from zerogate.config import TelemetrySettings, load_settings
from zerogate.errors import ConfigError
from zerogate.gateway.check import Checker, CheckRecord
from zerogate.policy import PDP, Decision, DecisionCache, Request
from zerogate.store import Store, open_store
from zerogate.telemetry import configure_tracing, tracer_provider

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
SAMPLED = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture
def store(make_database: Callable[..., str]) -> Iterator[Store]:
    opened = open_store(make_database("sqlite"))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def world(store: Store) -> CheckWorld:
    return make_world(store)


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def traced(world: CheckWorld, spans: InMemorySpanExporter) -> tuple[Checker, list[CheckRecord]]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    records: list[CheckRecord] = []
    checker = world.checker_with(on_decision=records.append, tracer=provider.get_tracer("test"))
    return checker, records


def named(spans: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.name == name]


def trace_id_of(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def test_check_span_continues_the_proxys_trace_and_holds_the_pdp_span(
    world: CheckWorld, spans: InMemorySpanExporter
) -> None:
    checker, records = traced(world, spans)
    cookie = world.sign_in(world.add_user("alice", "employees"))
    result = asyncio.run(checker.check(request(cookie=cookie, traceparent=SAMPLED)))
    assert result.allowed
    (check,) = named(spans, "zerogate.check")
    (decide,) = named(spans, "zerogate.pdp.decide")
    assert check.kind is SpanKind.SERVER
    assert check.parent is not None
    assert check.parent.is_remote
    assert f"{check.parent.span_id:016x}" == PARENT_ID
    assert trace_id_of(check) == trace_id_of(decide) == TRACE_ID
    assert check.context is not None
    assert decide.parent is not None
    assert decide.parent.span_id == check.context.span_id
    (record,) = records
    assert check.attributes is not None
    assert dict(check.attributes) == {
        "http.request.method": "GET",
        "http.response.status_code": 200,
        "zerogate.route": "wiki-web",
        "zerogate.decision": "allow",
        "zerogate.decision_id": record.decision_id,
        "zerogate.reason": "allowed",
        "zerogate.cached": False,
    }
    # The record names the check's span: the proxy's trace, so the audit entry's trace id.
    assert record.traceparent == f"00-{TRACE_ID}-{check.context.span_id:016x}-01"
    assert decision_entry(record).trace_id == TRACE_ID

    again = asyncio.run(checker.check(request(cookie=cookie, traceparent=SAMPLED)))
    assert again.allowed
    assert named(spans, "zerogate.check")[-1].attributes == {
        **dict(check.attributes),
        "zerogate.decision_id": records[-1].decision_id,
        "zerogate.cached": True,  # the PDP answered from its decision cache
    }


def test_check_span_of_a_denial_says_so_without_naming_the_principal(
    world: CheckWorld, spans: InMemorySpanExporter
) -> None:
    checker, records = traced(world, spans)
    cookie = world.sign_in(world.add_user("bob", "contractors"))
    result = asyncio.run(checker.check(request("admin-ui", cookie=cookie, traceparent=SAMPLED)))
    assert result.status == 403
    (check,) = named(spans, "zerogate.check")
    (decide,) = named(spans, "zerogate.pdp.decide")
    assert check.attributes is not None
    assert decide.attributes is not None
    assert check.attributes["zerogate.decision"] == "deny"
    assert decide.attributes["zerogate.decision_id"] == records[0].decision_id
    session_token = cookie.rsplit("=", 1)[1]
    for span in (check, decide):
        text = repr(dict(span.attributes or {}))
        assert "bob" not in text
        assert session_token not in text


def test_check_without_credentials_has_no_pdp_span(
    world: CheckWorld, spans: InMemorySpanExporter
) -> None:
    checker, records = traced(world, spans)
    result = asyncio.run(checker.check(request(traceparent=SAMPLED)))
    assert result.status == 302  # a browser is sent to sign in; the PDP is never asked
    (check,) = named(spans, "zerogate.check")
    assert check.attributes is not None
    assert check.attributes["zerogate.decision"] == "unauthenticated"
    assert named(spans, "zerogate.pdp.decide") == []
    assert decision_entry(records[0]).trace_id == TRACE_ID


def test_check_makes_no_spans_for_a_trace_the_proxy_does_not_sample(
    world: CheckWorld, spans: InMemorySpanExporter
) -> None:
    checker, records = traced(world, spans)
    cookie = world.sign_in(world.add_user("alice", "employees"))
    unsampled = f"00-{TRACE_ID}-{PARENT_ID}-00"
    assert asyncio.run(checker.check(request(cookie=cookie, traceparent=unsampled))).allowed
    assert spans.get_finished_spans() == ()
    (record,) = records
    assert record.traceparent == unsampled  # the audit entry still has the trace id
    assert decision_entry(record).trace_id == TRACE_ID


class BrokenPDP(PDP):
    def decide(self, request: Request, *, explain: bool = True) -> Decision:
        raise RuntimeError("engine crashed for alice@example.test")


def test_a_failing_pdp_marks_both_spans_by_error_type_only(
    store: Store, spans: InMemorySpanExporter
) -> None:
    clock = FixedClock()
    pdp = BrokenPDP(example_bundle(), clock=clock, cache=DecisionCache(clock=clock))
    world = make_world(store, clock=clock, pdp=pdp)
    checker, _ = traced(world, spans)
    cookie = world.sign_in(world.add_user("alice", "employees"))
    result = asyncio.run(checker.check(request(cookie=cookie, traceparent=SAMPLED)))
    assert result.status == 503  # fail closed, traced or not
    (check,) = named(spans, "zerogate.check")
    (decide,) = named(spans, "zerogate.pdp.decide")
    assert check.status.status_code is StatusCode.ERROR
    assert check.status.description == "decision_unavailable"
    assert decide.status.status_code is StatusCode.ERROR
    assert decide.status.description == "RuntimeError"
    assert decide.events == ()  # no exception event: its message may quote the request


MALFORMED = [
    "",
    "garbage",
    f"00-{'0' * 32}-{PARENT_ID}-01",  # the all-zero trace id is invalid
    f"00-{TRACE_ID}-{'0' * 16}-01",  # and so is the all-zero span id
    f"ff-{TRACE_ID}-{PARENT_ID}-01",  # version 255 is forbidden
    f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",
    f"00-{TRACE_ID}-{PARENT_ID}-01-extra",
    SAMPLED + " " * 300,  # longer than the check accepts for an id
    "00-\u00e9" * 20,
]


@pytest.mark.parametrize("traceparent", MALFORMED)
def test_a_malformed_traceparent_starts_a_new_trace_and_breaks_nothing(
    traceparent: str, world: CheckWorld, spans: InMemorySpanExporter
) -> None:
    checker, records = traced(world, spans)
    cookie = world.sign_in(world.add_user("alice", "employees"))
    result = asyncio.run(checker.check(request(cookie=cookie, traceparent=traceparent)))
    too_long = len(traceparent) > 256
    assert result.status == (431 if too_long else 200)  # an oversized id is refused, as before
    (check,) = named(spans, "zerogate.check")
    assert check.parent is None  # a root span: nothing taken from the bad header
    assert trace_id_of(check) != TRACE_ID
    (record,) = records
    # The record names the new trace (the audit entry has a trace id either way).
    assert decision_entry(record).trace_id == trace_id_of(check)


# One world for every example: each builds its own checker, records and spans.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(traceparent=st.text(max_size=80) | st.from_regex(r"[0-9a-f-]{50,60}", fullmatch=True))
def test_any_traceparent_gives_an_answer_and_a_trace_id(
    traceparent: str, world: CheckWorld
) -> None:
    spans = InMemorySpanExporter()
    checker, records = traced(world, spans)
    result = asyncio.run(checker.check(request(traceparent=traceparent)))
    assert result.status in (302, 400, 431)  # unauthenticated (or a header the check refuses)
    (check,) = named(spans, "zerogate.check")
    assert decision_entry(records[0]).trace_id == trace_id_of(check)


# Settings


def test_telemetry_settings_default_to_tracing_off() -> None:
    settings_ = load_settings(None, environ={})
    assert settings_.telemetry == TelemetrySettings()
    assert not settings_.telemetry.enabled
    assert tracer_provider(settings_.telemetry) is None
    configure_tracing(settings_.telemetry)()  # off: installs nothing, stops nothing


def test_telemetry_settings_load_from_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text('[telemetry]\notlp_endpoint = "http://127.0.0.1:4317"\nsample_ratio = 0.1\n')
    env = {"ZEROGATE_TELEMETRY__SERVICE_NAME": "zg-eu-1"}
    loaded = load_settings(path, environ=env).telemetry
    assert loaded == TelemetrySettings(
        otlp_endpoint="http://127.0.0.1:4317", sample_ratio=0.1, service_name="zg-eu-1"
    )
    assert loaded.enabled


def test_telemetry_settings_report_every_problem_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text(
        '[telemetry]\notlp_endpoint = "https://collector:4317/v1/traces"\n'
        'sample_ratio = 2\nservice_name = "zero gate"\n'
    )
    with pytest.raises(ConfigError) as refused:
        load_settings(path, environ={"ZEROGATE_TELEMETRY__TRUST_CLIENT_TRACES": "maybe"})
    found = [(d.code, d.loc.rsplit(":", 1)[-1]) for d in refused.value.details]
    assert sorted(found) == [
        ("config_invalid", "telemetry.otlp_endpoint"),
        ("config_invalid", "telemetry.sample_ratio"),
        ("config_invalid", "telemetry.service_name"),
        ("config_type", "ZEROGATE_TELEMETRY__TRUST_CLIENT_TRACES"),
    ]


@pytest.mark.parametrize(
    "endpoint",
    ["127.0.0.1:4317", "http://127.0.0.1", "http://127.0.0.1:0", "http://u:p@h:4317", "grpc://h:1"],
)
def test_telemetry_settings_want_an_http_host_port_endpoint(endpoint: str) -> None:
    assert [k for k, _ in TelemetrySettings(otlp_endpoint=endpoint).problems()] == ["otlp_endpoint"]


# configure_tracing, in a process of its own (OpenTelemetry allows one provider per process)

_EXPORTER = textwrap.dedent(
    """
    import sys
    from opentelemetry import trace
    from zerogate.config import TelemetrySettings
    from zerogate.telemetry import configure_tracing

    settings = TelemetrySettings(otlp_endpoint=sys.argv[1], service_name="zg-test")
    shutdown = configure_tracing(settings)
    with trace.get_tracer("probe").start_as_current_span("probe.work") as span:
        span.set_attribute("probe.n", 7)
    try:
        configure_tracing(settings)
    except RuntimeError:
        print("configured once")
    shutdown()  # flushes: nothing else made the batch go out
    """
)


def test_configure_tracing_installs_a_provider_exporting_to_the_collector() -> None:
    async def scenario() -> tuple[str, list[tuple[str, str, object]]]:
        async with collecting() as collector:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _EXPORTER,
                collector.url,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            async with asyncio.timeout(60):
                output, _ = await process.communicate()
            assert process.returncode == 0, output.decode()
            return output.decode(), [
                (s.service, s.name, s.attributes.get("probe.n")) for s in collector.spans
            ]

    output, spans = asyncio.run(scenario())
    assert "configured once" in output
    assert spans == [("zg-test", "probe.work", 7)]
