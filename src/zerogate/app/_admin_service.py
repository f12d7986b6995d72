"""The admin console of a running Zerogate, built from the services it already runs.

The console gets the same objects the CLI commands use (`Sessions` and the `Directory` whose
changes become change-feed events, the `ClientRegistry`, the `PolicyAdmin`), the open audit
log, the process's metrics, and the gateway's own `Checker`: the console is decided like any
route (`Route::"zerogate-admin"`), and that checker already follows the change feed, so a
revoked admin session stops working on the console as fast as at the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from starlette.types import ASGIApp

from zerogate.admin import AuditView, Console, DecisionFeed, MetricsWindow, create_admin_app
from zerogate.app._pdp_service import PDPService
from zerogate.app._serve import cancel_task
from zerogate.app.admin import directory, record_session_change
from zerogate.audit import AuditLog
from zerogate.clock import Clock
from zerogate.config import Settings
from zerogate.gateway.check import Checker
from zerogate.identity import Sessions
from zerogate.identity.oidc import ClientRegistry
from zerogate.telemetry import process_metrics

SAMPLE_EVERY_S = 5.0  # the overview's rates compare snapshots this far apart (and newer)
log = logging.getLogger("zerogate.app")


@contextlib.asynccontextmanager
async def admin_service(
    settings: Settings,
    svc: PDPService,
    *,
    clock: Clock,
    audit: AuditLog,
    feed: DecisionFeed,
    checker: Checker,
    origin: str,
) -> AsyncIterator[ASGIApp]:
    """The console's ASGI app (mount it with `zerogate.admin.admin_mount`) for `origin`, the
    URL its pages are served at; its metrics sampling stops when the block ends."""
    window = MetricsWindow(process_metrics(), clock=clock)
    console = Console(
        directory=directory(svc.store, settings),
        sessions=Sessions(svc.store, on_change=record_session_change),
        clients=ClientRegistry(svc.store),
        policies=svc.admin,
        pdp=svc.pdp,
        audit=audit,
        audit_view=AuditView(
            settings.audit_dir,
            public_key=settings.audit.public_key,
            origin=settings.audit.origin,
            clock=clock,
        ),
        feed=feed,
        window=window,
        clock=clock,
        origin=_origin_of(origin),
    )
    sampler = asyncio.create_task(_sample(window))
    try:
        yield create_admin_app(console, checker=checker)
    finally:
        await cancel_task(sampler)


def _origin_of(url: str) -> str:
    """`https://login.example.com/base/` -> `https://login.example.com` (what `Origin` says)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def _sample(window: MetricsWindow) -> None:
    while True:
        try:
            window.sample()
        except Exception:  # the next round tries again; the overview shows what it has
            log.exception("sampling the check's metrics for the console failed")
        await asyncio.sleep(SAMPLE_EVERY_S)
