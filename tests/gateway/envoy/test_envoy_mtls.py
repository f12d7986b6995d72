"""Workloads through the gateway by client certificate (mutual TLS), with the real check service.

Envoy verifies a presented certificate against the configured client CA and tells the check
its SPIFFE ID (`x-forwarded-client-cert`, sanitised and set by Envoy). Without user credentials
the request's principal is `Workload::"spiffe://..."`; a person's request over mutual TLS stays
the person's, with `context.network.peer_spiffe_id` set. A forged XFCC header never counts.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from envoy_support import Upstream, make_gateway, run

from tests._serve import loopback_socket, serving
from tests.gateway.check._peer_support import (
    BILLING,
    bundle_with_workload_policy,
    make_ca,
    make_svid,
    pem,
)
from tests.gateway.check._support import CheckWorld, make_world
from zerogate.clock import SystemClock
from zerogate.gateway.check import create_app as create_check_app
from zerogate.gateway.check._peer import peer_spiffe_id
from zerogate.gateway.envoy import EnvoyProcess, Route, TlsFiles, write_sds
from zerogate.gateway.tls import LocalCA
from zerogate.store import open_store

NOW = datetime.now(UTC)
INTRUDER = "spiffe://example.test/ns/dev/sa/intruder"
HOST = "api.localhost"


@pytest.fixture
def world(make_database: Any) -> Iterator[CheckWorld]:
    store = open_store(make_database("sqlite"))
    try:
        yield make_world(store, clock=SystemClock(), bundle=bundle_with_workload_policy())  # type: ignore[arg-type]
    finally:
        store.close()


@pytest.fixture
def check_url(world: CheckWorld) -> Iterator[str]:
    with loopback_socket() as (sock, url), serving(create_check_app(world.checker), sock):
        yield url


@contextlib.asynccontextmanager
async def gateway(
    tmp_path: Path, check_url: str, upstream_url: str, client_ca: Path, route_id: str = "ledger-api"
) -> AsyncIterator[tuple[EnvoyProcess, LocalCA]]:
    server_ca = LocalCA.load_or_create(tmp_path / "tls", now=NOW)
    leaf = server_ca.serving_certificate(now=NOW)
    tls = TlsFiles(tmp_path / "envoy" / "sds", client_ca=client_ca)
    write_sds(tls, certificate_chain=leaf.certificate_chain, private_key=leaf.private_key)
    route = Route("api", hosts=(HOST,), upstream=upstream_url, resource_id=route_id)
    async with EnvoyProcess(
        make_gateway(check_url, route, tls=tls), workdir=tmp_path / "envoy"
    ) as envoy:
        yield envoy, server_ca


def _client(server_ca: LocalCA, cert: tuple[Path, Path] | None) -> httpx.AsyncClient:
    context = ssl.create_default_context(cafile=str(server_ca.cert_path))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return httpx.AsyncClient(verify=context, trust_env=False, timeout=10)


async def _get(http: httpx.AsyncClient, envoy: EnvoyProcess, **headers: str) -> httpx.Response:
    url = f"https://127.0.0.1:{envoy.gateway.listen_port}/items"
    return await http.get(
        url, headers={"host": HOST, **headers}, extensions={"sni_hostname": "localhost"}
    )


def test_a_workload_certificate_is_the_principal_when_no_one_signed_in(
    tmp_path: Path, world: CheckWorld, check_url: str, upstream: Upstream, upstream_url: str
) -> None:
    ca = make_ca("workloads")
    ca_file = tmp_path / "workload-ca.pem"
    ca_file.write_bytes(pem(ca[0]))
    billing = make_svid(ca, BILLING, tmp_path / "billing")
    intruder = make_svid(ca, INTRUDER, tmp_path / "intruder")
    rogue = make_svid(make_ca("rogue"), BILLING, tmp_path / "rogue")  # right name, wrong CA

    async def scenario() -> None:
        async with gateway(tmp_path, check_url, upstream_url, ca_file) as (envoy, server_ca):
            async with _client(server_ca, billing) as http:
                allowed = await _get(http, envoy, accept="application/json")
            assert allowed.status_code == 200, allowed.text
            seen = upstream.seen[-1]
            assert seen.one("x-zerogate-user") == BILLING
            assert peer_spiffe_id(seen.one("x-forwarded-client-cert")) == BILLING
            record = world.records[-1]
            assert record.principal == f'Workload::"{BILLING}"'

            async with _client(server_ca, intruder) as http:
                denied = await _get(http, envoy, accept="application/json")
            assert denied.status_code == 403  # a known workload the policy does not name
            assert world.records[-1].principal == f'Workload::"{INTRUDER}"'

            # No certificate, or one from another CA: no peer identity, so no principal at all.
            async with _client(server_ca, None) as http:
                forged = await _get(
                    http,
                    envoy,
                    accept="application/json",
                    **{"x-forwarded-client-cert": f"URI={BILLING}"},
                )
            assert forged.status_code == 401
            with pytest.raises(httpx.HTTPError):
                async with _client(server_ca, rogue) as http:
                    await _get(http, envoy)

    run(scenario())


def test_a_person_over_mutual_tls_stays_the_person(
    tmp_path: Path, world: CheckWorld, check_url: str, upstream: Upstream, upstream_url: str
) -> None:
    ca = make_ca("workloads")
    ca_file = tmp_path / "workload-ca.pem"
    ca_file.write_bytes(pem(ca[0]))
    device = make_svid(ca, "spiffe://example.test/device/laptop-7", tmp_path / "device")
    alice = world.add_user("alice", "engineering")
    cookie = world.sign_in(alice)

    async def scenario() -> None:
        wiki = "wiki-web"  # engineering may read it
        async with gateway(tmp_path, check_url, upstream_url, ca_file, wiki) as (envoy, server_ca):
            async with _client(server_ca, device) as http:
                response = await _get(http, envoy, cookie=cookie, accept="application/json")
            assert response.status_code == 200, response.text
            assert upstream.seen[-1].one("x-zerogate-user") == "alice"
            assert world.records[-1].principal == 'User::"alice"'

    run(scenario())


def test_client_ca_settings_need_tls_and_an_existing_file(tmp_path: Path) -> None:
    from zerogate.config._settings import GatewaySettings

    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(pem(make_ca("workloads")[0]))
    assert GatewaySettings(client_ca=str(bundle)).problems() == []
    assert [k for k, _ in GatewaySettings(client_ca=str(bundle), tls="off").problems()] == [
        "client_ca"
    ]
    assert [k for k, _ in GatewaySettings(client_ca=str(tmp_path / "none.pem")).problems()] == [
        "client_ca"
    ]
