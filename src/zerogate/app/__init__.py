"""Composition roots: `zerogate up` (all in one) and `zerogate serve ROLE` (one replica)."""

from zerogate.app._gateway_service import envoy_route
from zerogate.app._secrets import KEY_FILE
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
    "banner",
    "client_admin",
    "envoy_route",
    "identity_admin",
    "mfa_admin",
    "policy_admin",
    "record_identity_change",
    "record_session_change",
    "run_all_in_one",
    "run_role",
    "session_admin",
]
