"""What the console works with: the same objects the CLI uses, handed over by the composition root.

The console never opens a store or builds a service itself (`zerogate.app` does, so revoking a
session here goes through the same `Sessions` and change-feed recorder as `zerogate session
revoke`, and reaches every gateway the same way).
"""

from __future__ import annotations

from dataclasses import dataclass

from zerogate.admin._audit_view import AuditView
from zerogate.admin._feed import DecisionFeed
from zerogate.admin._overview import MetricsWindow
from zerogate.audit import AuditLog
from zerogate.clock import Clock
from zerogate.control import PolicyAdmin
from zerogate.identity import Directory, Sessions
from zerogate.identity.oidc import ClientRegistry
from zerogate.policy import PDP


@dataclass(frozen=True, slots=True)
class Console:
    """The console's services. `origin` is where its pages are served (`http://localhost:8000`):
    the only `Origin` its state-changing calls accept."""

    directory: Directory  # changes become `entity.changed` events (disabling revokes sessions)
    sessions: Sessions  # revocations become events the gateways follow
    clients: ClientRegistry
    policies: PolicyAdmin
    pdp: PDP  # the bundle this process runs
    audit: AuditLog  # where every admin action is written before it is answered
    audit_view: AuditView
    feed: DecisionFeed
    window: MetricsWindow
    clock: Clock
    origin: str


__all__ = ["Console"]
