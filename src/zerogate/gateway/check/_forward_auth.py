"""The check as a forward-auth endpoint for nginx `auth_request`, Caddy `forward_auth` and Traefik.

These proxies call one URL for every request and describe the original in headers:
- nginx (by our documented config): `X-Original-Method`, `X-Original-URI`;
- Caddy and Traefik: `X-Forwarded-Method`, `X-Forwarded-Uri`, `X-Forwarded-Host`,
  `X-Forwarded-Proto`;
plus `X-Forwarded-For` (the last entry is the peer the proxy saw) and `X-Zerogate-Route`, which
the proxy config sets per site after dropping any client copy.

Caddy and Traefik return a non-2xx answer to the client as it is, so redirects work directly.
An allow also names the route it was decided for (`X-Zerogate-Route`): Traefik's
`authResponseHeadersRegex: ^X-Zerogate-` first strips every client `X-Zerogate-*` header, then
copies ours, so the app gets the route from us (nginx and Caddy copy only the names they list).
nginx's `auth_request` understands only 2xx, 401 and 403 (anything else becomes a 500), so when
`X-Original-URI` is present a redirect is answered as 401 keeping its `Location`, for
`error_page 401 = @login` to follow, and other refusals as 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from zerogate.errors import ConfigError, ErrorDetail
from zerogate.gateway.check._checker import Checker
from zerogate.gateway.check._edge import (
    ROUTE_HEADER,
    health,
    last_hop,
    read_headers,
    send_result,
    split_uri,
)
from zerogate.gateway.check._ext_authz import HEALTH_PATH
from zerogate.gateway.check._model import CheckRequest, CheckResult

_WANTED = frozenset(
    name.encode("ascii")
    for name in (
        "host",
        "cookie",
        "authorization",
        "accept",
        "x-original-method",
        "x-original-uri",
        "x-forwarded-method",
        "x-forwarded-uri",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-forwarded-for",
        "x-request-id",
        "traceparent",
        ROUTE_HEADER,
    )
)


def create_forward_auth_app(
    checker: Checker, *, path: str = "/forward-auth", ready: Callable[[], bool] | None = None
) -> Starlette:
    """The forward-auth face: any method on `path`, and `GET /healthz`."""
    if not path.startswith("/") or "{" in path or path == HEALTH_PATH:
        raise ConfigError(
            "path must start with '/' and not be /healthz",
            details=[ErrorDetail("config_invalid", "path", repr(path))],
        )
    routes = [
        Route(path, _ForwardAuth(checker)),
        Route(HEALTH_PATH, health(ready), methods=["GET"]),
    ]
    return Starlette(routes=routes)


class _ForwardAuth:
    def __init__(self, checker: Checker) -> None:
        self._checker = checker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        req, nginx = translate_forward_auth(scope)
        result = await self._checker.check(req)
        if result.allowed and req.route:
            result = replace(result, headers=(*result.headers, (ROUTE_HEADER, req.route)))
        await send_result(send, result, status=nginx_status(result) if nginx else None)


def translate_forward_auth(scope: Scope) -> tuple[CheckRequest, bool]:
    """The original request the proxy describes, and whether it is nginx (`X-Original-URI`)."""
    headers, repeated = read_headers(scope, _WANTED)
    nginx = "x-original-uri" in headers
    if nginx:
        method, uri = headers.get("x-original-method"), headers.get("x-original-uri")
    else:
        method, uri = headers.get("x-forwarded-method"), headers.get("x-forwarded-uri")
    defect = None if repeated is None else f"repeated header: {repeated}"
    if method is None or uri is None:
        defect = defect or "the proxy did not send the original method and URI"
    path, query = split_uri(uri or "/")
    request = CheckRequest(
        method=method or "GET",
        host=headers.get("x-forwarded-host") or headers.get("host", ""),
        path=path,
        query=query,
        route=headers.get(ROUTE_HEADER),
        client_ip=last_hop(headers.get("x-forwarded-for")),
        proto=headers.get("x-forwarded-proto", "http"),
        cookie=headers.get("cookie"),
        authorization=headers.get("authorization"),
        accept=headers.get("accept"),
        request_id=headers.get("x-request-id"),
        traceparent=headers.get("traceparent"),
        defect=defect,
    )
    return request, nginx


def nginx_status(result: CheckResult) -> int:
    """What nginx `auth_request` can act on: 200, 401 (sign in: `Location` says where), or 403."""
    if result.status in (200, 401, 403):
        return result.status
    if result.status in (301, 302, 303, 307):
        return 401
    return 403


__all__ = ["create_forward_auth_app", "nginx_status", "translate_forward_auth"]
