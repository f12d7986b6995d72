"""A websocket route end to end: a real Envoy, the real check service and a websocket echo app.

The upgrade request is checked like any other (a signed-in employee may read `wiki-web`); a
client without credentials never gets its 101, and a route without `websockets` refuses the
upgrade even for a signed-in user. Envoy, the check service and the app run on loopback ports
the OS handed out; Envoy is stopped by its own PID when each test ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from envoy_support import Upstream, make_gateway, run
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests._serve import loopback_socket, serving
from tests.gateway.check._support import CheckWorld, make_world
from zerogate.gateway.check import create_app
from zerogate.gateway.envoy import EnvoyProcess, Gateway, Route
from zerogate.store import open_store

pytestmark = pytest.mark.e2e

POLICY = "wiki-web"  # a Route of the example policies: employees may read it
WS_HOST = "127.0.0.1"  # the websocket route's host
PLAIN_HOST = "localhost"  # a route to the same app without websockets


@pytest.fixture
def world(make_database: Callable[..., str]) -> Iterator[CheckWorld]:
    store = open_store(make_database("sqlite"))
    try:
        yield make_world(store)
    finally:
        store.close()


@pytest.fixture
def check_url(world: CheckWorld) -> Iterator[str]:
    with loopback_socket() as (sock, url), serving(create_app(world.checker), sock):
        yield url


@pytest.fixture
def gateway(check_url: str, upstream_url: str) -> Gateway:
    return make_gateway(
        check_url,
        Route(
            "chat",
            hosts=(WS_HOST,),
            path_prefix="/ws",
            upstream=upstream_url,
            resource_id=POLICY,
            websockets=True,
        ),
        Route("wiki", hosts=(PLAIN_HOST,), upstream=upstream_url, resource_id=POLICY),
    )


@asynccontextmanager
async def envoy_for(gateway: Gateway, tmp_path: Path) -> AsyncIterator[int]:
    """A started Envoy for `gateway`; yields its listen port."""
    async with EnvoyProcess(gateway, workdir=tmp_path / "envoy"):
        yield gateway.listen_port


async def upgrade_status(uri: str, headers: dict[str, str]) -> int:
    """The answer to a websocket upgrade: 101 if it was accepted, else the refusal's status."""
    try:
        async with connect(uri, additional_headers=headers, proxy=None):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def test_envoy_websocket_signed_in_user_upgrades_and_the_app_knows_who(
    tmp_path: Path, world: CheckWorld, gateway: Gateway, upstream: Upstream
) -> None:
    ada = world.add_user("ada", "employees")
    cookie = world.sign_in(ada)

    async def scenario() -> list[str]:
        async with envoy_for(gateway, tmp_path) as port:
            uri = f"ws://{WS_HOST}:{port}/ws"
            async with connect(uri, additional_headers={"cookie": cookie}, proxy=None) as ws:
                replies = []
                for text in ("hello", "again"):
                    await ws.send(text)
                    replies.append(str(await ws.recv()))
                return replies

    assert run(scenario()) == ["ada:hello", "ada:again"]  # the check's identity, upstream
    (record,) = world.records
    assert (record.verdict, record.route, record.action) == ("allow", POLICY, "GET")


def test_envoy_websocket_upgrade_without_credentials_gets_no_101(
    tmp_path: Path, world: CheckWorld, gateway: Gateway, upstream: Upstream
) -> None:
    async def scenario() -> int:
        async with envoy_for(gateway, tmp_path) as port:
            spoofed = {"x-zerogate-user": "mallory"}  # a forged identity changes nothing
            return await upgrade_status(f"ws://{WS_HOST}:{port}/ws", spoofed)

    assert run(scenario()) == 401  # no browser Accept: the API answer, a Bearer challenge
    assert upstream.seen == []
    assert world.records[-1].reason == "no_credentials"


def test_envoy_websocket_upgrade_refused_on_a_route_without_websockets(
    tmp_path: Path, world: CheckWorld, gateway: Gateway, upstream: Upstream
) -> None:
    ada = world.add_user("ada", "employees")
    cookie = world.sign_in(ada)

    async def scenario() -> int:
        async with envoy_for(gateway, tmp_path) as port:
            return await upgrade_status(f"ws://{PLAIN_HOST}:{port}/ws", {"cookie": cookie})

    status = run(scenario())
    assert status != 101
    assert status >= 400
    assert upstream.seen == []  # the app never saw the upgrade
