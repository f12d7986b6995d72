"""The route table (RDS): one virtual host per route host, and 404 for everything else.

There is no default upstream: a request for a host no route names, or for a path no route of
its host covers, gets a 404 from Envoy itself, without a call to the check service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zerogate.gateway.envoy._clusters import cluster_name, endpoint_of, seconds
from zerogate.gateway.envoy._headers import ROUTE_HEADER
from zerogate.gateway.envoy._local_decisions import (
    DENY_KEYS,
    FAST_METHOD,
    JWT_FILTER,
    RBAC_FILTER,
    Denials,
    route_jwt_config,
    route_rbac_config,
)
from zerogate.gateway.envoy._routes import Gateway, Route

ROUTE_CONFIG_NAME = "zerogate_routes"
EXT_AUTHZ_FILTER = "envoy.filters.http.ext_authz"
ROUTE_HEADER_FILTER = "zerogate.route_header"
UNKNOWN_HOST = "zerogate_unknown_host"  # no host name has '_', so no route host collides
NOT_FOUND_ROUTE = "zerogate_not_found"

_EXT_AUTHZ_PER_ROUTE = (
    "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute"
)
_HEADER_MUTATION_PER_ROUTE = (
    "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute"
)


def build_route_config(gateway: Gateway, denials: Denials | None = None) -> dict[str, Any]:
    """The route table; with local decisions, `denials` is the deny list every route carries."""
    local = None
    if gateway.local_decisions is not None:
        local = _Local(route_rbac_config(denials or Denials()))
    by_host: dict[str, list[Route]] = {}
    for route in gateway.routes:
        for host in dict.fromkeys(route.hosts):
            by_host.setdefault(host, []).append(route)
    grpc = gateway.check_protocol == "grpc"
    virtual_hosts = [
        _virtual_host(host, by_host[host], local, grpc=grpc) for host in sorted(by_host)
    ]
    unknown = [_not_found(local)]
    virtual_hosts.append({"name": UNKNOWN_HOST, "domains": ["*"], "routes": unknown})
    return {"name": ROUTE_CONFIG_NAME, "virtual_hosts": virtual_hosts}


def takes_decision_tokens(route: Route) -> bool:
    """Routes whose GETs Envoy may let through on a decision token: checked, bodiless ones."""
    return not route.allow_public and not route.check_body_max_bytes


@dataclass(frozen=True, slots=True)
class _Local:
    rbac: dict[str, Any] | None  # the deny list every fast route carries (None: empty)


def _virtual_host(
    host: str, routes: list[Route], local: _Local | None, *, grpc: bool
) -> dict[str, Any]:
    # Envoy takes the first route that matches: most specific prefix first.
    ordered = sorted(routes, key=lambda r: (-len(r.path_prefix), r.path_prefix))
    entries = [entry for route in ordered for entry in _entries(route, local, grpc=grpc)]
    if not any(route.path_prefix == "/" for route in routes):
        entries.append(_not_found(local))
    return {"name": host, "domains": [host], "routes": entries}


def _entries(route: Route, local: _Local | None, *, grpc: bool) -> list[dict[str, Any]]:
    """One route entry; with local decisions a checked route is two: its GETs, then the rest."""
    if local is None:
        return [_route(route, grpc=grpc)]
    if not takes_decision_tokens(route):
        entry = _route(route, grpc=grpc)
        entry["typed_per_filter_config"][JWT_FILTER] = route_jwt_config(None)
        return [entry]
    fast = _route(route, grpc=grpc)
    fast["name"] = f"{route.name}.get"
    fast["match"]["headers"] = [{"name": ":method", "string_match": {"exact": FAST_METHOD}}]
    fast["typed_per_filter_config"][JWT_FILTER] = route_jwt_config(route.resource_id)
    # The deny list's keys are Envoy's business, not the app's (removed by the router, after).
    fast["request_headers_to_remove"] = [*fast.get("request_headers_to_remove", []), *DENY_KEYS]
    if local.rbac is not None:
        fast["typed_per_filter_config"][RBAC_FILTER] = local.rbac
    rest = _route(route, grpc=grpc)
    rest["typed_per_filter_config"][JWT_FILTER] = route_jwt_config(None)
    return [fast, rest]


def _route(route: Route, *, grpc: bool) -> dict[str, Any]:
    action: dict[str, Any] = {
        "cluster": cluster_name(endpoint_of(route.upstream)),
        "timeout": seconds(route.timeout_s),
    }
    if route.websockets:
        action["upgrade_configs"] = [{"upgrade_type": "websocket", "enabled": True}]
    entry: dict[str, Any] = {
        "name": route.name,
        "match": path_match(route.path_prefix),
        "route": action,
        "typed_per_filter_config": {
            ROUTE_HEADER_FILTER: _route_header(route.resource_id),
            EXT_AUTHZ_FILTER: _ext_authz_per_route(route, grpc=grpc),
        },
    }
    if route.strip_headers:
        # Applied by the router, after the check: the check service still sees these headers.
        entry["request_headers_to_remove"] = list(route.strip_headers)
    return entry


def path_match(prefix: str) -> dict[str, str]:
    """`/app` matches `/app` and `/app/...` (never `/apple`); `/` and `/app/` match as prefixes."""
    if prefix.endswith("/"):
        return {"prefix": prefix}
    return {"path_separated_prefix": prefix}


def _route_header(resource_id: str) -> dict[str, Any]:
    # Runs in a filter before ext_authz (route-level request_headers_to_add would only be applied
    # by the router, after the check): the check service learns which route it is deciding.
    return {
        "@type": _HEADER_MUTATION_PER_ROUTE,
        "mutations": {
            "request_mutations": [
                {
                    "append": {
                        "header": {"key": ROUTE_HEADER, "value": resource_id},
                        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                    },
                },
            ],
        },
    }


def _ext_authz_per_route(route: Route, *, grpc: bool) -> dict[str, Any]:
    if route.allow_public:
        return {"@type": _EXT_AUTHZ_PER_ROUTE, "disabled": True}
    # HTTP-mode ext_authz does not send context_extensions (only gRPC CheckRequests carry them);
    # they are set for a gRPC check service and for Envoy's config dump. The header above is
    # what the HTTP check service reads.
    extensions = {"route": route.name, "resource_id": route.resource_id}
    settings: dict[str, Any] = {"context_extensions": extensions}
    if route.check_body_max_bytes:
        # Only this route's bodies are buffered and sent. Never a part: a larger body gets 413
        # and neither the check nor the upstream sees it. Raw bytes, not a UTF-8 string.
        settings["with_request_body"] = {
            "max_request_bytes": route.check_body_max_bytes,
            "allow_partial_message": False,
            "pack_as_bytes": True,
        }
    elif grpc:
        # gRPC mode sets a filter-wide body setting for webhook routes (Envoy reads
        # pack_as_bytes only there, see build_ext_authz): every other route opts out, so its
        # bodies are neither held back nor sent to the check.
        settings["disable_request_body_buffering"] = True
    return {"@type": _EXT_AUTHZ_PER_ROUTE, "check_settings": settings}


def _not_found(local: _Local | None) -> dict[str, Any]:
    per_filter: dict[str, Any] = {
        EXT_AUTHZ_FILTER: {"@type": _EXT_AUTHZ_PER_ROUTE, "disabled": True},
    }
    if local is not None:
        per_filter[JWT_FILTER] = route_jwt_config(None)
    return {
        "name": NOT_FOUND_ROUTE,
        "match": {"prefix": "/"},
        "direct_response": {"status": 404, "body": {"inline_string": "not found\n"}},
        "typed_per_filter_config": per_filter,
    }
