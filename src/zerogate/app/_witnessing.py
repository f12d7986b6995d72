"""Witnesses for the audit log (docs/audit.md "Witnesses"): the log's submitting task, and the
`zerogate witness serve` HTTP server.

`witnessing(settings, audit)` runs while `zerogate up` runs: it sends each checkpoint the log
signs to the witnesses in `[audit] witnesses` and keeps their cosignatures in `witnessed/`
(it never blocks an append). `witness_app` is the witness's one endpoint,
`POST /add-checkpoint` (c2sp.org/tlog-witness); the protocol itself is `zerogate.audit.Witness`,
this module only maps its refusals to HTTP answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from zerogate.app._serve import cancel_task, serve, stop_on_sigterm
from zerogate.audit import (
    SIZE_MEDIA_TYPE,
    AuditLog,
    CosignatureVerifier,
    NoteVerifier,
    Witness,
    WitnessClient,
    WitnessError,
    Witnessing,
    WitnessState,
    load_witness_key,
)
from zerogate.clock import Clock, SystemClock
from zerogate.config import Settings

log = logging.getLogger("zerogate.app")
_TIMEOUT_S = 10.0
_MAX_BODY = 256 * 1024  # the protocol's own limit (zerogate.audit.AddCheckpoint) is the same


@contextlib.asynccontextmanager
async def witnessing(
    settings: Settings, audit: AuditLog, *, poll_s: float = 1.0
) -> AsyncIterator[Witnessing | None]:
    """Submit the log's checkpoints to `[audit] witnesses` while the block runs (None: none
    configured). The yielded object's `stats` are the counts for metrics."""
    conf = settings.audit
    if not conf.witnesses:
        yield None
        return
    async with httpx.AsyncClient(timeout=_TIMEOUT_S, follow_redirects=False) as http:
        clients = [
            WitnessClient(w.url, CosignatureVerifier.from_vkey(w.vkey), http=http)
            for w in conf.witnesses
        ]
        runner = Witnessing(
            settings.audit_dir,
            audit.signer.verifier(),
            clients,
            origin=audit.origin,
            quorum=conf.witness_quorum or None,
            poll_s=poll_s,
        )
        task = asyncio.create_task(runner.run(), name="audit-witnessing")
        try:
            yield runner
        finally:
            await cancel_task(task)


def witness_app(witness: Witness) -> Starlette:
    """The witness's HTTP face: `POST /add-checkpoint` and nothing else."""

    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MAX_BODY:
                return PlainTextResponse("the request is too large\n", status_code=413)
        try:
            line = await asyncio.to_thread(witness.add_checkpoint, bytes(body))
        except WitnessError as exc:
            if exc.size is not None:  # tlog-witness: the size, a newline, text/x.tlog.size
                return Response(  # exactly this type: no charset parameter added
                    f"{exc.size}\n", status_code=409, headers={"content-type": SIZE_MEDIA_TYPE}
                )
            # A bad or unknown-log request is anyone's noise; a signed checkpoint refused is news.
            level = logging.WARNING if exc.status in (403, 409, 422) else logging.INFO
            log.log(
                level,
                "witness: refused a checkpoint (%s)",
                exc.code,
                extra={"code": exc.code, "status": exc.status, "reason": exc.message},
            )
            status = exc.status or 500
            return PlainTextResponse(f"{exc.message}\n", status_code=status)
        return PlainTextResponse(line)

    return Starlette(routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"])])


def run_witness(
    *,
    key_file: Path,
    logs: Mapping[str, Sequence[NoteVerifier]],
    state_dir: Path,
    host: str,
    port: int,
    out: TextIO = sys.stdout,
    clock: Clock | None = None,
) -> None:
    """`zerogate witness serve`: check the key and the stored state, then serve until stopped."""
    signer = load_witness_key(key_file)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    witness = Witness(signer, logs, WitnessState(state_dir), clock=clock or SystemClock())
    sizes = witness.check_state()  # a damaged state stops the witness here, never resets it
    stop_on_sigterm()

    def started(base: str) -> None:
        held = ", ".join(f"{origin} at {size}" for origin, size in sorted(sizes.items()))
        print(f"zerogate witness {signer.verifier().vkey}", file=out)
        print(f"  {base}/add-checkpoint; logs: {held}", file=out, flush=True)

    asyncio.run(serve(witness_app(witness), host=host, port=port, on_started=started))
