"""What only Envoy sees, read from a real Envoy's admin API into the metrics: TLS handshakes and
why they failed, the GETs Envoy decided itself on a decision token (and the revoked ones it sent
back), and checks that got no answer."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route as HTTPRoute

from tests._serve import loopback_socket, serving
from tests.gateway.check._peer_support import make_ca, make_svid
from tests.gateway.check._support import ISSUER, CheckWorld, make_world
from tests.telemetry.test_metrics import scrape, value
from zerogate.app import free_port
from zerogate.clock import SystemClock
from zerogate.gateway.check import create_app as create_check_app
from zerogate.gateway.envoy import (
    Denials,
    EnvoyProcess,
    Gateway,
    GatewayStats,
    LocalDecisions,
    Route,
    TlsFiles,
    gateway_stats,
    write_sds,
)
from zerogate.gateway.tls import LocalCA
from zerogate.store import Store, open_store
from zerogate.telemetry import Metrics
from zerogate.tokens import decision_cookie

NOW = datetime.now(UTC)
HOST = "wiki.localhost"
WIKI = "wiki-web"  # the example policies let engineering read it
BROWSER = {"accept": "text/html"}


def _run(coro: Awaitable[None]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(60):  # fails, never hangs; no time is asserted
            await coro

    asyncio.run(bounded())


@pytest.fixture
def world(make_database: Callable[..., str]) -> Iterator[CheckWorld]:
    store: Store = open_store(make_database("sqlite"))
    try:
        yield make_world(store, clock=SystemClock(), decision_tokens=True)  # type: ignore[arg-type]
    finally:
        store.close()


def _services(world: CheckWorld) -> Starlette:
    """The upstream app and the JWKS Envoy checks decision tokens with, on one server."""

    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse(world.ring.jwks(datetime.now(UTC)))

    async def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse("wiki")

    return Starlette(routes=[HTTPRoute("/jwks.json", jwks), HTTPRoute("/{path:path}", page)])


async def _until(condition: Callable[[], Awaitable[bool]]) -> None:
    while True:  # bounded by the scenario's timeout
        if await condition():
            return
        await asyncio.sleep(0.02)


async def _plain_http_to(port: int) -> None:
    """Speaks HTTP to the TLS port: the handshake fails at the first record."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: wiki.localhost\r\n\r\n")
    await writer.drain()
    await reader.read()  # Envoy closes
    writer.close()


def _tls_client(server_ca: LocalCA, cert: tuple[Path, Path] | None = None) -> httpx.AsyncClient:
    context = ssl.create_default_context(cafile=str(server_ca.cert_path))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return httpx.AsyncClient(verify=context, trust_env=False, follow_redirects=False)


