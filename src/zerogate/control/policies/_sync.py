"""Keeps a PDP current: loads the active bundle, then follows activations and entity changes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from zerogate._types import BundleHash
from zerogate.clock import Clock
from zerogate.control.events import Event, EventBus
from zerogate.control.policies._admin import TOPIC_POLICY_ACTIVATED, PolicyAdmin
from zerogate.errors import ZerogateError
from zerogate.policy import PDP, Bundle, DecisionCache, EntityUID, compile_bundle

TOPIC_ENTITY_CHANGED = "entity.changed"
log = logging.getLogger("zerogate.control.policies")


class PolicySync:
    """Follows the change feed for one PDP. A bundle that fails to compile leaves the old active.

    `on_error` hears the error code of each event it could not apply (the rollout-error metric).
    """

    def __init__(
        self,
        admin: PolicyAdmin,
        bus: EventBus,
        *,
        clock: Clock,
        timezone: str = "UTC",
        cache: DecisionCache | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._admin = admin
        self._on_error = on_error
        self._bus = bus
        self._clock = clock
        self._timezone = timezone
        self._cache = cache
        self._task: asyncio.Task[None] | None = None
        self.pdp: PDP | None = None
        self.applied_seq = 0
        self.errors = 0

    async def start(self, *, fallback: Bundle | None = None) -> PDP:
        """Load the active bundle (or publish `fallback` if none is active) and start following."""
        # Read the feed position first: an activation racing with start-up is then replayed.
        after = await self._bus.last_seq()
        bundle = await self._admin.active()
        if bundle is None:
            if fallback is None:
                raise ZerogateError("no active policy bundle", code="bundle_not_active")
            await self._admin.publish(fallback, actor="zerogate-startup")
            bundle = fallback
        compiled = await asyncio.to_thread(compile_bundle, bundle)
        self.pdp = PDP(compiled, clock=self._clock, timezone=self._timezone, cache=self._cache)
        self.applied_seq = after
        self._task = asyncio.create_task(self._follow(after), name="zerogate-policy-sync")
        return self.pdp

    @property
    def following(self) -> bool:
        """True while the feed follower runs; a PDP that stopped following is not ready."""
        return self._task is not None and not self._task.done()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self, after: int) -> None:
        topics = {TOPIC_POLICY_ACTIVATED, TOPIC_ENTITY_CHANGED}
        async for event in self._bus.subscribe(topics=topics, after_seq=after):
            await self.apply(event)

    async def apply(self, event: Event) -> None:
        pdp = self.pdp
        assert pdp is not None, "start() first"
        try:
            if event.topic == TOPIC_POLICY_ACTIVATED:
                bundle_hash = BundleHash(str(event.payload["bundle"]))
                if bundle_hash != pdp.bundle_hash:
                    bundle = await self._admin.load(bundle_hash)
                    pdp.activate(await asyncio.to_thread(compile_bundle, bundle))
                    log.info("policy bundle activated", extra={"bundle": bundle_hash})
            elif event.topic == TOPIC_ENTITY_CHANGED:
                uid = EntityUID(str(event.payload["type"]), str(event.payload["id"]))
                pdp.invalidate_entities([uid])
        except (ZerogateError, KeyError) as exc:
            # Keep serving the previous bundle; the error is counted and logged, never silent.
            self.errors += 1
            log.error("policy sync failed at seq %d: %s", event.seq, exc)
            if self._on_error is not None:
                self._on_error(exc.code if isinstance(exc, ZerogateError) else "event_malformed")
        self.applied_seq = event.seq
