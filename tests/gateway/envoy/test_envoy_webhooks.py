"""Webhook routes through a real Envoy and the real check service: Envoy sends the body (only for
webhook routes, whole or 413), the check verifies its HMAC, and the upstream gets it intact.

Envoy, the check service and the upstream all run on loopback ports the OS handed out; Envoy is
stopped by its own PID when each test ends.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from envoy_support import make_gateway, run
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route as HTTPRoute

from tests._serve import loopback_socket, serving
from tests.gateway.check._support import make_world
from zerogate.clock import SystemClock
from zerogate.errors import ConfigError
from zerogate.gateway.check import (
    MAX_WEBHOOK_BODY_BYTES,
    WEBHOOK_HEADER,
    Checker,
    CheckRecord,
    ReplayCache,
    WebhookVerifier,
    create_app,
)
from zerogate.gateway.envoy import EnvoyProcess, Gateway, Route, build_route_config, check_config
from zerogate.store import Store, open_store

pytestmark = pytest.mark.e2e

SECRET = "whsec-e2e-0123456789abcdefghijklmnopqrstuv"
SIG = "zerogate-signature"
TS = "zerogate-timestamp"
HOST = "hooks.test"
RESOURCE = "payments-hooks"
PER_ROUTE = "envoy.filters.http.ext_authz"


def sign(
    body: bytes, *, path: str, method: str = "POST", timestamp: int | None = None
) -> dict[str, str]:
    """A sender's headers for this request (docs/gateway.md, "Webhook routes")."""
    ts = int(time.time()) if timestamp is None else timestamp
    message = f"{ts}.{method}.{path}.".encode() + body
    digest = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    return {SIG: f"v1={digest}", TS: str(ts)}


@dataclass
class Received:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """The webhook's upstream: records each request with its body."""

    seen: list[Received] = field(default_factory=list)

    def app(self) -> Starlette:
        async def receive(request: Request) -> Response:
            body = await request.body()
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            self.seen.append(Received(request.method, path, body, dict(request.headers)))
            return PlainTextResponse("received\n")

        methods = ["POST", "PUT", "GET"]
        return Starlette(routes=[HTTPRoute("/{path:path}", receive, methods=methods)])


@pytest.fixture
def sqlite_store(make_database: Callable[..., str]) -> Iterator[Store]:
    opened = open_store(make_database("sqlite"))
    try:
        yield opened
    finally:
        opened.close()


@dataclass
class Services:
    receiver: Receiver
    records: list[CheckRecord]
    check_url: str
    upstream_url: str


@pytest.fixture
def services(sqlite_store: Store) -> Iterator[Services]:
    """The real check service (with one webhook route) and a recording upstream."""
    world = make_world(sqlite_store)
    clock = SystemClock()
    verifier = WebhookVerifier(
        [SECRET],
        tolerance_s=300,
        signature_header=SIG,
        timestamp_header=TS,
        clock=clock,
        replay_cache=ReplayCache(clock=clock),
    )
    records: list[CheckRecord] = []
    checker = Checker(
        world.pdp,
        world.sessions,
        world.directory,
        world.ring,
        issuer="https://login.zerogate.test",
        clock=clock,
        login_url="https://login.zerogate.test/login",
        webhooks={RESOURCE: verifier},
        on_decision=records.append,
    )
    receiver = Receiver()
    with (
        loopback_socket() as (check_sock, check_url),
        loopback_socket() as (up_sock, upstream_url),
        serving(create_app(checker), check_sock),
        serving(receiver.app(), up_sock),
    ):
        yield Services(receiver, records, check_url, upstream_url)


def hooks_route(upstream_url: str, **options: Any) -> Route:
    return Route(
        "payments",
        hosts=(HOST,),
        path_prefix="/hooks",
        upstream=upstream_url,
        resource_id=RESOURCE,
        pass_headers=(SIG, TS),
        check_body_max_bytes=MAX_WEBHOOK_BODY_BYTES,
        **options,
    )


@asynccontextmanager
async def gateway_client(gateway: Gateway, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    envoy = EnvoyProcess(gateway, workdir=tmp_path / "envoy")
    await envoy.start()
    try:
        base = f"http://127.0.0.1:{gateway.listen_port}"
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=10) as http:
            yield http
    finally:
        await envoy.aclose()


