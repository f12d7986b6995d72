"""Envoy's bootstrap: admin on loopback, the node, and where the dynamic resources come from.

The running bootstrap names no listener or cluster itself: both come from the watched xDS files,
so a reload never needs a restart. The validation bootstrap is its static twin, the same
resources inline, because `envoy --mode validate` does not read file-based xDS.
"""

from __future__ import annotations

from typing import Any

from zerogate.gateway.envoy._clusters import build_clusters, socket_address
from zerogate.gateway.envoy._listener import build_listener
from zerogate.gateway.envoy._local_decisions import Denials
from zerogate.gateway.envoy._routes import Gateway
from zerogate.gateway.envoy._xds import XdsKind, XdsLayout

ADMIN_HOST = "127.0.0.1"  # the admin API can reconfigure and stop Envoy: never off the host
NODE_CLUSTER = "zerogate"
MAX_DOWNSTREAM_CONNECTIONS = 50_000

_CONNECTIONS_MONITOR = "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig"


def build_bootstrap(gateway: Gateway, *, xds: XdsLayout, node_id: str) -> dict[str, Any]:
    """The bootstrap Envoy runs with: listeners and clusters from the watched files in `xds`."""
    bootstrap = _common(gateway, node_id=node_id)
    bootstrap["dynamic_resources"] = {
        "lds_config": xds.config_source(XdsKind.LDS),
        "cds_config": xds.config_source(XdsKind.CDS),
    }
    return bootstrap


def build_validation_bootstrap(gateway: Gateway, *, node_id: str) -> dict[str, Any]:
    """The same listener, routes and clusters as static resources, for `envoy --mode validate`."""
    bootstrap = _common(gateway, node_id=node_id)
    bootstrap["static_resources"] = {
        # The deny list changes without a validation: check its shape with one entry of each kind.
        "listeners": [build_listener(gateway, denials=Denials.sample())],
        "clusters": build_clusters(gateway),
    }
    return bootstrap


def _common(gateway: Gateway, *, node_id: str) -> dict[str, Any]:
    return {
        "node": {"id": node_id, "cluster": NODE_CLUSTER},
        "admin": {"address": socket_address(ADMIN_HOST, gateway.admin_port)},
        "overload_manager": {
            "resource_monitors": [
                {
                    "name": "envoy.resource_monitors.global_downstream_max_connections",
                    "typed_config": {
                        "@type": _CONNECTIONS_MONITOR,
                        "max_active_downstream_connections": MAX_DOWNSTREAM_CONNECTIONS,
                    },
                },
            ],
        },
    }
