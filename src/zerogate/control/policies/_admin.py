"""The policy administrator: stores validated bundles and activates them, announcing each change."""

from __future__ import annotations

import asyncio

from zerogate._types import BundleHash
from zerogate.clock import Clock
from zerogate.control.events import EventBus, append_event
from zerogate.control.policies import _db
from zerogate.control.policies._db import Activation
from zerogate.errors import NotFound
from zerogate.policy import Bundle, CompiledBundle, compile_bundle
from zerogate.store import Store

TOPIC_POLICY_ACTIVATED = "policy.activated"


class PolicyAdmin:
    """Bundles go in only if they compile; activation and its event commit in one transaction."""

    def __init__(self, store: Store, bus: EventBus, *, clock: Clock) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock

    async def save(self, bundle: Bundle, *, actor: str | None = None) -> CompiledBundle:
        """Validate and store a bundle (idempotent). Raises PolicyError; nothing is stored then."""
        compiled = await asyncio.to_thread(compile_bundle, bundle)
        manifest: dict[str, object] = {
            "policies": len(compiled.base.sources),
            "files": sorted(bundle.files),
        }

        def write() -> None:
            with self._store.begin() as conn:
                _db.insert_bundle(
                    conn,
                    bundle_hash=bundle.hash,
                    files=dict(bundle.files),
                    manifest=manifest,
                    now=self._clock.now(),
                    actor=actor,
                )

        await asyncio.to_thread(write)
        return compiled

    async def activate(self, bundle_hash: BundleHash, *, actor: str | None = None) -> Activation:
        """Make a stored bundle the active one everywhere. Raises NotFound for unknown hashes."""

        def write() -> Activation:
            with self._store.begin() as conn:
                if _db.bundle_files(conn, bundle_hash) is None:
                    raise NotFound(
                        f"no stored policy bundle {bundle_hash[:12]}", code="bundle_not_found"
                    )
                now = self._clock.now()
                activation = _db.insert_activation(
                    conn, bundle_hash=bundle_hash, now=now, actor=actor
                )
                # Same transaction: every subscriber sees the activation iff it committed.
                payload = {"bundle": bundle_hash} | ({"actor": actor} if actor else {})
                append_event(conn, TOPIC_POLICY_ACTIVATED, payload, key=bundle_hash, now=now)
                return activation

        return await asyncio.to_thread(write)

    async def publish(self, bundle: Bundle, *, actor: str | None = None) -> Activation:
        """Save then activate: the one call `zerogate policy push` and the admin API make."""
        await self.save(bundle, actor=actor)
        return await self.activate(bundle.hash, actor=actor)

    async def load(self, bundle_hash: BundleHash) -> Bundle:
        def read() -> dict[str, str] | None:
            with self._store.connect() as conn:
                return _db.bundle_files(conn, bundle_hash)

        files = await asyncio.to_thread(read)
        if files is None:
            raise NotFound(f"no stored policy bundle {bundle_hash[:12]}", code="bundle_not_found")
        return Bundle(files)

    async def active(self) -> Bundle | None:
        history = await self.history(limit=1)
        return await self.load(history[0].bundle_hash) if history else None

    async def history(self, *, limit: int = 20) -> list[Activation]:
        def read() -> list[Activation]:
            with self._store.connect() as conn:
                return _db.activations(conn, limit=limit)

        return await asyncio.to_thread(read)
