"""The ingress listener (LDS): a hardened HTTP connection manager, the inbound strip and ext_authz.

Order matters, and each step is here for a reason:

1. early header mutation: spoofable inbound headers (`x-zerogate-*`, `x-forwarded-*`, other
   proxies' identity headers) go before routing and before Envoy sets its own forwarding headers;
2. `zerogate.route_header`: the matched route sets `x-zerogate-route` to its resource id;
3. ext_authz (HTTP mode, fail closed): the check service sees the allowed headers and answers;
   on 200 its `x-zerogate-*` headers are set on the upstream request;
4. the router: route timeouts, websocket upgrades, per-route `strip_headers`.

Route-level `request_headers_to_remove` would be too late for step 1: the router applies it
after ext_authz, so it would strip the check's own headers and let the check see spoofed ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zerogate.gateway.envoy._access_log import fast_path_access_log
from zerogate.gateway.envoy._clusters import (
    AUTHZ_CLUSTER,
    BUFFER_LIMIT_BYTES,
    endpoint_of,
    seconds,
    socket_address,
)
from zerogate.gateway.envoy._cookies import build_cookie_strip
from zerogate.gateway.envoy._headers import (
    CHECK_REQUEST_HEADERS,
    CLIENT_HEADERS_ON_ALLOW,
    CLIENT_HEADERS_ON_DENY,
    SPOOFABLE_HEADERS,
    SPOOFABLE_PREFIXES,
    UPSTREAM_REWRITES,
    ZEROGATE_PREFIX,
)
from zerogate.gateway.envoy._local_decisions import (
    Denials,
    build_jwt_authn,
    build_rbac,
    retry_without_token,
    skip_when_decided,
)
from zerogate.gateway.envoy._route_config import (
    EXT_AUTHZ_FILTER,
    ROUTE_CONFIG_NAME,
    ROUTE_HEADER_FILTER,
    build_route_config,
    takes_decision_tokens,
)
from zerogate.gateway.envoy._routes import Gateway
from zerogate.gateway.envoy._sds import downstream_tls
from zerogate.gateway.envoy._tracing import build_tracing, client_trace_strip

LISTENER_NAME = "zerogate_ingress"
STAT_PREFIX = "ingress"
# Status when the check service cannot be reached or times out: unavailable, not "denied".
STATUS_ON_CHECK_ERROR = 503

_HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_EARLY_MUTATION = "type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation"
_HEADER_MUTATION = (
    "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation"
)
_EXT_AUTHZ = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz"
_ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"


def build_listener(
    gateway: Gateway, *, rds: Mapping[str, Any] | None = None, denials: Denials | None = None
) -> dict[str, Any]:
    """The listener; routes come from `rds` (a config source) or, without one, inline.

    With `gateway.tls` the one filter chain terminates TLS, its certificate from the SDS file.
    """
    chain: dict[str, Any] = {
        "filters": [
            {
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": build_connection_manager(gateway, rds=rds, denials=denials),
            },
        ],
    }
    if gateway.tls is not None:
        chain["transport_socket"] = downstream_tls(gateway.tls)
    return {
        "name": LISTENER_NAME,
        "address": socket_address(gateway.listen_host, gateway.listen_port),
        "per_connection_buffer_limit_bytes": BUFFER_LIMIT_BYTES,
        "filter_chains": [chain],
    }


def build_connection_manager(
    gateway: Gateway, *, rds: Mapping[str, Any] | None = None, denials: Denials | None = None
) -> dict[str, Any]:
    """The HTTP connection manager, set up as Envoy's edge-proxy best practice asks."""
    hcm: dict[str, Any] = {
        "@type": _HCM,
        "stat_prefix": STAT_PREFIX,
        "codec_type": "AUTO",  # HTTP/1.1 and h2c
        # We are the edge: the client is the peer address, never what a header claims.
        "use_remote_address": True,
        "xff_num_trusted_hops": 0,
        "generate_request_id": True,
        # mTLS: whatever `x-forwarded-client-cert` a client sends is replaced by Envoy's own
        # description of the certificate it verified (its URI SAN: the SPIFFE ID), or removed.
        "forward_client_cert_details": "SANITIZE_SET",
        "set_current_client_cert_details": {"uri": True},
        "preserve_external_request_id": False,
        # One canonical path for routing, the check and the upstream (RFC 3986 §6): no
        # `/a/../admin` or `//admin` or `%2F` tricks past a prefix rule.
        "normalize_path": True,
        "merge_slashes": True,
        "path_with_escaped_slashes_action": "REJECT_REQUEST",
        "strip_any_host_port": True,
        "server_header_transformation": "PASS_THROUGH",  # no `server: envoy` fingerprint
        "max_request_headers_kb": 60,
        "request_headers_timeout": "10s",  # slow-loris bound for the request head
        "stream_idle_timeout": "300s",
        "common_http_protocol_options": {
            "idle_timeout": "3600s",
            "max_headers_count": 100,
            # `x_zerogate_user` must not reach a CGI/WSGI app as HTTP_X_ZEROGATE_USER.
            "headers_with_underscores_action": "REJECT_REQUEST",
        },
        "http2_protocol_options": {
            "max_concurrent_streams": 100,
            "initial_stream_window_size": 65536,
            "initial_connection_window_size": 1048576,
        },
        # Websockets are off unless a route turns them on.
        "upgrade_configs": [{"upgrade_type": "websocket", "enabled": False}],
        "early_header_mutation_extensions": [_inbound_strip(client_trace_strip(gateway.tracing))],
        "http_filters": _http_filters(gateway),
    }
    if gateway.tracing is not None:  # a W3C trace per request, to the ext_authz call and beyond
        hcm["tracing"] = build_tracing(gateway.tracing)
    if gateway.local_decisions is not None:
        hcm["local_reply_config"] = {"mappers": [retry_without_token()]}
        if gateway.local_decisions.access_log:  # what Envoy decides alone, for the audit
            local = gateway.local_decisions
            hcm["access_log"] = [
                fast_path_access_log(local.access_log, allows=local.access_log_allows)
            ]
    if rds is None:
        hcm["route_config"] = build_route_config(gateway, denials)
    else:
        hcm["rds"] = {"route_config_name": ROUTE_CONFIG_NAME, "config_source": dict(rds)}
    return hcm


