"""Fixtures for the real-proxy tests: the real check service (SQLite store, example policies,
real sessions and directory) and the echoing app, each served on its own loopback port."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

from tests._serve import loopback_socket, serving
from tests.gateway.check._support import CheckWorld, make_world
from tests.gateway.forward_auth._stack import CheckService, Echo
from zerogate.gateway.check import create_forward_auth_app
from zerogate.store import open_store


@pytest.fixture
def world(make_database: Callable[..., str]) -> Iterator[CheckWorld]:
    store = open_store(make_database("sqlite"))
    try:
        yield make_world(store)
    finally:
        store.close()


@pytest.fixture
def echo() -> Echo:
    return Echo()


@pytest.fixture
def app_url(echo: Echo) -> Iterator[str]:
    with loopback_socket() as (sock, url), serving(echo.app(), sock):
        yield url


@pytest.fixture
def check_service(world: CheckWorld) -> Iterator[CheckService]:
    with contextlib.ExitStack() as stack:  # closing it again after stop() does nothing
        sock, url = stack.enter_context(loopback_socket())
        stack.enter_context(serving(create_forward_auth_app(world.checker), sock))
        yield CheckService(url, stack)
