"""The policy enforcement point: Envoy as the data plane (docs/gateway.md).

For now this face re-exports `zerogate.gateway.envoy`; the check service joins it when it lands.
"""

from zerogate.gateway.envoy import (
    CHECK_REQUEST_HEADERS,
    ROUTE_HEADER,
    EnvoyError,
    EnvoyProcess,
    Gateway,
    RestartPolicy,
    Route,
    check_config,
)

__all__ = [
    "CHECK_REQUEST_HEADERS",
    "ROUTE_HEADER",
    "EnvoyError",
    "EnvoyProcess",
    "Gateway",
    "RestartPolicy",
    "Route",
    "check_config",
]
