"""The live decision feed: the last few hundred checks in memory, read by cursor.

`DecisionFeed` is a `DecisionRecorder` beside the audit log and the metrics: the check calls it
once per decision, on the request path, so it only appends to a bounded ring under a lock held
for microseconds, and it never raises (a broken feed must not turn allows into 503s). The
console reads the entries after a cursor (`after`); a cursor from before a restart, or older
than the ring, gets what is there and says how many it missed.

Allowed checks of the console's own route are left out: the console asks for the feed every
second, and each of those asks is itself an allowed check, which would drown everything else
(they are still in the audit log and the metrics). Denials of the console are kept.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zerogate.clock import Clock
from zerogate.gateway.check import CheckRecord, Verdict

FEED_SIZE = 500
log = logging.getLogger("zerogate.admin")


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One decision as the feed keeps it: its place in the feed and when it was seen."""

    seq: int
    at: datetime
    record: CheckRecord

    def as_dict(self) -> dict[str, Any]:
        r = self.record
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "decision_id": r.decision_id,
            "verdict": r.verdict.value,
            "reason": r.reason,
            "status": r.status,
            "route": r.route,
            "action": r.action,
            "principal": r.principal,
            "client_ip": r.client_ip,
            "policies": list(r.policy_ids),
            "explanation": r.explanation,
            "bundle": r.bundle_hash,
            "cached": r.cached,
            "latency_ms": round(r.latency_s * 1000, 3),
        }


@dataclass(frozen=True, slots=True)
class FeedPage:
    """What a reader gets: entries after its cursor (oldest first), the newest seq to ask from
    next time, and how many entries it missed (dropped from the ring before it asked)."""

    entries: tuple[FeedEntry, ...]
    latest: int
    missed: int


class DecisionFeed:
    """A bounded ring of recent `CheckRecord`s; call it with each record (see the module doc)."""

    def __init__(self, *, clock: Clock, size: int = FEED_SIZE, quiet_routes: Collection[str] = ()):
        if size < 1:
            raise ValueError("a decision feed keeps at least one entry")
        self._clock = clock
        self._ring: deque[FeedEntry] = deque(maxlen=size)
        self._quiet = frozenset(quiet_routes)
        self._seq = 0
        self._lock = threading.Lock()  # the gRPC check face may record from its own threads

    def __call__(self, record: CheckRecord) -> None:
        try:
            if record.verdict is Verdict.ALLOW and record.route in self._quiet:
                return
            at = self._clock.now()
            with self._lock:
                self._seq += 1
                self._ring.append(FeedEntry(self._seq, at, record))
        except Exception:  # never fail a check over the console's feed
            log.exception("decision feed: a record was not kept")

    @property
    def latest(self) -> int:
        """The seq of the newest entry (0 before the first)."""
        return self._seq

    def after(self, cursor: int, *, limit: int = 100) -> FeedPage:
        """Entries with seq > `cursor`, oldest first, at most `limit` (the newest ones when
        more are waiting: a console that fell behind catches up with the present)."""
        with self._lock:
            latest = self._seq
            kept = tuple(self._ring)
        if cursor > latest or cursor < 0:
            cursor = 0  # a cursor from before a restart: start again
        fresh = [e for e in kept if e.seq > cursor]
        oldest = kept[0].seq if kept else latest + 1
        missed = max(0, oldest - cursor - 1) if latest > cursor else 0
        if len(fresh) > limit:
            missed += len(fresh) - limit
            fresh = fresh[-limit:]
        return FeedPage(tuple(fresh), latest, missed)


__all__ = ["FEED_SIZE", "DecisionFeed", "FeedEntry", "FeedPage"]
