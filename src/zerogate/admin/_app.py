"""The console as one ASGI app, protected by Zerogate's own check.

Everything but the two static files goes through `CheckMiddleware` as the Cedar route
`Route::"zerogate-admin"`: a browser without a session is sent to sign in, one whose session
lacks what the policy asks (a second factor, for the shipped `console.cedar`) is sent to step
up, anyone else the policy refuses gets the explained 403, and every one of those decisions is
audited like any gateway decision. The stylesheet and the script are the same for everyone and
hold nothing secret, so they are served without a check (and without a decision per asset).
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from zerogate.admin._api import OPERATIONS
from zerogate.admin._console import Console
from zerogate.admin._http import error_response, json_response
from zerogate.admin._openapi import OPENAPI_PATH, openapi_document
from zerogate.admin._pages import PAGE_HEADERS, Pages, page_routes
from zerogate.admin._routing import API_PREFIX, api_routes
from zerogate.errors import ZerogateError
from zerogate.gateway.check import Checker, CheckMiddleware

ADMIN_PATH = "/admin"  # where `zerogate up` mounts the console
ADMIN_ROUTE = "zerogate-admin"  # its Cedar route: Route::"zerogate-admin"
STATIC_FILES = {"admin.css": "text/css", "admin.js": "text/javascript"}
_STATIC = resources.files("zerogate.admin") / "static"


def create_admin_app(console: Console, *, checker: Checker, route: str = ADMIN_ROUTE) -> ASGIApp:
    """The console's pages, its API and the API's OpenAPI document, behind `checker`."""
    pages = Pages()
    document = admin_openapi()

    async def openapi(request: Request) -> Response:
        return json_response(document)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        message = {404: "no such page", 405: "method not allowed here"}.get(
            exc.status_code, exc.detail
        )
        if request.url.path.startswith(request.scope.get("root_path", "") + API_PREFIX):
            error = ZerogateError(message, code=code, status=exc.status_code)
            return error_response(error, dict(exc.headers or {}))
        base = request.scope.get("root_path", "")
        response = pages.render(
            "error.html",
            status=exc.status_code,
            base=base,
            api=base + API_PREFIX,
            nav=(),
            current="",
            user="",
            code=code,
            message=message,
        )
        response.headers.update(dict(exc.headers or {}))
        return response

    inner = Starlette(
        routes=[
            Route(API_PREFIX + OPENAPI_PATH, openapi, methods=["GET"]),
            *api_routes(console, OPERATIONS),
            *page_routes(console, pages),
        ],
        exception_handlers={HTTPException: refused},
    )
    static = {name: (_STATIC / name).read_bytes() for name in STATIC_FILES}

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in static:
            return Response(b"", status_code=404, headers=PAGE_HEADERS)
        headers = {**PAGE_HEADERS, "cache-control": "no-cache"}
        return Response(static[name], media_type=STATIC_FILES[name], headers=headers)

    assets = Starlette(routes=[Route("/static/{name}", asset, methods=["GET"])])
    protected = CheckMiddleware(inner, checker, route=route)

    async def console_app(scope: Scope, receive: Receive, send: Send) -> None:
        path, root = scope.get("path", ""), scope.get("root_path", "")
        relative = path[len(root) :] if path.startswith(root) else path
        if scope["type"] == "http" and relative.startswith("/static/"):
            await assets(scope, receive, send)
        else:
            await protected(scope, receive, send)

    return console_app


def admin_openapi() -> dict[str, Any]:
    """The admin API's OpenAPI 3.1 document, as served at `/admin/api/v1/openapi.json`."""
    return openapi_document(OPERATIONS, prefix=ADMIN_PATH)


def admin_mount(app: ASGIApp) -> list[BaseRoute]:
    """The routes that put `app` at ADMIN_PATH (`/admin` itself redirects to `/admin/`)."""

    async def to_slash(request: Request) -> Response:
        return RedirectResponse(ADMIN_PATH + "/", status_code=308)

    mount = Mount(ADMIN_PATH, app=app)
    # Every path under /admin/ is the console's, even one with an encoded line break in it
    # (Starlette's pattern would stop at it and leave the request to whatever comes next).
    mount.path_regex = re.compile(mount.path_regex.pattern, re.DOTALL)
    return [Route(ADMIN_PATH, to_slash), mount]


__all__ = [
    "ADMIN_PATH",
    "ADMIN_ROUTE",
    "STATIC_FILES",
    "admin_mount",
    "admin_openapi",
    "create_admin_app",
]
