"""Bounded stale decisions: the last allow per credential, route and action, kept for routes that
opt into `fail_mode = "stale"` and reused only while the PDP or the store is failing.

What may be reused is narrow on purpose (docs/check.md "Fail modes"): an *allow* (never a deny)
that this process made for the same credential (session id or bearer token digest), route,
action, client address and scheme, under the policy bundle still active, younger than the route's
`stale_max_s`. Every revocation and user change the checker hears of purges the entries it
touches, and a decision whose check began before such an event is never kept, so a stale allow
never outlives a revocation this process has seen. A principal with no earlier allow fails closed.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from zerogate._types import BundleHash
from zerogate.clock import Clock
from zerogate.errors import StoreError
from zerogate.gateway.check._authn import Identity, bearer_token
from zerogate.gateway.check._caches import TTLCache
from zerogate.gateway.check._handoff import HostSessions
from zerogate.gateway.check._model import CheckRequest, RouteSettings
from zerogate.gateway.check._stepup import step_up_for_route
from zerogate.identity import parse_session_cookie, session_id
from zerogate.policy import Decision

STALE_HEADER = "x-zerogate-decision-stale"  # `1` to the upstream on an allow served stale
STALE_REASON = "allowed_stale"
_log = logging.getLogger("zerogate.gateway.check")
_Key = tuple[str, str, str, str | None, str]  # credential, route, method, client ip, scheme


@dataclass(frozen=True, slots=True)
class StaleAllow:
    """An earlier allow that may stand in for a decision that could not be made now."""

    identity: Identity  # as it was when the PDP allowed (ages advanced by `age_s`)
    decision: Decision  # the PDP's allow, with its decision id, policies and bundle
    age_s: float


@dataclass(frozen=True, slots=True)
class _Entry:
    identity: Identity
    decision: Decision
    at: float  # monotonic: when the check that made the decision began


class StaleDecisions:
    """The last allows of the routes with a stale bound; empty and free for the others."""

    def __init__(
        self,
        *,
        clock: Clock,
        routes: Mapping[str, RouteSettings],
        host_sessions: HostSessions | None = None,
        max_entries: int = 10_000,
    ) -> None:
        self._clock = clock
        self._routes = dict(routes)
        self._bounds = {r: s.stale_max_s for r, s in routes.items() if s.stale_max_s is not None}
        self._host_sessions = host_sessions
        self._max = max_entries
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        # When sessions and users were last dropped (monotonic), as long as an entry could live:
        # a check that began before the drop may have read what the drop invalidated.
        keep = max(self._bounds.values(), default=1.0)
        self._sessions_dropped: TTLCache[str, float] = TTLCache(
            clock=clock, ttl_s=keep, max_entries=100_000
        )
        self._users_dropped: TTLCache[str, float] = TTLCache(
            clock=clock, ttl_s=keep, max_entries=100_000
        )
        self._cleared_at = float("-inf")

    def remember(
        self,
        req: CheckRequest,
        identity: Identity | None,
        decision: Decision | None,
        *,
        started: float,
    ) -> None:
        """Keep an allow the PDP just made, if its route opted in and nothing since voids it."""
        if req.route not in self._bounds or identity is None or decision is None:
            return
        if not decision.allowed or self._dropped_since(identity, started):
            return
        key = self._key(req)
        if key is None:
            return
        self._entries[key] = _Entry(identity, decision, started)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def recall(
        self, req: CheckRequest, *, stage: str, error: Exception, bundle_hash: BundleHash
    ) -> StaleAllow | None:
        """The allow to reuse because `error` stopped the check at `stage`, or None: fail closed."""
        bound = self._bounds.get(req.route or "")
        if bound is None or not _outage(stage, error):
            return None
        key = self._key(req)
        entry = None if key is None else self._entries.get(key)
        if key is None or entry is None:
            return None  # no earlier allow for this credential here: unknown, fail closed
        age = self._clock.monotonic() - entry.at
        sid = entry.identity.session_id
        if age > bound or (sid is not None and self._sessions_dropped.get(sid) is not None):
            del self._entries[key]
            return None
        if entry.decision.bundle_hash != bundle_hash:
            return None  # a policy activation since: the old allow says nothing about the new
        aged = replace(
            entry.identity,
            auth_age_s=entry.identity.auth_age_s + int(age),
            mfa_age_s=None
            if entry.identity.mfa_age_s is None
            else entry.identity.mfa_age_s + int(age),
        )
        if step_up_for_route(self._routes.get(req.route or ""), aged) is not None:
            return None  # the route's MFA age would no longer be met
        return StaleAllow(aged, entry.decision, age)

    def drop_sessions(self, session_ids: Iterable[str]) -> None:
        """These sessions ended: forget their allows, and never keep one for them again."""
        ids = set(session_ids)
        now = self._clock.monotonic()
        for sid in ids:
            self._sessions_dropped.put(sid, now)
        self._drop_where(lambda e: e.identity.session_id in ids)

    def drop_users(self, usernames: Iterable[str]) -> None:
        """These users changed (disabled, groups, deleted): forget their allows."""
        names = set(usernames)
        now = self._clock.monotonic()
        for name in names:
            self._users_dropped.put(name, now)
        self._drop_where(lambda e: e.identity.principal.username in names)

    def clear(self) -> None:
        """Something changed that cannot be pinned on a user (a group): forget every allow."""
        self._entries.clear()
        self._cleared_at = self._clock.monotonic()

    def __len__(self) -> int:
        return len(self._entries)

    def _dropped_since(self, identity: Identity, started: float) -> bool:
        if self._cleared_at >= started:
            return True
        sid = identity.session_id
        if sid is not None and self._sessions_dropped.get(sid) is not None:
            return True  # an ended session never comes back
        at = self._users_dropped.get(identity.principal.username)
        return at is not None and at >= started

    def _drop_where(self, doomed: Callable[[_Entry], bool]) -> None:
        for key in [k for k, e in self._entries.items() if doomed(e)]:
            del self._entries[key]

    def _key(self, req: CheckRequest) -> _Key | None:
        """The credential as the authenticator would read it first, without the store."""
        route = req.route or ""
        token = bearer_token(req.authorization)
        if token is not None:
            if not token:
                return None
            digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
            return ("b:" + digest, route, req.method, req.client_ip, req.proto)
        cookie_token = parse_session_cookie(req.cookie)
        sid: str | None = None if cookie_token is None else session_id(cookie_token)
        if sid is None and self._host_sessions is not None:
            now = self._clock.now()
            sid = self._host_sessions.session_id(req.cookie, host=req.host, now=now)
        return None if sid is None else ("s:" + sid, route, req.method, req.client_ip, req.proto)


def _outage(stage: str, error: Exception) -> bool:
    """The PDP failed (any error while deciding) or the store did (while authenticating)."""
    return stage == "decide" or (stage == "authenticate" and isinstance(error, StoreError))


def log_stale(req: CheckRequest, found: StaleAllow, error: Exception, decision_id: str) -> None:
    _log.warning(
        "check.served_stale",
        extra={
            "decision_id": decision_id,
            "stale_of": found.decision.decision_id,
            "age_s": round(found.age_s, 3),
            "route": req.route,
            "request_id": req.request_id,
            "error": type(error).__name__,
        },
    )


__all__ = ["STALE_HEADER", "STALE_REASON", "StaleAllow", "StaleDecisions", "log_stale"]
