"""Keeps Envoy's deny list for decision tokens in step with the change feed.

A decision token says "may GET this route" for the decision TTL. What must end sooner — a
session revoked (sign-out, an admin's revoke, a disabled user's sessions), a policy activated —
goes on Envoy's deny list (`EnvoyProcess.deny`) for as long as a token minted before the event
can live, then drops off: the list stays as small as the last TTL's revocations, and so does
Envoy's time to load it. Other changes to a user (a group removed) need only hold within the
decision TTL, which the token's lifetime already is, so they list nothing. Listing a user would
also refuse the fresh tokens the check mints after the change: a redirect loop until it expired.

An old policy epoch is listed only once this process's PDP decides under the new one, so the
check never mints a token that Envoy would refuse at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from zerogate.clock import Clock
from zerogate.control import TOPIC_ENTITY_CHANGED, TOPIC_POLICY_ACTIVATED, Event, EventBus
from zerogate.gateway.check import DecisionTokens
from zerogate.gateway.envoy import Denials, EnvoyProcess

EPOCH_CHARS = 16  # as DecisionTokens puts it in `pe`
PRUNE_EVERY_S = 1.0
PDP_WAIT_S = 2.0  # the PDP follows the same feed: it is normally there first
log = logging.getLogger("zerogate.app")


class DenyList:
    """Entries with an expiry; `denials()` is what is still live."""

    def __init__(self, *, clock: Clock, keep_s: float, epoch: str | None) -> None:
        self._clock = clock
        self._keep_s = keep_s
        self._epoch = (epoch or "")[:EPOCH_CHARS]
        self._until: dict[tuple[str, str], float] = {}

    def apply(self, topic: str, payload: Mapping[str, Any]) -> None:
        """One event from the feed; events that deny nothing are ignored."""
        until = self._clock.monotonic() + self._keep_s
        if topic == TOPIC_ENTITY_CHANGED:
            ids = payload.get("session_ids")
            for sid in ids if isinstance(ids, list) else ():
                self._until[("session", str(sid))] = until
        elif topic == TOPIC_POLICY_ACTIVATED:
            new = str(payload.get("bundle") or "")[:EPOCH_CHARS]
            if self._epoch and self._epoch != new:
                self._until[("epoch", self._epoch)] = until
            self._until.pop(("epoch", new), None)  # a re-activated bundle is current again
            self._epoch = new

    def prune(self) -> bool:
        """Forget what no live token can carry any more; True if anything went."""
        now = self._clock.monotonic()
        gone = [key for key, until in self._until.items() if until <= now]
        for key in gone:
            del self._until[key]
        return bool(gone)

    @property
    def epoch(self) -> str:
        """The policy epoch the last activation named (what fresh tokens must carry)."""
        return self._epoch

    def denials(self) -> Denials:
        def of(kind: str) -> frozenset[str]:
            return frozenset(value for k, value in self._until if k == kind)

        return Denials(sessions=of("session"), users=of("user"), epochs=of("epoch"))


async def enforce_denials(
    bus: EventBus,
    envoy: EnvoyProcess,
    tokens: DecisionTokens,
    *,
    clock: Clock,
    epoch: Callable[[], str | None],
    clock_skew_s: float,
    on_revoked: Callable[[Event], None] | None = None,
) -> None:
    """Follow the feed and keep `envoy`'s deny list current until cancelled.

    `epoch()` is the bundle hash this process's PDP decides under now. `on_revoked` is given
    each event once Envoy has the deny list that applies it (time to revoke, in the metrics).
    """
    keep_s = tokens.ttl.total_seconds() + clock_skew_s + 1.0
    deny_list = DenyList(clock=clock, keep_s=keep_s, epoch=epoch())
    changed = asyncio.Event()
    applied: list[Event] = []  # since the last deny list Envoy took

    async def follow() -> None:
        after = await bus.last_seq()
        topics = [TOPIC_ENTITY_CHANGED, TOPIC_POLICY_ACTIVATED]
        async for event in bus.subscribe(topics=topics, after_seq=after):
            deny_list.apply(event.topic, event.payload)
            if on_revoked is not None:
                applied.append(event)
            changed.set()

    follower = asyncio.create_task(follow(), name="deny-list-feed")
    try:
        while True:
            try:
                async with asyncio.timeout(PRUNE_EVERY_S):
                    await changed.wait()
            except TimeoutError:
                pass
            changed.clear()
            deny_list.prune()
            await _pdp_caught_up(deny_list.epoch, epoch)
            pushed = applied[:]
            try:
                await envoy.deny(deny_list.denials())  # a no-op when nothing changed
            except Exception:  # the next round retries; Envoy keeps the list it has
                log.exception("updating the gateway's deny list failed")
            else:
                del applied[: len(pushed)]
                if on_revoked is not None:
                    for event in pushed:
                        on_revoked(event)
            if follower.done():
                follower.result()  # the feed ended: raise what ended it
                return
    finally:
        follower.cancel()


async def _pdp_caught_up(wanted: str, epoch: Callable[[], str | None]) -> None:
    """Wait (at most PDP_WAIT_S) until the local PDP decides under the `wanted` bundle."""
    if not wanted:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(PDP_WAIT_S):
            while (epoch() or "")[:EPOCH_CHARS] != wanted:  # noqa: ASYNC110 - the PDP has no event
                await asyncio.sleep(0.02)
