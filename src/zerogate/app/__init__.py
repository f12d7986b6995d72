"""Composition roots: `zerogate up` (all in one) and `zerogate serve ROLE` (one replica)."""

from zerogate.app._config_watch import SettingsSource
from zerogate.app._denials import DenyList, enforce_denials
from zerogate.app._gateway_service import envoy_route, gateway_routes
from zerogate.app._secrets import KEY_FILE
from zerogate.app._serve import free_port
from zerogate.app._witnessing import run_witness
from zerogate.app.admin import (
    client_admin,
    identity_admin,
    mfa_admin,
    policy_admin,
    record_identity_change,
    record_session_change,
    session_admin,
)
from zerogate.app.all_in_one import banner, run_all_in_one
from zerogate.app.roles import ROLES, run_role

__all__ = [
    "KEY_FILE",
    "ROLES",
    "DenyList",
    "SettingsSource",
    "banner",
    "client_admin",
    "enforce_denials",
    "envoy_route",
    "free_port",
    "gateway_routes",
    "identity_admin",
    "mfa_admin",
    "policy_admin",
    "record_identity_change",
    "record_session_change",
    "run_all_in_one",
    "run_role",
    "run_witness",
    "session_admin",
]
