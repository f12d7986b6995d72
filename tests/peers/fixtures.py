"""Pytest fixtures for the Node peers; import them into a conftest.py that needs them.

from tests.peers.fixtures import node_peers, start_upstream_op

__all__ = ["node_peers", "start_upstream_op"]  # re-exported fixtures, not unused imports
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import pytest

from tests.peers._node import UpstreamOP, ensure_node_modules, upstream_op


class StartUpstreamOP(Protocol):
    """Starts an upstream OP that the fixture stops at teardown."""

    def __call__(
        self,
        *,
        clients: Sequence[Mapping[str, Any]],
        accounts: Mapping[str, Mapping[str, Any]],
        options: Mapping[str, Any] | None = None,
    ) -> UpstreamOP: ...


@pytest.fixture(scope="session")
def node_peers() -> None:
    """`npm ci` once per session (skips, or fails under CI, when Node.js is missing)."""
    ensure_node_modules()


@pytest.fixture
def start_upstream_op(node_peers: None) -> Iterator[StartUpstreamOP]:
    """`start_upstream_op(clients=..., accounts=...) -> UpstreamOP`, stopped after the test."""
    with contextlib.ExitStack() as stack:

        def start(
            *,
            clients: Sequence[Mapping[str, Any]],
            accounts: Mapping[str, Mapping[str, Any]],
            options: Mapping[str, Any] | None = None,
        ) -> UpstreamOP:
            return stack.enter_context(
                upstream_op(clients=clients, accounts=accounts, options=options)
            )

        yield start
