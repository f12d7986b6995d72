"""The check inside the app: ASGI and WSGI middleware, for apps with no proxy in front.

Same `Checker`, same answers as behind Envoy: a browser without a session is sent to sign in,
an API client gets a Bearer challenge, a denial is the explained 403, and an allowed request
reaches the app with the same `x-zerogate-*` headers (and assertion, if the checker signs one)
that the gateway would add. Whatever `x-zerogate-*` headers the client sent are removed first,
as Envoy's edge strip does. The app runs as one route: `route` is its Cedar `Route` id.

The client's address is the socket peer (`scope["client"]`, `REMOTE_ADDR`), never a forwarding
header: behind a proxy, put the check in the proxy instead (forward-auth or Envoy).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Receive, Scope, Send

from zerogate.gateway.check._checker import Checker
from zerogate.gateway.check._edge import read_headers, send_result
from zerogate.gateway.check._model import CheckRequest, CheckResult

SCOPE_KEY = "zerogate.check"  # the allowing CheckResult, for the app
_PREFIX = b"x-zerogate-"
_WANTED = frozenset(
    n.encode() for n in ("host", "cookie", "authorization", "accept", "x-request-id", "traceparent")
)
# WebSocket close code 1008 (policy violation, RFC 6455 §7.4.1): sent before accepting,
# which ASGI servers answer with HTTP 403.
_POLICY_VIOLATION = 1008


class CheckMiddleware:
    """ASGI: check every HTTP request and websocket handshake before `app` sees it."""

    def __init__(self, app: ASGIApp, checker: Checker, *, route: str) -> None:
        self.app = app
        self.checker = checker
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        req = _asgi_request(scope, self.route)
        result = await self.checker.check(req)
        if result.allowed:
            await self.app(_allowed_scope(scope, result), receive, send)
        elif kind == "http":
            await send_result(send, result)
        else:
            await send({"type": "websocket.close", "code": _POLICY_VIOLATION})


def _asgi_request(scope: Scope, route: str) -> CheckRequest:
    headers, repeated = read_headers(scope, _WANTED)
    raw_path = scope.get("raw_path") or scope["path"].encode()
    websocket = scope["type"] == "websocket"
    scheme = str(scope.get("scheme", "http"))
    client = scope.get("client")
    return CheckRequest(
        method="GET" if websocket else str(scope["method"]),
        host=headers.get("host", ""),
        path=raw_path.decode("latin-1"),
        query=scope.get("query_string", b"").decode("latin-1"),
        route=route,
        client_ip=str(client[0]) if client else None,
        proto={"ws": "http", "wss": "https"}.get(scheme, scheme),
        cookie=headers.get("cookie"),
        authorization=headers.get("authorization"),
        accept=headers.get("accept"),
        request_id=headers.get("x-request-id"),
        traceparent=headers.get("traceparent"),
        defect=None if repeated is None else f"repeated header: {repeated}",
    )


def _allowed_scope(scope: Scope, result: CheckResult) -> Scope:
    kept = [(k, v) for k, v in scope["headers"] if not k.lower().startswith(_PREFIX)]
    ours = [
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in result.headers
        if k.startswith("x-zerogate-")
    ]
    return {**scope, "headers": kept + ours, SCOPE_KEY: result}


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class CheckWSGIMiddleware:
    """WSGI: the same check for a synchronous app; decisions run on a private event loop thread.

    Call `close()` on shutdown to stop that thread (it is a daemon, so a forgotten close does
    not keep the process alive).
    """

    def __init__(
        self, app: WSGIApp, checker: Checker, *, route: str, timeout_s: float = 10
    ) -> None:
        self.app = app
        self.checker = checker
        self.route = route
        self._timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="zerogate-check", daemon=True
        )
        self._thread.start()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        req = _wsgi_request(environ, self.route)
        future: Future[CheckResult] = asyncio.run_coroutine_threadsafe(
            self.checker.check(req), self._loop
        )
        result = future.result(self._timeout_s)  # Checker.check never raises: it fails closed
        if not result.allowed:
            start_response(
                f"{result.status} {_REASONS.get(result.status, 'Refused')}",
                [
                    *result.headers,
                    ("content-length", str(len(result.body))),
                ],
            )
            return [result.body]
        return self.app(_allowed_environ(environ, result), start_response)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()


_REASONS = {
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


def _wsgi_request(environ: Mapping[str, Any], route: str) -> CheckRequest:
    def header(name: str) -> str | None:
        value = environ.get(f"HTTP_{name.upper().replace('-', '_')}")
        return value if isinstance(value, str) else None

    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    return CheckRequest(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        host=header("host") or str(environ.get("SERVER_NAME", "")),
        # PEP 3333 hands over the path decoded, as latin-1 text; the check wants it encoded.
        path=_quote_path(path or "/"),
        query=str(environ.get("QUERY_STRING", "")),
        route=route,
        client_ip=environ.get("REMOTE_ADDR") or None,
        proto=str(environ.get("wsgi.url_scheme", "http")),
        cookie=header("cookie"),
        authorization=header("authorization"),
        accept=header("accept"),
        request_id=header("x-request-id"),
        traceparent=header("traceparent"),
    )


def _quote_path(path: str) -> str:
    return quote(path.encode("latin-1"), safe="/:@!$&'()*+,;=-._~")


def _allowed_environ(environ: dict[str, Any], result: CheckResult) -> dict[str, Any]:
    kept = {k: v for k, v in environ.items() if not k.startswith("HTTP_X_ZEROGATE_")}
    for name, value in result.headers:
        if name.startswith("x-zerogate-"):
            kept[f"HTTP_{name.upper().replace('-', '_')}"] = value
    kept[SCOPE_KEY] = result
    return kept
