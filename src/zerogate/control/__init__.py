"""The policy administrator: sessions, grants, revocation and the event bus that pushes changes."""

from zerogate.control.events import (
    Event,
    EventBus,
    InProcessBus,
    PostgresBus,
    SQLiteBus,
    open_bus,
)
from zerogate.control.policies import (
    TOPIC_ENTITY_CHANGED,
    TOPIC_POLICY_ACTIVATED,
    Activation,
    PolicyAdmin,
    PolicySync,
)

__all__ = [
    "TOPIC_ENTITY_CHANGED",
    "TOPIC_POLICY_ACTIVATED",
    "Activation",
    "Event",
    "EventBus",
    "InProcessBus",
    "PolicyAdmin",
    "PolicySync",
    "PostgresBus",
    "SQLiteBus",
    "open_bus",
]
