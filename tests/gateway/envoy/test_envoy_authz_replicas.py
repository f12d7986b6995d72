"""Several check-service replicas: one ext_authz cluster holding every replica, round robin, with
failing replicas ejected and (HTTP mode) health-checked; the replica URLs are validated like the
check URL (tests/e2e/test_revocation_replicas.py runs it on PostgreSQL).

The Envoy tests run three stand-in check replicas (envoy_support.CheckStandIn) on loopback ports
the OS handed out, each served in a thread this test stops; Envoy is stopped by its own PID.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from envoy_support import CheckStandIn, Upstream, dead_url, make_gateway, run

from tests._serve import loopback_socket, serving
from zerogate.errors import ConfigError
from zerogate.gateway.envoy import (
    AUTHZ_CLUSTER,
    EnvoyProcess,
    Gateway,
    Route,
    build_clusters,
    check_config,
)
from zerogate.gateway.envoy._clusters import REPLICA_FAILURES_TO_EJECT

ROUTE = Route("wiki", hosts=("wiki.example.test",), upstream="http://127.0.0.1:3000")


def _gateway(**options: Any) -> Gateway:
    return Gateway(listen_port=8080, admin_port=9901, routes=(ROUTE,), **options)


def _authz(gateway: Gateway) -> dict[str, Any]:
    return next(c for c in build_clusters(gateway) if c["name"] == AUTHZ_CLUSTER)


def _addresses(cluster: dict[str, Any]) -> list[tuple[str, int]]:
    [group] = cluster["load_assignment"]["endpoints"]
    return [
        (
            e["endpoint"]["address"]["socket_address"]["address"],
            e["endpoint"]["address"]["socket_address"]["port_value"],
        )
        for e in group["lb_endpoints"]
    ]


def test_envoy_authz_cluster_balances_over_every_replica() -> None:
    gateway = _gateway(
        authz_url="http://127.0.0.1:7001",
        authz_replicas=["http://127.0.0.1:7002", "http://[::1]:7003"],
    )
    assert gateway.authz_replicas == ("http://127.0.0.1:7002", "http://[::1]:7003")
    cluster = _authz(gateway)
    assert cluster["type"] == "STATIC"
    assert cluster["lb_policy"] == "ROUND_ROBIN"
    assert _addresses(cluster) == [("127.0.0.1", 7001), ("127.0.0.1", 7002), ("::1", 7003)]


def test_envoy_authz_cluster_without_replicas_is_unchanged() -> None:
    cluster = _authz(_gateway(authz_url="http://127.0.0.1:7001"))
    assert "lb_policy" not in cluster
    assert _addresses(cluster) == [("127.0.0.1", 7001)]


@pytest.mark.parametrize(
    ("authz_url", "replicas", "loc"),
    [
        ("http://127.0.0.1:7001", ("http://check-2.internal:7002",), "authz_replicas[0]"),
        ("http://127.0.0.1:7001", ("https://127.0.0.1:7002",), "authz_replicas[0]"),
        ("http://127.0.0.1:7001", ("127.0.0.1:7002",), "authz_replicas[0]"),
        ("http://check.internal:7001", ("http://127.0.0.1:7002",), "authz_url"),
    ],
)
def test_envoy_authz_replicas_are_validated(
    authz_url: str, replicas: tuple[str, ...], loc: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _gateway(authz_url=authz_url, authz_replicas=replicas)
    assert [(d.code, d.loc) for d in caught.value.details] == [("gateway_authz_invalid", loc)]


def test_envoy_authz_replicas_are_ejected_when_failing_and_health_checked_in_http_mode() -> None:
    replicas = {"authz_url": "http://127.0.0.1:7001", "authz_replicas": ["http://127.0.0.1:7002"]}
    http = _authz(_gateway(**replicas))
    detection = http["outlier_detection"]
    assert detection["consecutive_5xx"] == detection["consecutive_gateway_failure"] == 3
    assert detection["enforcing_consecutive_gateway_failure"] == 100  # Envoy's default: 0
    assert detection["max_ejection_percent"] == 50  # one replica of two always stays
    (health,) = http["health_checks"]
    assert health["http_health_check"] == {"path": "/healthz"}
    assert (health["unhealthy_threshold"], health["healthy_threshold"]) == (2, 1)

    # The gRPC face serves no grpc.health.v1: ejection only, no health checks.
    grpc = _authz(_gateway(check_protocol="grpc", **replicas))
    assert grpc["outlier_detection"] == detection
    assert "health_checks" not in grpc
    # One check service: nothing to eject it in favour of.
    single = _authz(_gateway(authz_url="http://127.0.0.1:7001"))
    assert "outlier_detection" not in single
    assert "health_checks" not in single
    for protocol in ("http", "grpc"):
        run(check_config(_gateway(check_protocol=protocol, **replicas)))  # Envoy accepts both


# Three stand-in replicas behind a real Envoy


class Replicas:
    """Stand-in check replicas, each on its own port, each stoppable on its own."""

    def __init__(self, stack: contextlib.ExitStack, count: int) -> None:
        self.checks: list[CheckStandIn] = []
        self.urls: list[str] = []
        self._stops: list[contextlib.ExitStack] = []
        for _ in range(count):
            check = CheckStandIn()
            one = stack.enter_context(contextlib.ExitStack())
            sock, url = one.enter_context(loopback_socket())
            one.enter_context(serving(check.app(), sock))
            self.checks.append(check)
            self.urls.append(url)
            self._stops.append(one)

    def stop(self, index: int) -> None:
        self._stops[index].close()  # the server stops and its socket closes: refused from now

    def checked(self, index: int) -> int:
        return sum(1 for s in self.checks[index].seen if s.path.startswith("/check"))


@pytest.fixture
def replicas() -> Iterator[Replicas]:
    with contextlib.ExitStack() as stack:
        yield Replicas(stack, 3)


@contextlib.asynccontextmanager
async def envoy_over(urls: list[str], upstream_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    route = Route("wiki", hosts=("wiki.example.test",), upstream=upstream_url)
    gateway = make_gateway(urls[0], route, authz_replicas=urls[1:])
    async with EnvoyProcess(gateway, workdir=tmp_path / "envoy") as envoy:
        base = f"http://127.0.0.1:{gateway.listen_port}"
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=10) as http:
            yield envoy, http


async def _flags(envoy: EnvoyProcess, url: str) -> str:
    """The stopped replica's health flags as Envoy's admin API lists them."""
    host = url.removeprefix("http://")
    async with httpx.AsyncClient(trust_env=False, timeout=5) as admin:
        text = (await admin.get(f"{envoy.admin_url}/clusters")).text
    prefix = f"{AUTHZ_CLUSTER}::{host}::health_flags::"
    return next(line[len(prefix) :] for line in text.splitlines() if line.startswith(prefix))


def test_envoy_ejects_a_stopped_replica_and_the_others_keep_answering(
    tmp_path: Path, replicas: Replicas, upstream: Upstream, upstream_url: str
) -> None:
    async def scenario() -> tuple[list[int], list[int], list[int], str]:
        async with envoy_over(replicas.urls, upstream_url, tmp_path) as (envoy, http):
            wiki = {"host": "wiki.example.test"}
            before = [(await http.get("/", headers=wiki)).status_code for _ in range(6)]
            replicas.stop(2)
            during: list[int] = []
            while len(during) < 300 and "outlier" not in await _flags(envoy, replicas.urls[2]):
                during.append((await http.get("/", headers=wiki)).status_code)
            after = [(await http.get("/", headers=wiki)).status_code for _ in range(30)]
            return before, during, after, await _flags(envoy, replicas.urls[2])

    before, during, after, flags = run(scenario())
    assert before == [200] * 6
    assert [replicas.checked(i) for i in range(3)] >= [2, 2, 2]  # round robin reached each
    # The stopped replica failed its share (fail closed: 503, never the upstream) until it had
    # failed enough times in a row; from then on the other two answer every check.
    assert set(during) <= {200, 503}
    assert during.count(503) <= REPLICA_FAILURES_TO_EJECT
    assert after == [200] * 30
    assert "failed_outlier_check" in flags
    assert len(upstream.seen) == during.count(200) + 36


def test_envoy_sends_no_check_to_a_replica_that_fails_its_health_check(
    tmp_path: Path, replicas: Replicas, upstream: Upstream, upstream_url: str
) -> None:
    """A replica down when Envoy starts fails the first health-check round, which Envoy runs
    before it serves: not one request goes to it, so not one fails."""
    dead = dead_url()

    async def scenario() -> tuple[list[int], str]:
        async with envoy_over([*replicas.urls[:2], dead], upstream_url, tmp_path) as (envoy, http):
            wiki = {"host": "wiki.example.test"}
            statuses = [(await http.get("/", headers=wiki)).status_code for _ in range(20)]
            return statuses, await _flags(envoy, dead)

    statuses, flags = run(scenario())
    assert statuses == [200] * 20
    assert "failed_active_hc" in flags
    assert replicas.checked(0) + replicas.checked(1) == 20
    assert ("GET", "/healthz") in {(s.method, s.path) for s in replicas.checks[0].seen}
