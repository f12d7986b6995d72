"""The check inside the app (ASGI and WSGI): the same answers as behind a proxy, the same
headers for the app, and no client copy of an `x-zerogate-*` header gets through."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.gateway.check._support import APP_HOST, BROWSER, LOGIN_URL, CheckWorld
from zerogate.gateway.check import CheckMiddleware, CheckResult, CheckWSGIMiddleware

ROUTE = "wiki-web"  # the example policies: employees may read it, engineering may edit


def _asgi_app() -> Starlette:
    async def page(request: Request) -> JSONResponse:
        result = request.scope["zerogate.check"]
        assert isinstance(result, CheckResult)
        seen = {k: v for k, v in request.headers.items() if k.startswith("x-zerogate-")}
        return JSONResponse({"seen": seen, "decision": result.decision_id})

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.headers.get("x-zerogate-user", ""))
        await websocket.close()

    return Starlette(
        routes=[
            Route("/{path:path}", page, methods=["GET", "POST", "DELETE"]),
            WebSocketRoute("/ws", echo),
        ]
    )


def _client(world: CheckWorld) -> TestClient:
    app = CheckMiddleware(_asgi_app(), world.checker, route=ROUTE)
    return TestClient(
        app,
        base_url=f"https://{APP_HOST}",
        follow_redirects=False,
        client=("198.51.100.7", 50000),
    )


def test_asgi_allowed_requests_reach_the_app_with_the_checks_headers_only(
    world: CheckWorld,
) -> None:
    alice = world.add_user("alice", "engineering")
    cookie = world.sign_in(alice)
    with _client(world) as client:
        response = client.get(
            "/pages/Home",
            headers={"cookie": cookie, "x-zerogate-user": "mallory", "x-zerogate-groups": "admins"},
        )
    assert response.status_code == 200
    seen = response.json()["seen"]
    assert seen["x-zerogate-user"] == "alice"
    assert seen["x-zerogate-groups"] == "engineering"
    assert seen["x-zerogate-decision-id"] == response.json()["decision"]
    [record] = world.records
    assert (record.route, record.action, record.principal) == (ROUTE, "GET", 'User::"alice"')


def test_asgi_refusals_are_the_same_answers_the_gateway_gives(world: CheckWorld) -> None:
    bob = world.add_user("bob", "contractors")
    with _client(world) as client:
        browser = client.get("/pages/Home", headers={"accept": BROWSER})
        api = client.get("/api", headers={"accept": "application/json"})
        denied = client.get(
            "/pages/Home", headers={"cookie": world.sign_in(bob), "accept": BROWSER}
        )
    assert browser.status_code == 302
    assert browser.headers["location"].startswith(f"{LOGIN_URL}?")
    assert api.status_code == 401
    assert api.headers["www-authenticate"].startswith("Bearer")
    assert denied.status_code == 403
    assert denied.headers["x-zerogate-decision-id"]
    assert "text/html" in denied.headers["content-type"]


def test_asgi_websocket_handshakes_are_checked(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    cookie = world.sign_in(alice)
    with _client(world) as client:
        with client.websocket_connect("/ws", headers={"cookie": cookie}) as ws:
            assert ws.receive_text() == "alice"
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws"):
            pass
    assert refused.value.code == 1008


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    seen = {k: v for k, v in environ.items() if k.startswith("HTTP_X_ZEROGATE_")}
    start_response("200 OK", [("content-type", "text/plain")])
    return [repr(sorted(seen.items())).encode()]


def test_wsgi_checks_each_request_the_same_way(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    cookie = world.sign_in(alice)
    middleware = CheckWSGIMiddleware(_wsgi_app, world.checker, route=ROUTE)
    try:
        transport = httpx.WSGITransport(app=middleware, remote_addr="198.51.100.7")
        with httpx.Client(transport=transport, base_url=f"https://{APP_HOST}") as client:
            ok = client.get("/pages/Home", headers={"cookie": cookie, "x-zerogate-user": "mallory"})
            api = client.get("/pages/Home")
    finally:
        middleware.close()
    assert ok.status_code == 200
    assert "('HTTP_X_ZEROGATE_USER', 'alice')" in ok.text
    assert "mallory" not in ok.text
    assert api.status_code == 401
    assert world.records[0].client_ip == "198.51.100.7"
