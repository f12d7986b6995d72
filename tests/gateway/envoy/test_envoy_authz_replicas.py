"""Several check-service replicas: one ext_authz cluster holding every replica, round robin; the
replica URLs are validated like the check URL (tests/e2e/test_revocation_replicas.py runs it)."""

from __future__ import annotations

from typing import Any

import pytest

from zerogate.errors import ConfigError
from zerogate.gateway.envoy import AUTHZ_CLUSTER, Gateway, Route, build_clusters

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
