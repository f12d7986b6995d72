"""The demo application `zerogate up` puts behind the gateway: it shows who the gateway says
is calling, so a newcomer sees identity arrive at an app that has no login code of its own.

It trusts nothing but the gateway's signed assertion, checked with `zerogate.sdk` exactly as
an application would (keys from the IdP's JWKS URL, `aud` = its route)."""

from __future__ import annotations

import html
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from zerogate.sdk import AssertionMiddleware, require_assertion

IDENTITY_PREFIX = "x-zerogate-"


def _identity(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k.startswith(IDENTITY_PREFIX)}


async def _page(request: Request) -> Response:
    seen = _identity(request)
    who = require_assertion(request)
    user = html.escape(who.username)
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(v[:120])}</code></td></tr>"
        for k, v in sorted(seen.items())
    )
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Zerogate demo app</title>"
        f"<h1>Hello, {user}</h1><p>This app has no login code. The gateway checked who you are "
        "and what policy allows, then passed these headers; the signed assertion among them "
        f"verified with zerogate.sdk (groups: {html.escape(', '.join(who.groups))}).</p>"
        f"<table>{rows}</table><p>Path: <code>{html.escape(request.url.path)}</code></p>"
    )
    return HTMLResponse(body, headers={"cache-control": "no-store"})


async def _whoami(request: Request) -> Response:
    who = require_assertion(request)
    verified = {"sub": who.subject, "username": who.username, "groups": list(who.groups)}
    body = orjson.dumps(
        {"path": request.url.path, "verified": verified, "identity": _identity(request)}
    )
    return Response(body, media_type="application/json", headers={"cache-control": "no-store"})


def demo_app(*, issuer: str, audience: str) -> Any:
    app = Starlette(
        routes=[
            Route("/api/whoami", _whoami, methods=["GET", "POST"]),
            Route("/{path:path}", _page, methods=["GET", "POST", "HEAD"]),
        ]
    )
    return AssertionMiddleware(
        app, jwks_url=f"{issuer}/jwks.json", issuer=issuer, audience=audience
    )
