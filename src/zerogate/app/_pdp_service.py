"""Assembles the PDP service: store, change feed, policy sync, and the AuthZEN HTTP face."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette

from zerogate.app._secrets import sealer_for
from zerogate.authzen import create_app
from zerogate.clock import Clock
from zerogate.config import Settings
from zerogate.control import EventBus, PolicyAdmin, PolicySync, open_bus
from zerogate.errors import ConfigError, ErrorDetail, ZerogateError
from zerogate.policy import PDP, Bundle, DecisionCache
from zerogate.store import Store, open_store
from zerogate.telemetry import process_metrics

# Used by `zerogate up` from a source checkout when nothing else says which policies to load.
DEFAULT_EXAMPLES = Path("examples/policies")


@dataclass(frozen=True, slots=True)
class PDPService:
    """The running pieces, for printing where they are and for tests."""

    store: Store
    bus: EventBus
    admin: PolicyAdmin
    sync: PolicySync
    pdp: PDP
    app: Starlette


@contextlib.asynccontextmanager
async def pdp_service(
    settings: Settings, *, clock: Clock, default_bundle: Path | None = None
) -> AsyncIterator[PDPService]:
    """Open the store (migrated), follow the feed and serve AuthZEN; closes all on exit.

    With `policy.bundle_dir` set, that directory is published at start-up when it differs from
    the active bundle (configuration is the source of truth). Without it, the active bundle in
    the store is served, and `default_bundle` is published only if nothing is active yet.
    """
    startup, fallback = await asyncio.to_thread(
        _read_bundles, settings.policy.bundle_dir, default_bundle
    )
    if settings.store_url.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store_url, sealer=sealer_for(settings))
    bus: EventBus | None = None
    sync: PolicySync | None = None
    try:
        store.migrate()
        bus = open_bus(store, poll_interval_s=settings.events.poll_interval_s, clock=clock)
        admin = PolicyAdmin(store, bus, clock=clock)
        if startup is not None:
            active = await admin.active()
            if active is None or active.hash != startup.hash:
                await admin.publish(startup, actor="zerogate-config")
        cache = DecisionCache(
            clock=clock,
            ttl_s=settings.policy.decision_ttl_s,
            jitter=settings.policy.decision_ttl_jitter,
            max_entries=settings.policy.cache_size,
        )
        metrics = process_metrics()  # rollout errors and the active revision (docs/telemetry.md)
        sync = PolicySync(
            admin,
            bus,
            clock=clock,
            timezone=settings.policy.timezone,
            cache=cache,
            on_error=metrics.record_rollout_error,
        )
        try:
            pdp = await sync.start(fallback=fallback)
        except ZerogateError as exc:
            if exc.code == "bundle_not_active":
                raise ConfigError(
                    "no policy bundle is active",
                    details=[
                        ErrorDetail(
                            "config_missing",
                            "policy.bundle_dir",
                            "set policy.bundle_dir (or ZEROGATE_POLICY__BUNDLE_DIR) to a "
                            "directory of .cedar files",
                        )
                    ],
                ) from None
            raise
        follower = sync
        metrics.watch_policy(lambda: pdp.bundle_hash)
        app = create_app(
            pdp,
            max_request_bytes=settings.policy.max_request_bytes,
            ready=lambda: follower.following,
            public_url=settings.server.public_url or None,
        )
        yield PDPService(store=store, bus=bus, admin=admin, sync=sync, pdp=pdp, app=app)
    finally:
        if sync is not None:
            await sync.aclose()
        if bus is not None:
            await bus.aclose()
        store.close()


def _read_bundles(
    configured: Path | None, default: Path | None
) -> tuple[Bundle | None, Bundle | None]:
    """The configured bundle (errors if unreadable), else the default one if it exists."""
    if configured is not None:
        return Bundle.from_dir(configured), None
    if default is not None and default.is_dir():
        return None, Bundle.from_dir(default)
    return None, None
