"""Envoy as Zerogate's data plane: the route model, generated config, validation, supervision.

See docs/gateway.md. Knows nothing of Cedar: a route names its Cedar resource id and the check
service, reached by Envoy's ext_authz filter, does the deciding.
"""

from zerogate.gateway.envoy._access_log import FastPathLine
from zerogate.gateway.envoy._admin import TLS_FAILURES, GatewayStats, gateway_stats
from zerogate.gateway.envoy._bootstrap import build_bootstrap, build_validation_bootstrap
from zerogate.gateway.envoy._clusters import AUTHZ_CLUSTER, build_clusters
from zerogate.gateway.envoy._headers import (
    CHECK_REQUEST_HEADERS,
    CLIENT_HEADERS_ON_ALLOW,
    CLIENT_HEADERS_ON_DENY,
    ROUTE_HEADER,
    SPOOFABLE_HEADERS,
    SPOOFABLE_PREFIXES,
    UPSTREAM_REWRITES,
    ZEROGATE_PREFIX,
)
from zerogate.gateway.envoy._listener import build_listener
from zerogate.gateway.envoy._local_decisions import Denials, LocalDecisions
from zerogate.gateway.envoy._process import EnvoyProcess
from zerogate.gateway.envoy._reload import EnvoyError
from zerogate.gateway.envoy._restart import RestartPolicy
from zerogate.gateway.envoy._route_config import build_route_config
from zerogate.gateway.envoy._routes import Gateway, Route
from zerogate.gateway.envoy._sds import SECRET_NAME, TlsFiles, write_sds
from zerogate.gateway.envoy._tracing import CLIENT_TRACE_HEADERS, TRACING_CLUSTER, Tracing
from zerogate.gateway.envoy._validate import check_config, find_envoy, validate
from zerogate.gateway.envoy._xds import XdsDocument, XdsKind, XdsLayout, XdsSnapshot, render

__all__ = [
    "AUTHZ_CLUSTER",
    "CHECK_REQUEST_HEADERS",
    "CLIENT_HEADERS_ON_ALLOW",
    "CLIENT_HEADERS_ON_DENY",
    "CLIENT_TRACE_HEADERS",
    "ROUTE_HEADER",
    "SECRET_NAME",
    "SPOOFABLE_HEADERS",
    "SPOOFABLE_PREFIXES",
    "TLS_FAILURES",
    "TRACING_CLUSTER",
    "UPSTREAM_REWRITES",
    "ZEROGATE_PREFIX",
    "Denials",
    "EnvoyError",
    "EnvoyProcess",
    "FastPathLine",
    "Gateway",
    "GatewayStats",
    "LocalDecisions",
    "RestartPolicy",
    "Route",
    "TlsFiles",
    "Tracing",
    "XdsDocument",
    "XdsKind",
    "XdsLayout",
    "XdsSnapshot",
    "build_bootstrap",
    "build_clusters",
    "build_listener",
    "build_route_config",
    "build_validation_bootstrap",
    "check_config",
    "find_envoy",
    "gateway_stats",
    "render",
    "validate",
    "write_sds",
]
