"""Fixtures for the Envoy tests: the stand-in upstream and check service, served on loopback for
the whole session and reset before each test; a scratch directory per Envoy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from envoy_support import CheckStandIn, Upstream

from tests._serve import loopback_socket, serving


@pytest.fixture(scope="session")
def _upstream_server() -> Iterator[tuple[Upstream, str]]:
    upstream = Upstream()
    with loopback_socket() as (sock, url), serving(upstream.app(), sock):
        yield upstream, url


@pytest.fixture(scope="session")
def _check_server() -> Iterator[tuple[CheckStandIn, str]]:
    check = CheckStandIn()
    with loopback_socket() as (sock, url), serving(check.app(), sock):
        yield check, url
        check.release.set()


@pytest.fixture
def upstream(_upstream_server: tuple[Upstream, str]) -> Upstream:
    _upstream_server[0].reset()
    return _upstream_server[0]


@pytest.fixture
def upstream_url(_upstream_server: tuple[Upstream, str]) -> str:
    return _upstream_server[1]


@pytest.fixture
def check(_check_server: tuple[CheckStandIn, str]) -> Iterator[CheckStandIn]:
    _check_server[0].reset()
    yield _check_server[0]
    _check_server[0].release.set()  # a slow answer still pending ends now


@pytest.fixture
def check_url(_check_server: tuple[CheckStandIn, str]) -> str:
    return _check_server[1]
