"""Time to revoke: from a revocation stored in the change feed to this process enforcing it."""

from __future__ import annotations

from datetime import UTC

from zerogate.clock import Clock
from zerogate.control import TOPIC_ENTITY_CHANGED, Event
from zerogate.telemetry._labels import REVOCATION_WHERE
from zerogate.telemetry._metrics import Metrics


class RevocationTimer:
    """Call with each change-feed event once it is enforced at `where` (`check`: the check's
    caches dropped it; `envoy`: Envoy's deny list has it). Events that end sessions are timed
    from the time the store recorded them (`Event.created_at`); the rest are ignored."""

    def __init__(self, metrics: Metrics, where: str, *, clock: Clock) -> None:
        if where not in REVOCATION_WHERE:
            raise ValueError(f"where must be one of {REVOCATION_WHERE}, not {where!r}")
        self._metrics = metrics
        self._where = where
        self._clock = clock

    def __call__(self, event: Event) -> None:
        if not is_revocation(event):
            return
        stored = event.created_at
        if stored.tzinfo is None:  # the store's times are UTC (store.UTCDateTime)
            stored = stored.replace(tzinfo=UTC)
        self._metrics.observe_revocation((self._clock.now() - stored).total_seconds(), self._where)


def is_revocation(event: Event) -> bool:
    """An `entity.changed` event naming ended sessions (sign-out, an admin's revoke, a user
    disabled): what the SLO's one second is about."""
    ids = event.payload.get("session_ids")
    return event.topic == TOPIC_ENTITY_CHANGED and isinstance(ids, list) and bool(ids)
