"""The check as Envoy's ext_authz HTTP service: `{method} /check{original path}` in, verdict out.

Envoy's `http_service` (with `path_prefix: /check`) calls us with the original method and path,
the request headers it is allowed to send, and `x-zerogate-route` (which it set after removing
any client copy). A 200 lets the request through with our `x-zerogate-*` headers added; any other
answer goes back to the client as it is.

What Envoy must send: `cookie`, `authorization`, `accept`, `x-forwarded-proto`,
`x-forwarded-for`, `x-request-id`, `traceparent`, `host` (its `:authority`) and the route header.
`x-forwarded-host` is not used: Envoy passes a client's copy through unchanged, while `host` is
the authority Envoy routed on. On webhook routes Envoy also sends the request body (whole, or a
413 to the client instead) and the route's signature and timestamp headers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from zerogate.errors import ConfigError, ErrorDetail
from zerogate.gateway.check._checker import Checker
from zerogate.gateway.check._edge import health, read_body, read_headers, send_result
from zerogate.gateway.check._envoy_request import (
    envoy_check_request,
    public_port_of,
    wanted_headers,
)
from zerogate.gateway.check._model import CheckRequest
from zerogate.gateway.check._webhooks import MAX_WEBHOOK_BODY_BYTES

HEALTH_PATH = "/healthz"


def create_app(
    checker: Checker,
    *,
    path_prefix: str = "/check",
    ready: Callable[[], bool] | None = None,
    public_port: int | None = None,
) -> Starlette:
    """The ext_authz HTTP face: any method on `{path_prefix}/...`, and `GET /healthz`.

    `ready` gates `/healthz` (503 until it returns True), as for the AuthZEN app. Envoy strips
    the port from `Host` before routing; `public_port` (the gateway's, when not 80/443) puts it
    back into the URLs browsers are sent back to after signing in.
    """
    if not path_prefix.startswith("/") or path_prefix.endswith("/") or "{" in path_prefix:
        raise ConfigError(
            "path_prefix must start with '/' and not end with one",
            details=[ErrorDetail("config_invalid", "path_prefix", repr(path_prefix))],
        )
    routes = [
        Route(f"{path_prefix}/{{path:path}}", _ExtAuthz(checker, path_prefix, public_port)),
        Route(HEALTH_PATH, health(ready), methods=["GET"]),
    ]
    return Starlette(routes=routes)


class _ExtAuthz:
    """An ASGI endpoint (not a function, so Starlette passes the raw scope through)."""

    def __init__(self, checker: Checker, prefix: str, public_port: int | None) -> None:
        self._checker = checker
        self._prefix_len = len(prefix)
        self._port = public_port_of(public_port)
        self._extra = tuple(sorted(checker.webhook_headers))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive, MAX_WEBHOOK_BODY_BYTES)
        req = translate(scope, self._prefix_len, self._port, body=body, extra=self._extra)
        result = await self._checker.check(req)
        await send_result(send, result)


def translate(
    scope: Scope,
    prefix_len: int,
    public_port: int | None = None,
    *,
    body: bytes = b"",
    extra: Collection[str] = (),
) -> CheckRequest:
    """An ext_authz request as a `CheckRequest`: the original path is what follows the prefix.

    The raw (still percent-encoded) path is used, so the URL we send a browser back to is the
    one it asked for, byte for byte. `extra` names headers to keep in `extra_headers`.
    """
    headers, repeated = read_headers(scope, wanted_headers(extra))
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    root = scope.get("root_path", "").encode("utf-8")
    if root and raw_path.startswith(root):  # uvicorn's raw_path includes --root-path
        raw_path = raw_path[len(root) :]
    return envoy_check_request(
        method=scope["method"],
        host=headers.get("host", ""),
        path=raw_path[prefix_len:].decode("latin-1"),
        query=scope["query_string"].decode("latin-1"),
        headers=headers,
        repeated=repeated,
        public_port=public_port,
        body=body,
        extra=extra,
    )


__all__ = ["HEALTH_PATH", "create_app", "translate"]
