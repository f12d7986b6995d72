"""Runs ASGI apps with uvicorn inside our own event loop, with a start-up banner.

`serve` runs the front app until SIGINT/SIGTERM; `background_server` runs a companion (the check
service, the demo app) on a socket of its own that stops when the block ends, so one signal
stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette


async def serve(
    app: Starlette,
    *,
    host: str,
    port: int,
    on_started: Callable[[str], None] | None = None,
    log_level: str = "warning",
) -> None:
    """Serve until SIGINT/SIGTERM; `on_started` gets the base URL once the socket listens."""
    server = uvicorn.Server(_config(app, host=host, port=port, log_level=log_level))
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no started event
        await asyncio.sleep(0.02)
    if server.started and on_started is not None:
        bound_port = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        on_started(f"http://{host}:{bound_port}")
    await task


class _Companion(uvicorn.Server):
    """A server that leaves signals to the front server and stops when told to."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def background_server(app: Any, sock: socket.socket) -> AsyncIterator[None]:
    """Serve `app` on an already bound `sock` while the block runs."""
    server = _Companion(_config(app, host=None, port=None, log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # noqa: ASYNC110 - as above
        await asyncio.sleep(0.01)
    if task.done():
        await task  # start-up failed: raise it here
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def cancel_task(task: asyncio.Task[None]) -> None:
    """Cancel a background task and wait until it has stopped (for exit stacks)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now, for components that must know it before binding.

    Picked below the kernel's ephemeral range: a port the OS hands out for `bind(0)` or an
    outgoing connection could be taken again by anyone between this probe and the real bind
    (seen in CI as Envoy's `Address already in use`); ports outside that range are only ever
    taken on purpose."""
    low = _ephemeral_low()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(_PROBES):
        port = secrets.randbelow(low - _FIRST_PORT) + _FIRST_PORT
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(family, socket.SOCK_STREAM) as probe:  # crowded: let the OS choose
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


_FIRST_PORT = 10000  # below: well-known and commonly configured service ports
_PROBES = 50
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_low() -> int:
    """Where the OS starts handing out ports (Linux; the IANA range 49152 elsewhere)."""
    try:
        low = int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 49152
    return low if low > _FIRST_PORT + 1000 else 49152


def loopback_socket(port: int = 0) -> socket.socket:
    """A TCP socket bound on 127.0.0.1 (`port` 0: one the OS picks)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def _config(app: Any, *, host: str | None, port: int | None, log_level: str) -> uvicorn.Config:
    options: dict[str, Any] = {"host": host, "port": port} if host is not None else {}
    return uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="off",
        access_log=False,
        server_header=False,
        **options,
    )


def stop_on_sigterm() -> None:
    """Make SIGTERM (systemd, `timeout`, `docker stop`) end us like Ctrl-C does: by unwinding,
    so child processes such as Envoy are stopped rather than left behind."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
