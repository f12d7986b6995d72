"""Fixtures for the AuthZEN API: the example bundle, a PDP on a fixed clock, and test clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from authzen_support import EXAMPLES
from starlette.testclient import TestClient

from zerogate.authzen import create_app
from zerogate.clock import FixedClock
from zerogate.policy import PDP, Bundle, CompiledBundle, compile_bundle


@pytest.fixture(scope="session")
def compiled() -> CompiledBundle:
    return compile_bundle(Bundle.from_dir(EXAMPLES))


@pytest.fixture
def pdp(compiled: CompiledBundle) -> PDP:
    return PDP(compiled, clock=FixedClock())


@pytest.fixture
def make_client(pdp: PDP) -> Iterator[Callable[..., TestClient]]:
    """`make_client([other_pdp], **create_app_kwargs)`: a started TestClient, closed after."""
    with ExitStack() as stack:

        def make(other: PDP | None = None, /, **kwargs: Any) -> TestClient:
            client = TestClient(create_app(other or pdp, **kwargs))
            return stack.enter_context(client)

        yield make


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()
