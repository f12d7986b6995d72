"""Envoy clusters (CDS): one per distinct upstream, plus the check service's (and the keys' and
the trace collector's when those are on)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from zerogate.gateway.envoy._endpoint import Endpoint, parse_endpoint
from zerogate.gateway.envoy._local_decisions import KEYS_CLUSTER
from zerogate.gateway.envoy._routes import Gateway
from zerogate.gateway.envoy._tracing import TRACING_CLUSTER

AUTHZ_CLUSTER = "zerogate_authz"
UPSTREAM_CONNECT_TIMEOUT_S = 2.0
AUTHZ_CONNECT_TIMEOUT_S = 1.0
# Envoy's edge best practice: bound what one connection may buffer (per direction).
BUFFER_LIMIT_BYTES = 32768
# Check replicas: a replica failing this many checks in a row (5xx, refused connections,
# timeouts) is ejected for a while, longer each time; at most half of them at once, so at
# least one always takes checks (a fail-open is never the way out: the check fails closed).
REPLICA_FAILURES_TO_EJECT = 3
REPLICA_EJECTION_S = 10.0
REPLICA_MAX_EJECTION_S = 120.0
REPLICA_MAX_EJECTION_PERCENT = 50
# ... and asked `GET /healthz` (the check's HTTP face serves it; 503 until it is ready).
REPLICA_HEALTH_PATH = "/healthz"
REPLICA_HEALTH_INTERVAL_S = 5.0
REPLICA_HEALTH_TIMEOUT_S = 1.0
_HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def endpoint_of(url: str) -> Endpoint:
    """The Endpoint of a URL a valid Gateway holds."""
    endpoint = parse_endpoint(url)
    assert isinstance(endpoint, Endpoint), "Gateway validated every URL"
    return endpoint


def cluster_name(endpoint: Endpoint) -> str:
    """Stable per upstream, so an unchanged upstream keeps its cluster (and its pool) on reload."""
    return f"upstream_{endpoint.slug}"


def build_clusters(gateway: Gateway) -> list[dict[str, Any]]:
    """The clusters of `gateway`, sorted by name: the check service's and one per upstream."""
    upstreams = {endpoint_of(route.upstream) for route in gateway.routes}
    clusters = [
        build_cluster(cluster_name(e), e, connect_timeout_s=UPSTREAM_CONNECT_TIMEOUT_S)
        for e in upstreams
    ]
    authz = build_cluster(
        AUTHZ_CLUSTER,
        endpoint_of(gateway.authz_url),
        connect_timeout_s=AUTHZ_CONNECT_TIMEOUT_S,
    )
    if gateway.authz_replicas:  # several check replicas: one cluster, round robin over all
        authz["lb_policy"] = "ROUND_ROBIN"
        authz["load_assignment"]["endpoints"][0]["lb_endpoints"] += [
            {"endpoint": {"address": socket_address(e.host, e.port)}}
            for e in map(endpoint_of, gateway.authz_replicas)
        ]
        authz["outlier_detection"] = replica_outlier_detection()
        if gateway.check_protocol == "http":
            # The gRPC face serves no grpc.health.v1, so gRPC mode relies on ejection alone.
            authz["health_checks"] = [replica_health_check()]
    if gateway.check_protocol == "grpc":
        authz["typed_extension_protocol_options"] = http2_only()
    clusters.append(authz)
    if gateway.local_decisions is not None:
        keys = keys_endpoint(gateway.local_decisions.jwks_url)
        clusters.append(
            build_cluster(KEYS_CLUSTER, keys, connect_timeout_s=AUTHZ_CONNECT_TIMEOUT_S)
        )
    if gateway.tracing is not None:  # the OTLP/gRPC collector: HTTP/2 without TLS
        collector = endpoint_of(gateway.tracing.collector_url)
        otlp = build_cluster(TRACING_CLUSTER, collector, connect_timeout_s=AUTHZ_CONNECT_TIMEOUT_S)
        otlp["typed_extension_protocol_options"] = http2_only()
        clusters.append(otlp)
    return sorted(clusters, key=lambda c: str(c["name"]))


def replica_outlier_detection() -> dict[str, Any]:
    """Eject a replica after consecutive failures; a locally seen failure (a refused connection,
    a timeout) counts as a 5xx and as a gateway failure."""
    return {
        "consecutive_5xx": REPLICA_FAILURES_TO_EJECT,
        "consecutive_gateway_failure": REPLICA_FAILURES_TO_EJECT,
        "enforcing_consecutive_5xx": 100,
        "enforcing_consecutive_gateway_failure": 100,  # Envoy's default is 0: never enforced
        "enforcing_success_rate": 0,  # too few checks per replica to judge rates by
        "interval": seconds(REPLICA_EJECTION_S),
        "base_ejection_time": seconds(REPLICA_EJECTION_S),
        "max_ejection_time": seconds(REPLICA_MAX_EJECTION_S),
        "max_ejection_percent": REPLICA_MAX_EJECTION_PERCENT,
    }


def replica_health_check() -> dict[str, Any]:
    """`GET /healthz` on every replica: two failures mark it unhealthy, one success healthy."""
    return {
        "timeout": seconds(REPLICA_HEALTH_TIMEOUT_S),
        "interval": seconds(REPLICA_HEALTH_INTERVAL_S),
        "unhealthy_threshold": 2,
        "healthy_threshold": 1,
        "http_health_check": {"path": REPLICA_HEALTH_PATH},
    }


def keys_endpoint(jwks_url: str) -> Endpoint:
    """Where Envoy fetches decision-token keys (a valid Gateway checked the URL)."""
    parts = urlsplit(jwks_url)
    return endpoint_of(f"{parts.scheme}://{parts.netloc}")


def build_cluster(name: str, endpoint: Endpoint, *, connect_timeout_s: float) -> dict[str, Any]:
    """A plain-HTTP/1.1 cluster: STATIC for an IP literal, LOGICAL_DNS for a name."""
    cluster: dict[str, Any] = {
        "name": name,
        "connect_timeout": seconds(connect_timeout_s),
        "per_connection_buffer_limit_bytes": BUFFER_LIMIT_BYTES,
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": socket_address(endpoint.host, endpoint.port),
                            },
                        },
                    ],
                },
            ],
        },
    }
    if endpoint.is_ip:
        cluster["type"] = "STATIC"
    else:
        # LOGICAL_DNS connects to the first address a lookup returns (re-resolved as it goes);
        # STRICT_DNS would balance over all of them, half dead when `localhost` gives ::1 too.
        cluster["type"] = "LOGICAL_DNS"
        cluster["dns_lookup_family"] = "V4_PREFERRED"
    return cluster


def http2_only() -> dict[str, Any]:
    """Protocol options for a cluster spoken to in HTTP/2 without TLS (h2c): a gRPC service."""
    return {
        _HTTP_OPTIONS: {
            "@type": f"type.googleapis.com/{_HTTP_OPTIONS}",
            "explicit_http_config": {"http2_protocol_options": {}},
        },
    }


def socket_address(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}


def seconds(value: float) -> str:
    """A protobuf Duration in JSON form (`2s`, `0.25s`), in milliseconds.

    A positive value never rounds to `0s`, which Envoy reads as "no timeout at all".
    """
    if 0 < value < 0.001:
        value = 0.001
    return f"{value:.3f}".rstrip("0").rstrip(".") + "s"
