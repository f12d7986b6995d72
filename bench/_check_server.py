"""The real check service in a process of its own, for `bench/gateway.py`.

Run: `python bench/_check_server.py --store PATH --ext-authz-port N [--forward-auth-port M]
[--grpc-port G] [--no-decision-cache] [--no-session-cache] [--no-events]`.

It is what `zerogate up` runs, assembled by hand so the bench can vary one thing at a time: a
`Checker` over a real PDP on `examples/policies`, real `Sessions`/`Directory` on the SQLite store
the bench prepared, signed identity assertions for the upstream (`AssertionSigner`, one ES256
token per session and route, reused for a minute), served by uvicorn with uvloop and httptools
(the baseline's recommendation); with `--grpc-port` the same `Checker` is also served as the
ext_authz gRPC face (grpcio's asyncio server, started before the HTTP faces, so a healthy HTTP
face means a listening gRPC one). Not included: webhook routes and the per-host hand-off cookie.
With events on it follows the store's change feed like `zerogate up` does
(`entity.changed` -> `Checker.entity_changed`, and the PDP drops decisions about the entity as
`PolicySync` would). SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
import uvloop
from starlette.requests import Request
from starlette.responses import JSONResponse

from zerogate.app._audit_service import AuditRecorder, fan_out
from zerogate.audit import AuditLog
from zerogate.clock import SystemClock
from zerogate.control import TOPIC_ENTITY_CHANGED, EventBus, open_bus
from zerogate.gateway.check import (
    AssertionSigner,
    Checker,
    DecisionTokens,
    SessionCache,
    create_app,
    create_forward_auth_app,
    start_grpc_check_server,
)
from zerogate.identity import Directory, Sessions
from zerogate.policy import PDP, Bundle, DecisionCache, EntityUID, compile_bundle
from zerogate.store import open_store
from zerogate.telemetry import CheckMetrics, process_metrics
from zerogate.tokens import KeyRing

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "policies"
ISSUER = "https://login.zerogate.test"
POLL_INTERVAL_S = 0.2  # `[events] poll_interval_s`, the SQLite default


class _Quiet(uvicorn.Server):
    """A uvicorn server that leaves signals to us (two of them share one process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _server(app: Any, port: int) -> tuple[_Quiet, socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        server_header=False,
        date_header=False,
        log_level="warning",
    )
    return _Quiet(config), sock


async def _follow(bus: EventBus, checker: Checker, pdp: PDP) -> None:
    after = await bus.last_seq()
    async for event in bus.subscribe(topics=[TOPIC_ENTITY_CHANGED], after_seq=after):
        checker.entity_changed(event.payload)
        pdp.invalidate_entities([EntityUID(str(event.payload["type"]), str(event.payload["id"]))])


async def serve(args: argparse.Namespace) -> None:
    clock = SystemClock()
    store = open_store(f"sqlite:///{args.store}")
    cache = DecisionCache(clock=clock, ttl_s=15.0) if args.decision_cache else None
    pdp = PDP(compile_bundle(Bundle.from_dir(EXAMPLES)), clock=clock, cache=cache)
    audit = await AuditLog.open(args.audit_dir) if args.audit_dir else None
    keys = KeyRing()  # signs the assertions; no bearer token is ever presented
    keys.ensure_active(clock.now() - timedelta(minutes=5))
    checker = Checker(
        pdp,
        Sessions(store),
        Directory(store),
        keys,
        issuer=ISSUER,
        clock=clock,
        login_url=f"{ISSUER}/login",
        session_cache=SessionCache(clock=clock) if args.session_cache else None,
        assertions=AssertionSigner(keys, issuer=ISSUER),  # as `zerogate up`: reused per session
        decision_tokens=DecisionTokens(keys, issuer=ISSUER) if args.decision_tokens else None,
        on_decision=fan_out(
            CheckMetrics(process_metrics()), AuditRecorder(audit) if audit is not None else None
        ),
    )
    grpc_server = None
    if args.grpc_port:
        grpc_server = await start_grpc_check_server(checker, port=args.grpc_port)
    ext_authz = create_app(checker)

    async def jwks(request: Request) -> JSONResponse:  # what Envoy fetches for local decisions
        return JSONResponse(keys.jwks(clock.now()))

    ext_authz.add_route("/jwks.json", jwks, methods=["GET"])
    servers = [_server(ext_authz, args.ext_authz_port)]
    if args.forward_auth_port:
        servers.append(_server(create_forward_auth_app(checker), args.forward_auth_port))
    bus = open_bus(store, poll_interval_s=POLL_INTERVAL_S, clock=clock) if args.events else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in servers]
    if bus is not None:
        tasks.append(asyncio.create_task(_follow(bus, checker, pdp)))
    try:
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:  # a server that failed ends the process with its error
            if task.done() and not task.cancelled() and (error := task.exception()) is not None:
                raise error
    finally:
        for server, _ in servers:
            server.should_exit = True
        for task in tasks[len(servers) :]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if bus is not None:
            await bus.aclose()
        if audit is not None:
            await audit.close()
        for _, sock in servers:
            sock.close()
        if grpc_server is not None:
            await grpc_server.aclose()
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="the bench's SQLite file")
    parser.add_argument("--ext-authz-port", type=int, required=True)
    parser.add_argument("--forward-auth-port", type=int, default=0)
    parser.add_argument("--grpc-port", type=int, default=0, help="also serve ext_authz over gRPC")
    parser.add_argument("--no-decision-cache", dest="decision_cache", action="store_false")
    parser.add_argument("--no-session-cache", dest="session_cache", action="store_false")
    parser.add_argument("--no-events", dest="events", action="store_false")
    parser.add_argument(
        "--audit-dir",
        type=Path,
        help="record every decision there and in the metrics, as `up` does",
    )
    parser.add_argument(
        "--decision-tokens", action="store_true", help="mint decision tokens; serve /jwks.json"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    uvloop.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