def test_gateway_stats_count_tls_failures_local_decisions_and_unanswered_checks(
    world: CheckWorld, tmp_path: Path
) -> None:
    client_ca = make_ca("devices")
    ca_file = tmp_path / "client-ca.pem"
    ca_file.write_bytes(client_ca[0].public_bytes(serialization.Encoding.PEM))
    rogue = make_svid(
        make_ca("rogue"), "spiffe://example.test/device/laptop", tmp_path / "rogue"
    )  # not from the client CA
    server_ca = LocalCA.load_or_create(tmp_path / "tls", now=NOW)
    leaf = server_ca.serving_certificate(now=NOW, hosts=(HOST,))
    tls = TlsFiles(tmp_path / "envoy" / "sds", client_ca=ca_file)
    write_sds(tls, certificate_chain=leaf.certificate_chain, private_key=leaf.private_key)
    alice = world.add_user("alice", "engineering")
    session = world.sign_in(alice)

    with contextlib.ExitStack() as stack:
        services_sock, services_url = stack.enter_context(loopback_socket())
        stack.enter_context(serving(_services(world), services_sock))
        check_sock, check_url = stack.enter_context(loopback_socket())
        check_server = stack.enter_context(contextlib.ExitStack())
        check_server.enter_context(serving(create_check_app(world.checker), check_sock))
        gateway = Gateway(
            listen_port=free_port(),
            admin_port=free_port(),
            authz_url=check_url,
            routes=(Route("wiki", hosts=(HOST,), upstream=services_url, resource_id=WIKI),),
            tls=tls,
            local_decisions=LocalDecisions(issuer=ISSUER, jwks_url=f"{services_url}/jwks.json"),
        )
        url = f"https://127.0.0.1:{gateway.listen_port}/page"
        names_the_route = {"host": HOST}, {"sni_hostname": HOST}

        async def scenario() -> None:
            async with EnvoyProcess(gateway, workdir=tmp_path / "envoy") as envoy:
                stats = await gateway_stats(envoy.admin_url)
                assert stats is not None
                assert stats == GatewayStats(tls_failures=dict.fromkeys(stats.tls_failures, 0))
                headers, extensions = names_the_route

                async def get(http: httpx.AsyncClient, cookie: str) -> httpx.Response:
                    return await http.get(
                        url, headers={**headers, **BROWSER, "cookie": cookie}, extensions=extensions
                    )

                async with _tls_client(server_ca) as http:
                    first = await get(http, session)
                    assert first.status_code == 200, first.text
                    token = first.headers["set-cookie"].split(";", 1)[0].partition("=")[2]
                    cookies = f"{session}; {decision_cookie(WIKI)}={token}"
                    gets, checked = 0, len(world.records)
                    while True:  # until Envoy has the keys and decides by itself
                        before = len(world.records)
                        assert (await get(http, cookies)).status_code == 200
                        gets += 1
                        if len(world.records) == before:
                            break
                    for _ in range(3):
                        assert (await get(http, cookies)).status_code == 200
                    local = gets + 3 - (len(world.records) - checked)
                    assert local >= 4
                    sid = _claims(token)["sid"]
                    await envoy.deny(Denials(sessions=frozenset({sid})))
                    assert (await get(http, cookies)).status_code == 307  # sent back, cookie gone

                await _plain_http_to(gateway.listen_port)
                with pytest.raises((httpx.HTTPError, ssl.SSLError)):  # refused in the handshake
                    async with _tls_client(server_ca, rogue) as http:
                        await get(http, session)

                check_server.close()  # the check service goes away: Envoy answers 503
                async with _tls_client(server_ca) as http:
                    posted = await http.post(
                        url, headers={**headers, **BROWSER}, extensions=extensions
                    )
                    assert posted.status_code == 503

                async def counted() -> bool:
                    got = await gateway_stats(envoy.admin_url)
                    return got is not None and got.check_errors == 1 and got.local_denies == 1

                await _until(counted)
                stats = await gateway_stats(envoy.admin_url)
                assert stats is not None
                assert stats.local_allows == local
                assert stats.tls_failures["protocol"] == 1
                assert stats.tls_failures["client_certificate_untrusted"] == 1
                assert stats.tls_failures["client_certificate_missing"] == 0  # optional here
                assert stats.tls_handshakes >= 2  # the two clients that completed one

                metrics = Metrics()
                metrics.watch_gateway(lambda: gateway_stats(envoy.admin_url))
                await metrics.refresh()
                samples = _samples(generate_latest(metrics.registry).decode())
                local_decisions = "zerogate_gateway_local_decisions_total"
                assert samples[(local_decisions, (("decision", "allow"),))] == local
                assert samples[(local_decisions, (("decision", "deny"),))] == 1
                failures = "zerogate_gateway_tls_handshake_failures_total"
                assert samples[(failures, (("reason", "protocol"),))] == 1
                assert samples[("zerogate_gateway_check_errors_total", ())] == 1
                assert samples[("zerogate_gateway_stats_failures_total", ())] == 0

        _run(scenario())


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@contextlib.contextmanager
def _silent_admin() -> Iterator[str]:
    """A port that accepts connections and never answers (a stuck Envoy)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_a_stuck_or_absent_envoy_never_holds_up_a_scrape() -> None:
    metrics = Metrics()
    with _silent_admin() as stuck:
        metrics.watch_gateway(lambda: gateway_stats(stuck, timeout_s=0.2))
        samples = scrape(metrics)  # returns: the admin API's silence is cut short
    assert value(samples, "zerogate_gateway_stats_failures_total") == 1
    assert not any(name.startswith("zerogate_gateway_tls") for name, _ in samples)
    assert value(samples, "zerogate_check_pdp_decisions_total", cached="true") == 0  # the rest

    absent = f"http://127.0.0.1:{free_port()}"  # nothing listens: refused at once
    metrics.watch_gateway(lambda: gateway_stats(absent))
    samples = scrape(metrics)
    assert value(samples, "zerogate_gateway_stats_failures_total") == 2
    assert ("zerogate_gateway_local_decisions_total", frozenset({("decision", "allow")})) not in (
        samples
    )


def test_a_source_that_raises_or_hangs_counts_as_a_failed_reading() -> None:
    metrics = Metrics()

    async def broken() -> GatewayStats | None:
        raise RuntimeError("admin API gone")

    metrics.watch_gateway(broken)
    assert value(scrape(metrics), "zerogate_gateway_stats_failures_total") == 1

    async def fine() -> GatewayStats | None:
        return GatewayStats(tls_handshakes=5, tls_failures={"protocol": 2})

    metrics.watch_gateway(fine)  # replaces the one watched before
    samples: dict[Any, float] = scrape(metrics)
    assert value(samples, "zerogate_gateway_tls_handshakes_total") == 5
    failures = "zerogate_gateway_tls_handshake_failures_total"
    assert value(samples, failures, reason="protocol") == 2
    assert value(samples, failures, reason="client_certificate_untrusted") == 0  # every reason
    assert value(samples, "zerogate_gateway_stats_failures_total") == 1
