"""The Node peer fixtures (a real oidc-provider upstream) for the federation tests."""

from __future__ import annotations

from tests.peers.fixtures import node_peers, start_upstream_op

__all__ = ["node_peers", "start_upstream_op"]
