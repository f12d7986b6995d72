"""The Node peer fixtures, for the self-check here (other suites import them the same way)."""

from __future__ import annotations

from tests.peers.fixtures import node_peers, start_upstream_op

__all__ = ["node_peers", "start_upstream_op"]
