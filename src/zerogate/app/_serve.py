"""Runs an ASGI app with uvicorn inside our own event loop, with a start-up banner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

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
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="off",
        access_log=False,
        server_header=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no started event
        await asyncio.sleep(0.02)
    if server.started and on_started is not None:
        bound_port = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        on_started(f"http://{host}:{bound_port}")
    await task
