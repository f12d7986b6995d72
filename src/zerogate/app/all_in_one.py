"""`zerogate up`: everything on one machine with embedded defaults (SQLite, example policies)."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from zerogate.app._pdp_service import DEFAULT_EXAMPLES, PDPService, pdp_service
from zerogate.app._serve import serve
from zerogate.clock import SystemClock
from zerogate.config import Settings


def run_all_in_one(settings: Settings, *, out: TextIO = sys.stdout) -> None:
    """Start the PDP with its AuthZEN face; blocks until interrupted."""
    asyncio.run(_main(settings, out))


async def _main(settings: Settings, out: TextIO) -> None:
    async with pdp_service(settings, clock=SystemClock(), default_bundle=DEFAULT_EXAMPLES) as svc:

        def started(base: str) -> None:
            print(banner(svc, base), file=out, flush=True)

        await serve(
            svc.app, host=settings.server.host, port=settings.server.port, on_started=started
        )


def banner(svc: PDPService, base: str) -> str:
    """What a person needs to try the running service right away."""
    bundle = svc.pdp.bundle
    example = (
        '{"subject": {"type": "User", "id": "pat", "properties": {"attrs": {"email": '
        '"pat@example.test"}, "parents": [{"type": "Group", "id": "employees"}]}}, '
        '"action": {"name": "GET"}, "resource": {"type": "Route", "id": "wiki-web"}, '
        '"context": {"authn": {"mfa": true, "amr": ["pwd", "otp"], "auth_age_s": 60, '
        '"idp": "zerogate"}, "network": {"ip": "198.51.100.7", "tls": true}, '
        '"risk": {"score": 5, "signals": []}}}'
    )
    return "\n".join(
        [
            "Zerogate is up.",
            f"  store          {svc.store.redacted}",
            f"  policy bundle  {bundle.hash[:12]} ({len(bundle.base.sources)} policies)",
            f"  PDP (AuthZEN)  {base}/access/v1/evaluation",
            f"  health         {base}/healthz",
            "",
            "Ask it a question:",
            f"  curl -s {base}/access/v1/evaluation -H 'content-type: application/json' \\",
            f"    -d '{example}'",
            "",
            "Press Ctrl+C to stop.",
        ]
    )
