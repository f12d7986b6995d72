"""Tracing through the gateway: the generated Envoy config, and a real Envoy, the real check and
a test OTLP/gRPC collector showing Envoy -> check -> PDP spans in one trace, the trace id the
audit entry records.

Envoy, the check service, the upstream stand-in and the collector run on loopback ports the OS
handed out; Envoy is stopped by its own PID, the servers when each test ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from envoy_support import Upstream, make_gateway, run

from tests._serve import loopback_socket, serving
from tests.gateway.check._support import APP_HOST, CheckWorld, make_world
from tests.telemetry._collector import CollectedSpan, Collector, collecting
from zerogate.app._audit_service import decision_entry
from zerogate.config import TelemetrySettings
from zerogate.errors import ConfigError
from zerogate.gateway.check import CheckRecord, start_grpc_check_server
from zerogate.gateway.check import create_app as create_check_app
from zerogate.gateway.envoy import (
    CLIENT_TRACE_HEADERS,
    TRACING_CLUSTER,
    EnvoyProcess,
    Gateway,
    Route,
    Tracing,
    build_clusters,
    build_listener,
    check_config,
)
from zerogate.store import Store, open_store
from zerogate.telemetry import gateway_tracing, tracer_provider

pytestmark = pytest.mark.e2e

CHECK = "http://127.0.0.1:9191"
UP = "http://127.0.0.1:8081"
COLLECTOR = "http://127.0.0.1:4317"
CLIENT_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN_ID = "b7ad6b7169203331"
CLIENT_TRACEPARENT = f"00-{CLIENT_TRACE_ID}-{CLIENT_SPAN_ID}-01"
ENVOY_SERVICE = "zerogate-gateway"
# Envoy's span for its ext_authz call, by check protocol
AUTHZ_SPANS = {
    "http": "async zerogate_authz egress",
    "grpc": "async envoy.service.auth.v3.Authorization.Check egress",
}


def hcm(gateway: Gateway) -> dict[str, Any]:
    return dict(build_listener(gateway)["filter_chains"][0]["filters"][0]["typed_config"])


def stripped(gateway: Gateway) -> set[str]:
    (early,) = hcm(gateway)["early_header_mutation_extensions"]
    return {m["remove"] for m in early["typed_config"]["mutations"] if "remove" in m}


def wiki(upstream_url: str = UP) -> Route:
    return Route("wiki", hosts=(APP_HOST,), upstream=upstream_url, resource_id="wiki-web")


# The generated config


def test_tracing_puts_the_opentelemetry_tracer_on_the_connection_manager() -> None:
    tracing = Tracing(collector_url=COLLECTOR, service_name="zg-edge", sample_ratio=0.25)
    gateway = make_gateway(CHECK, wiki(), tracing=tracing)
    config = hcm(gateway)["tracing"]
    provider = config["provider"]
    assert provider["name"] == "envoy.tracers.opentelemetry"
    assert provider["typed_config"]["grpc_service"]["envoy_grpc"] == {
        "cluster_name": TRACING_CLUSTER
    }
    assert provider["typed_config"]["service_name"] == "zg-edge"
    assert config["random_sampling"] == {"value": 25.0}
    assert config["client_sampling"] == {"value": 0}  # x-client-trace-id forces nothing
    (collector,) = [c for c in build_clusters(gateway) if c["name"] == TRACING_CLUSTER]
    (options,) = collector["typed_extension_protocol_options"].values()
    assert options["explicit_http_config"] == {"http2_protocol_options": {}}  # OTLP/gRPC
    address = collector["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert address["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 4317}


def test_tracing_strips_a_clients_trace_context_unless_trusted() -> None:
    untrusted = make_gateway(CHECK, wiki(), tracing=Tracing(collector_url=COLLECTOR))
    assert set(CLIENT_TRACE_HEADERS) <= stripped(untrusted)
    trusted = Tracing(collector_url=COLLECTOR, trust_client_context=True)
    trusting = make_gateway(CHECK, wiki(), tracing=trusted)
    assert not set(CLIENT_TRACE_HEADERS) & stripped(trusting)
    assert hcm(trusting)["tracing"]["client_sampling"] == {"value": 100}


def test_tracing_off_leaves_the_config_as_it_was() -> None:
    gateway = make_gateway(CHECK, wiki())
    assert "tracing" not in hcm(gateway)
    assert TRACING_CLUSTER not in {c["name"] for c in build_clusters(gateway)}
    assert not set(CLIENT_TRACE_HEADERS) & stripped(gateway)  # passed as before


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_tracing_config_passes_envoy_validation(protocol: str) -> None:
    tracing = Tracing(collector_url="http://otel-collector.internal:4317", sample_ratio=0.01)
    run(check_config(make_gateway(CHECK, wiki(), tracing=tracing, check_protocol=protocol)))


def test_tracing_settings_are_validated_with_every_problem_at_once() -> None:
    bad = Tracing(collector_url="https://collector:4317", service_name="a b", sample_ratio=1.5)
    with pytest.raises(ConfigError) as refused:
        make_gateway(CHECK, wiki(), tracing=bad)
    assert [(d.code, d.loc) for d in refused.value.details] == [
        ("gateway_invalid", "tracing.collector_url"),
        ("gateway_invalid", "tracing.sample_ratio"),
        ("gateway_invalid", "tracing.service_name"),
    ]
    with pytest.raises(ConfigError):
        make_gateway(CHECK, wiki(), tracing=Tracing(collector_url=COLLECTOR, sample_ratio=-0.1))


def test_gateway_tracing_follows_the_telemetry_settings() -> None:
    assert gateway_tracing(TelemetrySettings()) is None  # off by default
    on = TelemetrySettings(otlp_endpoint=COLLECTOR, sample_ratio=0.5, service_name="zg")
    assert gateway_tracing(on) == Tracing(
        collector_url=COLLECTOR, service_name="zg-gateway", sample_ratio=0.5
    )


# A real Envoy, the real check, a real collector


@pytest.fixture
def world(make_database: Callable[..., str]) -> Iterator[CheckWorld]:
    store: Store = open_store(make_database("sqlite"))
    try:
        yield make_world(store)
    finally:
        store.close()


@contextlib.asynccontextmanager
async def traced_gateway(
    world: CheckWorld,
    upstream_url: str,
    tmp_path: Path,
    collector: Collector,
    *,
    trust_client_context: bool = False,
    check_protocol: str = "http",
) -> AsyncIterator[tuple[httpx.AsyncClient, list[CheckRecord], Callable[[], Awaitable[bool]]]]:
    """Envoy tracing to `collector` in front of the real check, whose spans go there too.

    Yields a client for Envoy, the check's decision records, and a flush for the check's spans
    (in a thread: the collector answers on this event loop).
    """
    settings = TelemetrySettings(
        otlp_endpoint=collector.url, trust_client_traces=trust_client_context
    )
    provider = tracer_provider(settings)
    assert provider is not None
    records: list[CheckRecord] = []
    checker = world.checker_with(on_decision=records.append, tracer=provider.get_tracer("test"))
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(provider.shutdown)
        if check_protocol == "grpc":
            server = await start_grpc_check_server(checker)
            stack.push_async_callback(server.aclose)
            authz_url = server.url
        else:
            sock, authz_url = stack.enter_context(loopback_socket())
            stack.enter_context(serving(create_check_app(checker), sock))
        gateway = make_gateway(
            authz_url,
            wiki(upstream_url),
            check_protocol=check_protocol,
            tracing=gateway_tracing(settings),
        )
        envoy = EnvoyProcess(gateway, workdir=tmp_path / "envoy")
        await envoy.start()
        stack.push_async_callback(envoy.aclose)
        base = f"http://127.0.0.1:{gateway.listen_port}"
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=base, trust_env=False, timeout=10)
        )
        yield http, records, lambda: asyncio.to_thread(provider.force_flush)


def trace_of(traceparent: str | None) -> str:
    assert traceparent is not None
    version, trace_id, _span_id, _flags = traceparent.split("-")
    assert version == "00"
    return trace_id


def has_whole_trace(collector: Collector) -> bool:
    """Envoy's ingress span (it ends last) and both of the check's spans have arrived."""
    names = {s.name for s in collector.spans}
    return {"ingress", "zerogate.check", "zerogate.pdp.decide"} <= names


def one(spans: list[CollectedSpan]) -> CollectedSpan:
    assert len(spans) == 1, spans
    return spans[0]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_envoy_check_and_pdp_spans_share_the_trace_id_the_audit_entry_records(
    protocol: str, tmp_path: Path, world: CheckWorld, upstream: Upstream, upstream_url: str
) -> None:
    alice = world.add_user("alice", "engineering", "employees")
    cookie = world.sign_in(alice)
    session_token = cookie.rsplit("=", 1)[1]

    async def scenario() -> tuple[httpx.Response, list[CheckRecord], Collector]:
        async with collecting() as collector:
            async with traced_gateway(
                world, upstream_url, tmp_path, collector, check_protocol=protocol
            ) as (http, records, flush):
                headers = {"host": APP_HOST, "cookie": cookie, "traceparent": CLIENT_TRACEPARENT}
                response = await http.get("/pages/Home", headers=headers)
                await flush()
                await collector.until(has_whole_trace)
            return response, records, collector

    response, records, collector = run(scenario())
    assert response.status_code == 200
    (record,) = records
    assert record.verdict == "allow"

    ingress = one(collector.named("ingress"))
    authz = one(collector.named(AUTHZ_SPANS[protocol]))
    check = one(collector.named("zerogate.check"))
    decide = one(collector.named("zerogate.pdp.decide"))
    trace_id = ingress.trace_id
    # One trace, started by Envoy (the client's traceparent was removed at the edge) ...
    assert trace_id != CLIENT_TRACE_ID
    assert ingress.parent_span_id == ""
    assert {s.trace_id for s in (ingress, authz, check, decide)} == {trace_id}
    assert (ingress.service, authz.service, check.service) == (
        ENVOY_SERVICE,
        ENVOY_SERVICE,
        "zerogate",
    )
    # ... nested Envoy -> ext_authz call -> check -> PDP.
    assert authz.parent_span_id == ingress.span_id
    assert check.parent_span_id == authz.span_id
    assert decide.parent_span_id == check.span_id
    # The decision record, and so the audit entry, carry that trace id.
    assert trace_of(record.traceparent) == trace_id
    assert decision_entry(record).trace_id == trace_id
    # The upstream request continues the same trace.
    (seen,) = upstream.seen
    assert trace_of(seen.one("traceparent")) == trace_id

    assert check.attributes["zerogate.route"] == "wiki-web"
    assert check.attributes["zerogate.decision"] == "allow"
    assert check.attributes["zerogate.decision_id"] == record.decision_id
    assert check.attributes["zerogate.cached"] is False
    assert decide.attributes["zerogate.decision_id"] == record.decision_id
    assert decide.attributes["zerogate.policy_ids"] == list(record.policy_ids)
    # No credential, and not who it was, in any span the check sent.
    values = repr([check.attributes, decide.attributes])
    assert session_token not in values
    assert "alice" not in values


def test_envoy_continues_a_trusted_clients_trace(
    tmp_path: Path, world: CheckWorld, upstream: Upstream, upstream_url: str
) -> None:
    cookie = world.sign_in(world.add_user("alice", "employees"))

    async def scenario() -> tuple[list[httpx.Response], list[CheckRecord], Collector]:
        async with collecting() as collector:
            async with traced_gateway(
                world, upstream_url, tmp_path, collector, trust_client_context=True
            ) as (http, records, flush):
                responses = [
                    await http.get("/pages/Home", headers={"host": APP_HOST, **extra})
                    for extra in (
                        {"cookie": cookie, "traceparent": CLIENT_TRACEPARENT},
                        {"cookie": cookie, "traceparent": "00-not-a-trace-at-all-01"},
                    )
                ]
                await flush()
                await collector.until(lambda c: len(c.named("zerogate.check")) == 2)
                await collector.until(lambda c: len(c.named("ingress")) == 1)
            return responses, records, collector

    responses, records, collector = run(scenario())
    assert [r.status_code for r in responses] == [200, 200]  # a bad traceparent breaks nothing
    continued, fresh = records
    # The client's trace, continued by Envoy, then by the check under Envoy's ext_authz span.
    assert trace_of(continued.traceparent) == CLIENT_TRACE_ID
    ingress = one(collector.named("ingress"))
    assert (ingress.trace_id, ingress.parent_span_id) == (CLIENT_TRACE_ID, CLIENT_SPAN_ID)
    checks = {s.trace_id: s for s in collector.named("zerogate.check")}
    authz = one(collector.named(AUTHZ_SPANS["http"]))
    assert checks[CLIENT_TRACE_ID].parent_span_id == authz.span_id
    # The malformed one: Envoy does not trace such a request at all (it passes the header on
    # as it came); the check started a trace of its own, and the record names that one.
    new_trace = trace_of(fresh.traceparent)
    assert new_trace != CLIENT_TRACE_ID
    assert checks[new_trace].parent_span_id == ""
    assert decision_entry(fresh).trace_id == new_trace
