"""`StoreKeyRing`: keys persisted in the store's `signing_keys`, shared by every node.

Every change runs under a per-purpose lock (a PostgreSQL advisory lock; SQLite's write lock)
and re-reads the rows first, so two nodes rotating at once still agree on one schedule. Between
changes a node sees other nodes' keys after `refresh()`; run it more often than the schedule's
`publish_delay`, and a key is known everywhere before anything is signed with it (OIDC-09).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime

from zerogate.store import Store
from zerogate.tokens import _db
from zerogate.tokens._keys import KeyFactory, KeyInfo
from zerogate.tokens._ring import KeyRingBase
from zerogate.tokens._schedule import (
    Plan,
    RotationSchedule,
    plan_ensure,
    plan_maintain,
    plan_revoke,
    plan_rotate,
)
from zerogate.tokens._types import Algorithm

Planner = Callable[[list[KeyInfo]], Plan]


class StoreKeyRing(KeyRingBase):
    """One purpose's keys in the store; the snapshot in memory serves `issue`/`verify`/`jwks`.

    `signer=False` gives a verifying node (a gateway) a ring that never reads private keys and
    cannot create them. Start with `await ring.refresh()` (or `maintain`), then call it on a timer.
    """

    def __init__(
        self,
        store: Store,
        *,
        purpose: str = "tokens",
        alg: Algorithm = Algorithm.ES256,
        schedule: RotationSchedule | None = None,
        signer: bool = True,
        key_factory: KeyFactory | None = None,
    ) -> None:
        super().__init__(
            purpose=purpose,
            alg=alg,
            schedule=schedule or RotationSchedule(),
            key_factory=key_factory,
        )
        self._store = store
        self._signer = signer
        self._lock = threading.Lock()  # held in worker threads: no event loop is bound

    async def refresh(self) -> None:
        """Reload this purpose's keys from the store (what other nodes rotated is seen here)."""
        await asyncio.to_thread(self._reload)

    async def ensure_active(self, now: datetime) -> KeyInfo:
        """Create a key active at once unless one already signs at `now`; returns the signer."""
        await self._change(lambda infos: plan_ensure(infos, now, self.schedule, self._new_key))
        return self._active_info(now)

    async def rotate(self, now: datetime) -> KeyInfo:
        """Add a key published now that starts signing after `publish_delay`; returns it."""
        plan = await self._change(
            lambda infos: plan_rotate(infos, now, self.schedule, self._new_key)
        )
        return self._info(plan.new[0].info.kid)

    async def revoke(self, kid: str, now: datetime) -> None:
        """Delete a compromised key everywhere (its tokens stop verifying once nodes refresh)."""
        await self._change(lambda infos: plan_revoke(infos, kid, now, self.schedule, self._new_key))

    async def maintain(self, now: datetime) -> None:
        """Ensure a signer, rotate when due, delete expired keys (private parts included)."""
        await self._change(lambda infos: plan_maintain(infos, now, self.schedule, self._new_key))

    async def _change(self, planner: Planner) -> Plan:
        if not self._signer:
            raise RuntimeError("a verification-only StoreKeyRing cannot create or remove keys")
        return await asyncio.to_thread(self._write, planner)

    def _write(self, planner: Planner) -> Plan:
        with self._lock:  # snapshots are installed in commit order
            with self._store.begin() as conn:
                _db.lock(conn, self.purpose)
                plan = planner([r.info for r in _db.load(conn, self.purpose, private=False)])
                _db.apply(conn, plan, sealer=self._store.sealer)
                records = _db.load(
                    conn, self.purpose, private=self._signer, sealer=self._store.sealer
                )
            self._install(records)  # only after the commit: never sign with an unsaved key
        return plan

    def _reload(self) -> None:
        with self._lock, self._store.connect() as conn:
            self._install(
                _db.load(conn, self.purpose, private=self._signer, sealer=self._store.sealer)
            )