def _http_filters(gateway: Gateway) -> list[dict[str, Any]]:
    """In order: route header, [decision token, deny list,] ext_authz, [cookie strip,] router.

    With local decisions, RBAC must run after jwt_authn (it reads the headers jwt_authn sets
    from a verified token) and ext_authz last of the three (it is skipped when a token verified).
    """
    authz = build_ext_authz(gateway)
    last = [build_cookie_strip(gateway.strip_cookies)] if gateway.strip_cookies else []
    last.append(_router())
    local = gateway.local_decisions
    if local is None:
        return [_route_header_filter(), authz, *last]
    authz["typed_config"]["filter_enabled_metadata"] = skip_when_decided()
    checked = [r.resource_id for r in gateway.routes if takes_decision_tokens(r)]
    jwt = build_jwt_authn(local, checked, keys_uri=local.jwks_url)
    return [_route_header_filter(), jwt, build_rbac(), authz, *last]


def _inbound_strip(also: tuple[str, ...] = ()) -> dict[str, Any]:
    """Remove the spoofable headers, and `also` (a client's trace context when tracing)."""
    mutations: list[dict[str, Any]] = [
        {"remove_on_match": {"key_matcher": {"prefix": prefix}}} for prefix in SPOOFABLE_PREFIXES
    ]
    mutations += [{"remove": name} for name in (*SPOOFABLE_HEADERS, *also)]
    return {
        "name": "zerogate.inbound_strip",
        "typed_config": {"@type": _EARLY_MUTATION, "mutations": mutations},
    }


def _route_header_filter() -> dict[str, Any]:
    # Does nothing by itself; each route's per-filter config sets `x-zerogate-route`.
    return {"name": ROUTE_HEADER_FILTER, "typed_config": {"@type": _HEADER_MUTATION}}


def build_ext_authz(gateway: Gateway) -> dict[str, Any]:
    """The ext_authz filter as measured in the gateway baseline, failing closed.

    `check_protocol` "grpc" asks the check's gRPC face over the HTTP/2 authz cluster instead.
    The same request headers reach it; there are no response allowlists in gRPC mode (Envoy
    applies a gRPC answer as given), so the gRPC face applies the same lists itself. With
    webhook routes, gRPC mode also has a filter-wide `with_request_body`: Envoy 1.40 reads
    `pack_as_bytes` only from there (a per-route one alone sends the body as UTF-8 text, bytes
    that are not UTF-8 replaced). Every other route turns it off for itself (`_route_config`).
    """
    passed = sorted({name for route in gateway.routes for name in route.pass_headers})
    allowed = sorted(set(CHECK_REQUEST_HEADERS) | set(passed))
    config: dict[str, Any] = {
        "@type": _EXT_AUTHZ,
        "transport_api_version": "V3",
        "failure_mode_allow": False,  # fail closed: no answer (or a gRPC error) is a denial
        "status_on_error": {"code": STATUS_ON_CHECK_ERROR},
        "validate_mutations": True,  # a malformed header from the check fails the request
        "allowed_headers": _exact(allowed),
    }
    if gateway.check_protocol == "grpc":
        config["grpc_service"] = {
            "envoy_grpc": {"cluster_name": AUTHZ_CLUSTER},
            "timeout": seconds(gateway.authz_timeout_s),
        }
        # One header_map entry per header line, not comma-joined values: the check refuses a
        # repeated header (an ambiguous request) as it does in HTTP mode.
        config["encode_raw_headers"] = True
        body_max = max((route.check_body_max_bytes for route in gateway.routes), default=0)
        if body_max:
            config["with_request_body"] = {
                "max_request_bytes": body_max,
                "allow_partial_message": False,  # the whole signed body, or 413
                "pack_as_bytes": True,
            }
        return {"name": EXT_AUTHZ_FILTER, "typed_config": config}
    return {
        "name": EXT_AUTHZ_FILTER,
        "typed_config": {
            **config,
            "http_service": {
                "server_uri": {
                    "uri": endpoint_of(gateway.authz_url).url,
                    "cluster": AUTHZ_CLUSTER,
                    "timeout": seconds(gateway.authz_timeout_s),
                },
                "path_prefix": gateway.authz_path_prefix,
                "authorization_response": {
                    "allowed_upstream_headers": {
                        "patterns": [
                            {"prefix": ZEROGATE_PREFIX},
                            *({"exact": name} for name in UPSTREAM_REWRITES),
                        ]
                    },
                    "allowed_client_headers": _exact(CLIENT_HEADERS_ON_DENY),
                    "allowed_client_headers_on_success": _exact(CLIENT_HEADERS_ON_ALLOW),
                },
            },
        },
    }


def _router() -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.router",
        # No x-envoy-* headers to upstreams or clients: nothing to fingerprint or trust.
        "typed_config": {"@type": _ROUTER, "suppress_envoy_headers": True},
    }


def _exact(names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {"patterns": [{"exact": name} for name in names]}
