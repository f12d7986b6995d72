"""Envoy clusters (CDS): one per distinct upstream, plus the check service's."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from zerogate.gateway.envoy._endpoint import Endpoint, parse_endpoint
from zerogate.gateway.envoy._local_decisions import KEYS_CLUSTER
from zerogate.gateway.envoy._routes import Gateway

AUTHZ_CLUSTER = "zerogate_authz"
UPSTREAM_CONNECT_TIMEOUT_S = 2.0
AUTHZ_CONNECT_TIMEOUT_S = 1.0
# Envoy's edge best practice: bound what one connection may buffer (per direction).
BUFFER_LIMIT_BYTES = 32768
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
    if gateway.check_protocol == "grpc":
        authz["typed_extension_protocol_options"] = http2_only()
    clusters.append(authz)
    if gateway.local_decisions is not None:
        keys = keys_endpoint(gateway.local_decisions.jwks_url)
        clusters.append(
            build_cluster(KEYS_CLUSTER, keys, connect_timeout_s=AUTHZ_CONNECT_TIMEOUT_S)
        )
    return sorted(clusters, key=lambda c: str(c["name"]))


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
