"""Zerogate settings: defaults, then zerogate.toml, then ZEROGATE_* environment variables."""

from zerogate.config._loader import ENV_PREFIX, load_settings
from zerogate.config._settings import (
    EventSettings,
    IdentitySettings,
    PolicySettings,
    Secret,
    ServerSettings,
    Settings,
    StoreSettings,
)

__all__ = [
    "ENV_PREFIX",
    "EventSettings",
    "IdentitySettings",
    "PolicySettings",
    "Secret",
    "ServerSettings",
    "Settings",
    "StoreSettings",
    "load_settings",
]
