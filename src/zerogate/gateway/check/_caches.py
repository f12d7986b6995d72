"""Short-lived in-process caches on the check's hot path: sessions, principals, revoked sessions.

Each is bounded (least recently used goes first) and forgets entries after a TTL read from the
injected clock's monotonic time. They exist to spare the store a read per request; events drop
entries early (`drop`), so the TTL only bounds how stale a missed event can leave us.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from zerogate.clock import Clock
from zerogate.errors import ConfigError, ErrorDetail
from zerogate.identity import ActiveSession

K = TypeVar("K")
V = TypeVar("V")

# A cached session outlives a revocation the event did not reach by at most this much.
MAX_SESSION_TTL_S = 1.0


class TTLCache(Generic[K, V]):
    """A bounded LRU map whose entries expire `ttl_s` after they were stored."""

    def __init__(self, *, clock: Clock, ttl_s: float, max_entries: int) -> None:
        if not ttl_s > 0 or max_entries < 1:
            raise ValueError("ttl_s > 0 and max_entries >= 1 are required")
        self._clock = clock
        self.ttl_s = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (self._clock.monotonic() + self.ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def drop(self, keys: Iterable[K]) -> int:
        return sum(self._entries.pop(k, None) is not None for k in keys)

    def drop_where(self, test: Callable[[V], bool]) -> int:
        doomed = [k for k, (_, v) in self._entries.items() if test(v)]
        return self.drop(doomed)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class SessionCache:
    """Resolved login sessions by their id (the token's SHA-256), for at most one second.

    `Sessions.resolve` is a store read per request; this spares it for bursts (a page and its
    assets). Wire `drop` to revocation events (`entity.changed` with `session_ids`) so a revoked
    session stops at once here; the TTL bounds the damage of a missed event (DESIGN: revocation
    enforced everywhere in under one second).
    """

    def __init__(
        self, *, clock: Clock, ttl_s: float = MAX_SESSION_TTL_S, max_entries: int = 10_000
    ) -> None:
        if not 0 < ttl_s <= MAX_SESSION_TTL_S:
            raise ConfigError(
                "the session cache TTL must be > 0 and <= 1 s",
                details=[ErrorDetail("config_invalid", "session_cache_ttl_s", str(ttl_s))],
            )
        self._clock = clock
        self._cache: TTLCache[str, ActiveSession] = TTLCache(
            clock=clock, ttl_s=ttl_s, max_entries=max_entries
        )

    def get(self, session_id: str) -> ActiveSession | None:
        found = self._cache.get(session_id)
        if found is not None and self._clock.now() >= found.expires_at:
            self._cache.drop((session_id,))
            return None
        return found

    def put(self, session: ActiveSession) -> None:
        self._cache.put(session.id, session)

    def drop(self, session_ids: Iterable[str]) -> int:
        """Forget these sessions (ids are hashes, never tokens); returns how many were cached."""
        return self._cache.drop(session_ids)

    def drop_users(self, usernames: Iterable[str]) -> int:
        """Forget every cached session of these users (disabled, deleted, changed)."""
        names = frozenset(usernames)
        return self._cache.drop_where(lambda s: s.username in names) if names else 0

    def clear(self) -> None:
        self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)


@dataclass(frozen=True, slots=True)
class Principal:
    """What the PDP and the upstream learn about a user: names and direct groups."""

    user_id: str
    username: str
    email: str
    display_name: str | None
    groups: tuple[str, ...]


class RevokedSessions:
    """Session ids revoked recently, so access tokens naming them (`sid`) are refused at once.

    An access token is self-contained: without this, one issued from a session that was just
    signed out keeps working until it expires (ASVS 5.0 7.4.1 asks for a denylist). Ids are kept
    for `keep_s`, the longest an access token lives, then forgotten.
    """

    def __init__(self, *, clock: Clock, keep_s: float = 600.0, max_entries: int = 100_000) -> None:
        self._ids: TTLCache[str, bool] = TTLCache(
            clock=clock, ttl_s=keep_s, max_entries=max_entries
        )

    def add(self, session_ids: Iterable[str]) -> None:
        for sid in session_ids:
            self._ids.put(sid, True)

    def __contains__(self, session_id: str) -> bool:
        return self._ids.get(session_id) is not None


__all__ = ["MAX_SESSION_TTL_S", "Principal", "RevokedSessions", "SessionCache", "TTLCache"]
