"""Helpers for the Envoy tests: free ports, a gateway factory, raw HTTP/1.1 on one socket, and
the two stand-in services (an upstream that records what reached it, and a check service whose
answer each test picks). The stand-ins are fixtures, not Zerogate's check service."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route as HTTPRoute
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from zerogate.app import free_port
from zerogate.gateway.envoy import Gateway, Route

T = TypeVar("T")
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


def run(coro: Coroutine[Any, Any, T], *, timeout_s: float = 60.0) -> T:
    """Run an async scenario from a sync test, failing (not hanging) after `timeout_s`."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout_s):
            return await coro

    return asyncio.run(bounded())


async def until(condition: Callable[[], Awaitable[bool]], *, poll_s: float = 0.01) -> None:
    """Wait for `condition`; the caller's `run` timeout bounds it (no wall-clock asserts)."""
    while True:
        if await condition():
            return
        await asyncio.sleep(poll_s)


def dead_url() -> str:
    """An http URL on a port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"


def make_gateway(authz_url: str, *routes: Route, **options: Any) -> Gateway:
    return Gateway(
        listen_port=options.pop("listen_port", None) or free_port(),
        admin_port=options.pop("admin_port", None) or free_port(),
        authz_url=authz_url,
        routes=routes,
        **options,
    )


@dataclass
class Seen:
    """One request as a stand-in service received it."""

    method: str
    path: str  # with the query string
    headers: list[tuple[str, str]]

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]

    def one(self, name: str) -> str | None:
        values = self.all(name)
        assert len(values) <= 1, f"{name} arrived {len(values)} times: {values}"
        return values[0] if values else None


def _seen(request: Request) -> Seen:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
    return Seen(method=request.method, path=path, headers=headers)


@dataclass
class Upstream:
    """An app behind the gateway: answers 200 with what it saw; websocket echo at /ws."""

    seen: list[Seen] = field(default_factory=list)

    def reset(self) -> None:
        self.seen.clear()

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            seen = _seen(request)
            self.seen.append(seen)
            return JSONResponse({"path": seen.path, "headers": seen.headers})

        async def echo(websocket: WebSocket) -> None:
            await websocket.accept()
            user = websocket.headers.get("x-zerogate-user", "")
            async for text in websocket.iter_text():
                await websocket.send_text(f"{user}:{text}")

        return Starlette(
            routes=[
                WebSocketRoute("/ws", echo),
                HTTPRoute("/{path:path}", answer, methods=METHODS),
            ]
        )


@dataclass
class CheckStandIn:
    """Answers like the real check service will: `/check{path}`, 200 + `x-zerogate-*` to allow,
    anything else to deny. `mode` picks the answer: allow, deny, redirect, error, slow."""

    mode: str = "allow"
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def reset(self) -> None:
        self.mode = "allow"
        self.seen.clear()
        self.release.clear()

    def app(self) -> Starlette:
        async def check(request: Request) -> Response:
            self.seen.append(_seen(request))
            if self.mode == "allow":
                headers = {
                    "x-zerogate-user": "alice",
                    "x-zerogate-assertion": "signed.jwt.here",
                    "x-not-for-upstream": "internal",
                    "set-cookie": "session=refreshed; HttpOnly",
                }
                return PlainTextResponse("", headers=headers)
            if self.mode == "deny":
                headers = {
                    "www-authenticate": 'Bearer realm="zerogate"',
                    "x-internal-reason": "policy 7 said no",
                    "x-zerogate-decision-id": "d-1",
                }
                return PlainTextResponse("denied by policy\n", status_code=403, headers=headers)
            if self.mode == "redirect":
                headers = {"location": "https://login.test/start", "set-cookie": "state=abc"}
                return Response(status_code=302, headers=headers)
            if self.mode == "error":
                return PlainTextResponse("boom\n", status_code=500)
            # slow: until the test releases it (or a bound), so the server can stop promptly
            await asyncio.to_thread(self.release.wait, 10)
            return PlainTextResponse("", headers={"x-zerogate-user": "too-late"})

        return Starlette(routes=[HTTPRoute("/{path:path}", check, methods=METHODS)])


class RawClient:
    """HTTP/1.1 on one socket we hold, so a test knows a keep-alive connection is reused, and
    can send paths and headers an HTTP library would tidy up first."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> RawClient:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()

    async def get(
        self, target: str, *, host: str, headers: Sequence[tuple[str, str]] = ()
    ) -> tuple[int, dict[str, str], bytes]:
        assert self._reader is not None
        assert self._writer is not None
        lines = [f"GET {target} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in headers]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await self._writer.drain()
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        answer: dict[str, str] = {}
        for line in filter(None, header_lines):
            name, _, value = line.partition(":")
            answer[name.strip().lower()] = value.strip()
        length = int(answer.get("content-length", "0"))
        body = await self._reader.readexactly(length) if length else b""
        return status, answer, body

    @property
    def closed(self) -> bool:
        return self._reader is None or self._reader.at_eof()
