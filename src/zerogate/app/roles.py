"""`zerogate serve ROLE`: one replica of one service, sharing the store with the others."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from zerogate.app._idp_service import idp_service
from zerogate.app._pdp_service import pdp_service
from zerogate.app._serve import serve, stop_on_sigterm
from zerogate.app.admin import open_migrated
from zerogate.clock import SystemClock
from zerogate.config import Settings
from zerogate.errors import ConfigError, ErrorDetail

ROLES = ("pdp", "idp")


def run_role(role: str, settings: Settings, *, out: TextIO = sys.stdout) -> None:
    """Run one role until interrupted. Raises ConfigError for an unknown role."""
    if role not in ROLES:
        raise ConfigError(
            f"unknown role {role!r}",
            details=[ErrorDetail("role_unknown", "ROLE", f"choose one of: {', '.join(ROLES)}")],
        )
    stop_on_sigterm()
    asyncio.run(_pdp(settings, out) if role == "pdp" else _idp(settings, out))


async def _pdp(settings: Settings, out: TextIO) -> None:
    async with pdp_service(settings, clock=SystemClock()) as svc:

        def started(base: str) -> None:
            print(
                f"zerogate pdp: bundle {svc.pdp.bundle_hash[:12]}, AuthZEN at {base}",
                file=out,
                flush=True,
            )

        await serve(
            svc.app, host=settings.server.host, port=settings.server.port, on_started=started
        )


async def _idp(settings: Settings, out: TextIO) -> None:
    """Sign-in pages and the OpenID provider; `server.public_url` (https) is required."""
    public_url = settings.server.public_url
    if not public_url:
        raise ConfigError(
            "the IdP needs the URL people sign in at",
            details=[ErrorDetail("config_missing", "server.public_url", "set the https origin")],
        )
    clock = SystemClock()
    store = open_migrated(settings)
    try:
        async with idp_service(store, settings, clock=clock, public_url=public_url) as app:

            def started(base: str) -> None:
                print(
                    f"zerogate idp: issuer {public_url}, listening at {base}", file=out, flush=True
                )

            await serve(
                app, host=settings.server.host, port=settings.server.port, on_started=started
            )
    finally:
        store.close()