def test_envoy_webhook_signed_body_arrives_intact_and_a_replay_is_refused(
    tmp_path: Path, services: Services
) -> None:
    gateway = make_gateway(services.check_url, hooks_route(services.upstream_url))
    body = b'{"event":"payment.succeeded","amount":4200}\n\xff\x00 not utf-8 \x80'
    path = "/hooks/payments?attempt=1"
    headers = {"host": HOST, "content-type": "application/json", **sign(body, path=path)}

    async def scenario() -> list[httpx.Response]:
        async with gateway_client(gateway, tmp_path) as http:
            first = await http.post(path, content=body, headers=headers)
            replay = await http.post(path, content=body, headers=headers)
            unsigned = await http.post(path, content=body, headers={"host": HOST})
            return [first, replay, unsigned]

    first, replay, unsigned = run(scenario())
    assert first.status_code == 200
    assert first.text == "received\n"
    (received,) = services.receiver.seen  # the replay and the unsigned post never arrived
    assert (received.method, received.path, received.body) == ("POST", path, body)
    assert received.headers[WEBHOOK_HEADER] == "verified"
    assert "x-zerogate-user" not in received.headers
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_signature"
    assert unsigned.status_code == 401
    reasons = [(r.reason, r.status) for r in services.records]
    assert reasons == [
        ("webhook_verified", 200),
        ("webhook_replayed", 401),
        ("webhook_signature_missing", 401),
    ]


def test_envoy_webhook_body_over_the_cap_gets_413_and_reaches_no_one(
    tmp_path: Path, services: Services
) -> None:
    gateway = make_gateway(services.check_url, hooks_route(services.upstream_url))
    big = b"x" * (MAX_WEBHOOK_BODY_BYTES + 1)
    path = "/hooks/payments"

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: Envoy counts as it buffers
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    async def scenario() -> list[int]:
        async with gateway_client(gateway, tmp_path) as http:
            sized = await http.post(
                path, content=big, headers={"host": HOST, **sign(big, path=path)}
            )
            streamed = await http.post(
                path, content=chunks(), headers={"host": HOST, **sign(big, path=path)}
            )
            exact = big[:-1]
            fits = await http.post(
                path, content=exact, headers={"host": HOST, **sign(exact, path=path)}
            )
            return [sized.status_code, streamed.status_code, fits.status_code]

    assert run(scenario()) == [413, 413, 200]
    assert [len(r.body) for r in services.receiver.seen] == [MAX_WEBHOOK_BODY_BYTES]
    assert [r.reason for r in services.records] == ["webhook_verified"]  # 413s never asked


def test_envoy_sends_bodies_to_the_check_only_for_webhook_routes() -> None:
    gateway = make_gateway(
        "http://127.0.0.1:9191",
        hooks_route("http://127.0.0.1:3001"),
        Route("app", hosts=(HOST,), path_prefix="/app", upstream="http://127.0.0.1:3000"),
    )
    routes = {
        r["name"]: r["typed_per_filter_config"][PER_ROUTE]
        for vh in build_route_config(gateway)["virtual_hosts"]
        for r in vh["routes"]
    }
    assert routes["payments"]["check_settings"]["with_request_body"] == {
        "max_request_bytes": MAX_WEBHOOK_BODY_BYTES,
        "allow_partial_message": False,
        "pack_as_bytes": True,
    }
    assert "with_request_body" not in routes["app"]["check_settings"]
    run(check_config(gateway))  # and Envoy itself accepts it


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"check_body_max_bytes": -1}, "0 (no body"),
        ({"check_body_max_bytes": 64 << 20}, "0 (no body"),
        ({"check_body_max_bytes": 1024, "allow_public": True}, "never checked"),
    ],
)
def test_envoy_route_refuses_impossible_body_settings(
    options: dict[str, Any], message: str
) -> None:
    route = Route("hooks", hosts=(HOST,), upstream="http://127.0.0.1:3001", **options)
    with pytest.raises(ConfigError) as raised:
        make_gateway("http://127.0.0.1:9191", route)
    (detail,) = raised.value.details
    assert detail.loc == "routes.hooks.check_body_max_bytes"
    assert message in detail.msg
