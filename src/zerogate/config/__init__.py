"""Zerogate settings: defaults, then zerogate.toml, then ZEROGATE_* environment variables."""

from zerogate.config._edit import add_route, remove_route, write_settings
from zerogate.config._loader import ENV_PREFIX, load_settings
from zerogate.config._routes import FailMode, RouteSettings, split_from
from zerogate.config._secret import Secret
from zerogate.config._settings import (
    AuditSettings,
    EventSettings,
    GatewaySettings,
    IdentitySettings,
    OIDCSettings,
    PolicySettings,
    ServerSettings,
    Settings,
    StoreSettings,
    TelemetrySettings,
)
from zerogate.config._upstreams import UPSTREAM_NAME, GroupRuleSettings, UpstreamSettings

__all__ = [
    "ENV_PREFIX",
    "UPSTREAM_NAME",
    "AuditSettings",
    "EventSettings",
    "FailMode",
    "GatewaySettings",
    "GroupRuleSettings",
    "IdentitySettings",
    "OIDCSettings",
    "PolicySettings",
    "RouteSettings",
    "Secret",
    "ServerSettings",
    "Settings",
    "StoreSettings",
    "TelemetrySettings",
    "UpstreamSettings",
    "add_route",
    "load_settings",
    "remove_route",
    "split_from",
    "write_settings",
]
