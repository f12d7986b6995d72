"""Policy administration: validated bundle storage, atomic activation and PDP synchronisation."""

from zerogate.control.policies._admin import TOPIC_POLICY_ACTIVATED, PolicyAdmin
from zerogate.control.policies._db import Activation
from zerogate.control.policies._sync import TOPIC_ENTITY_CHANGED, PolicySync

__all__ = [
    "TOPIC_ENTITY_CHANGED",
    "TOPIC_POLICY_ACTIVATED",
    "Activation",
    "PolicyAdmin",
    "PolicySync",
]
